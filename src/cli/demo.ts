// `fare demo`: the paper's story on this machine. For each policy (fare, then hermod) it starts Fare
// (`fare up` in a child process, a fresh data dir), sends a steady stream of page views (high class)
// and profile views (middle) first alone, then under a flood of image resizes (low class) far beyond
// the machine's cores, and prints per-class p50/p99 latency side by side.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parse, UsageError } from './args.ts';
import { floodInWorker, invokeOnce, percentile, steady, type StreamResult, type Target } from './loadgen.ts';

/** What the demo compares, said before it runs and in --help. */
const WHAT = `Fare schedules by price class: a job of a dearer class runs first and preempts cheaper ones.
Hermod (SoCC '22, a state-of-the-art serverless scheduler) is class-blind: it places jobs on the least
loaded machine and shares each machine's cores among all its jobs. The demo runs the same functions
under both: page views (class high) and profile views (middle) at a steady rate, first alone, then
under a flood of image resizes (class low) far beyond the cores.`;

const HELP = `fare demo [--seconds 10] [--rate 20] [--flood N]

${WHAT}
It starts Fare twice on this machine (policy fare, then hermod), each with a fresh data dir, and prints
p50/p99 latency per class, failed requests, and what each class cost (from Fare's bill).
--flood: concurrent image resizes (default 16 × cores).`;

const KEY = 'FAREDEMOADMIN0000000:demo-secret-demo-secret';

export async function runDemo(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { seconds: { type: 'string', default: '10' }, rate: { type: 'string', default: '20' }, flood: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  const floodN = values.flood === undefined ? 16 * availableParallelism() : Number(values.flood);
  if (!(seconds >= 1 && seconds <= 600)) throw new UsageError('--seconds must be from 1 to 600');
  if (!(rate > 0 && rate <= 1000)) throw new UsageError('--rate must be from 0 to 1000 page views per second');
  if (!(Number.isInteger(floodN) && floodN >= 1 && floodN <= 2000)) throw new UsageError('--flood must be a whole number from 1 to 2000');
  process.stderr.write(`${WHAT}\n`);
  const results: Record<string, DemoRun> = {};
  for (const policy of ['fare', 'hermod'] as const) {
    process.stderr.write(`\n▶ policy ${policy}: starting Fare…\n`);
    results[policy] = await runPolicy(policy, seconds, rate, floodN);
  }
  printTable(results, seconds, rate, floodN);
  return 0;
}

export interface DemoRun {
  readonly alone: StreamResult[];
  readonly flooded: StreamResult[];
  readonly floodCompleted: number;
  readonly floodErrors: number;
  /** µ¢ billed per class during the run (Fare's bill for the tenant that owns the examples). */
  readonly costByClass: Readonly<Record<string, number>>;
}

/** `upArgs`: more `fare up` options (the benchmark compares settings with them). */
export async function runPolicy(policy: 'fare' | 'hermod', seconds: number, rate: number, floodN: number, upArgs: readonly string[] = []): Promise<DemoRun> {
  const dir = mkdtempSync(join(tmpdir(), `fare-demo-${policy}-`));
  const { child, url } = await startFare(policy, dir, upArgs);
  try {
    const t: Target = { url, key: KEY };
    // Warm every function once so cold starts are not measured as scheduling.
    for (const fn of ['page-view', 'profile-view', 'image-resize']) await invokeOnce(t, fn, '{}');
    const ms = seconds * 1000;
    process.stderr.write(`  ${seconds} s of page views alone…\n`);
    const alone = await Promise.all([steady(t, 'high: page-view', 'page-view', '{"user":"ada"}', rate, ms), steady(t, 'middle: profile-view', 'profile-view', '{"user":"bo"}', rate / 2, ms)]);
    process.stderr.write(`  ${seconds} s of page views under a flood of ${floodN} image resizes…\n`);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const floodRun = floodInWorker(t, 'image-resize', '{}', floodN, stopped);
    // Its failure is thrown below, where `finally` stops Fare: not as an unhandled rejection meanwhile, leaving Fare running.
    floodRun.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000)); // let the flood build up
    const flooded = await Promise.all([steady(t, 'high: page-view', 'page-view', '{"user":"ada"}', rate, ms), steady(t, 'middle: profile-view', 'profile-view', '{"user":"bo"}', rate / 2, ms)]);
    stop();
    const f = await floodRun;
    return { alone, flooded, floodCompleted: f.completed, floodErrors: f.errors, costByClass: await costByClass(url) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** µ¢ per class on this month's bill of the admin tenant (which owns the examples); billing follows answers by a moment. */
async function costByClass(url: string): Promise<Record<string, number>> {
  await new Promise((r) => setTimeout(r, 500));
  try {
    const r = await fetch(`${url}/v1/bill`, { headers: { Authorization: `Bearer ${KEY}` } });
    const bill = (await r.json()) as { functions?: { classes?: { cls: string; costMicroCents: number }[] }[] };
    const out: Record<string, number> = {};
    for (const f of bill.functions ?? []) for (const c of f.classes ?? []) out[c.cls] = (out[c.cls] ?? 0) + c.costMicroCents;
    return out;
  } catch {
    return {};
  }
}

/** The `fare up`s started here and not yet exited: stopped with the demo when it is told to stop (SIGINT, SIGTERM). */
const started = new Set<ChildProcess>();
let stopsThem = false;

function stopThemOnSignal(): void {
  if (stopsThem) return;
  stopsThem = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      for (const c of started) c.kill('SIGTERM');
      process.exit(code);
    });
  }
}

function startFare(policy: string, dir: string, upArgs: readonly string[]): Promise<{ child: ChildProcess; url: string }> {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'fare.js');
  stopThemOnSignal();
  const child = spawn(process.execPath, [bin, 'up', '--port', '0', '--data-dir', dir, '--policy', policy, ...upArgs], { env: { ...process.env, FARE_ADMIN_KEY: KEY }, stdio: ['ignore', 'pipe', 'inherit'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return new Promise((done, fail) => {
    let text = '';
    const out = child.stdout;
    // Until it says where it listens; then its log lines are drained unread (this process is the
    // client whose latencies are measured: scanning them would cost it time per request).
    const onData = (c: Buffer): void => {
      text += c.toString('utf8');
      const m = /Fare is up: (http:\/\/\S+)/.exec(text);
      if (m) {
        out?.off('data', onData);
        out?.resume();
        done({ child, url: m[1] as string });
      }
    };
    out?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`fare up exited with code ${String(code)} before it was ready:\n${text}`)));
  });
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');

function printTable(r: Record<string, DemoRun>, seconds: number, rate: number, floodN: number): void {
  const lines: string[] = [];
  lines.push('', `Per-class latency (ms, client side), ${seconds} s at ${rate} page views/s and ${rate / 2} profile views/s; flood: ${floodN} concurrent image resizes`, '');
  lines.push(`${'class: function'.padEnd(24)}${'phase'.padEnd(10)}${'fare p50'.padStart(10)}${'fare p99'.padStart(10)}${'hermod p50'.padStart(12)}${'hermod p99'.padStart(12)}${'failed (fare/hermod)'.padStart(22)}`);
  for (const phase of ['alone', 'flooded'] as const) {
    const names = r.fare?.[phase].map((s) => s.name) ?? [];
    for (const name of names) {
      const a = r.fare?.[phase].find((s) => s.name === name);
      const b = r.hermod?.[phase].find((s) => s.name === name);
      const failed = `${a?.errors ?? 0} / ${b?.errors ?? 0}`;
      lines.push(`${name.padEnd(24)}${phase.padEnd(10)}${fmt(percentile(a?.latencies ?? [], 0.5)).padStart(10)}${fmt(percentile(a?.latencies ?? [], 0.99)).padStart(10)}${fmt(percentile(b?.latencies ?? [], 0.5)).padStart(12)}${fmt(percentile(b?.latencies ?? [], 0.99)).padStart(12)}${failed.padStart(22)}`);
    }
  }
  const iso = (p: string): number => percentile(r[p]?.flooded[0]?.latencies ?? [], 0.99) / percentile(r[p]?.alone[0]?.latencies ?? [], 0.99);
  lines.push('', `Isolation (high-class p99 under the flood ÷ alone): fare ${fmt(iso('fare'))}×, hermod ${fmt(iso('hermod'))}×`);
  lines.push(`Image resizes completed during the flood: fare ${r.fare?.floodCompleted ?? 0}, hermod ${r.hermod?.floodCompleted ?? 0} (failed: fare ${r.fare?.floodErrors ?? 0}, hermod ${r.hermod?.floodErrors ?? 0})`);
  // Dearest class first (the default price table's order), any other after.
  const order = ['high', 'middle', 'standard', 'low'];
  const rank = (c: string): number => (order.includes(c) ? order.indexOf(c) : order.length);
  const classes = [...new Set([...Object.keys(r.fare?.costByClass ?? {}), ...Object.keys(r.hermod?.costByClass ?? {})])].sort((x, y) => rank(x) - rank(y));
  if (classes.length > 0) {
    const cost = (p: string, c: string): string => (r[p]?.costByClass[c] ?? 0).toFixed(2);
    lines.push('', 'What each class cost over the whole run (µ¢, as billed: CPU-seconds × the class price + memory):');
    for (const c of classes) lines.push(`  ${c.padEnd(10)} fare ${cost('fare', c).padStart(12)}   hermod ${cost('hermod', c).padStart(12)}`);
  }
  const cores = availableParallelism();
  if (cores > 1) lines.push(`(fare up hands functions ${cores - 1} of this machine's ${cores} cores and keeps one for itself; \`fare up --cores ${cores}\` gives them all, at some cost to the page views under a flood)`);
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n`);
}
