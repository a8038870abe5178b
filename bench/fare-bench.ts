// What the live benchmarks share: deploy a function from source text, and a `fare up` with an empty
// Node.js function deployed and warmed up (its instance started, the JIT warm).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invokeOnce, percentile, type Target } from '../src/cli/loadgen.ts';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

/** Deploys `files` as function `name` (of class `cls`, default the top class) on the Fare at `url`, as the admin. */
export async function deployFunction(url: string, name: string, runtime: string, handler: string, files: Record<string, string>, cls = 'high'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fare-bench-fn-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const r = await api(url, 'PUT', `/v1/functions/${name}`, { runtime, handler, class: cls, zipBase64: zipDirectory(dir).toString('base64') });
  rmSync(dir, { recursive: true, force: true });
  if (r.status >= 300) throw new Error(`deploy ${name}: ${JSON.stringify(r.json)}`);
}

export interface BenchFare {
  readonly fare: FareProcess;
  /** The admin's target, for `invokeOnce` and the load generators. */
  readonly t: Target;
  stop(): Promise<void>;
}

/**
 * A fresh `fare up` (`bin`: which checkout's `fare`, default this one's) with the function `empty`
 * (an async Node.js handler returning null) deployed and called `warmup` times.
 */
export async function fareWithEmpty(opts: { bin?: string; warmup?: number; args?: readonly string[] } = {}): Promise<BenchFare> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fare-bench-'));
  const fare = await startFare(dataDir, ['--no-examples', ...(opts.args ?? [])], { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, opts.bin);
  const t: Target = { url: fare.url, key: ADMIN_KEY };
  try {
    await deployFunction(fare.url, 'empty', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' });
    for (let i = 0; i < (opts.warmup ?? 200); i++) await invokeOnce(t, 'empty', '{}');
  } catch (e) {
    await stopFare(fare);
    throw e;
  }
  return {
    fare,
    t,
    async stop() {
      await stopFare(fare);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Clock ticks per second of /proc's CPU times (USER_HZ), in µs per tick. */
export const TICK_US = 1e6 / 100;

/** User and system CPU time of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
export function cpuTicks(pid: number): [number, number] {
  const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return [Number(f[11]), Number(f[12])];
}

/**
 * One cold start per runtime: deploys `cold-node-<k>` and `cold-py-<k>` (empty handlers) and returns
 * each one's first call minus its second (ms).
 */
export async function coldStarts(t: Target, k: number): Promise<{ nodejs: number; python: number }> {
  await deployFunction(t.url, `cold-node-${k}`, 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => 1;\n' });
  await deployFunction(t.url, `cold-py-${k}`, 'python', 'handler.handler', { 'handler.py': 'def handler(event, context):\n    return 1\n' });
  const first = async (name: string): Promise<number> => {
    const cold = await invokeOnce(t, name, '{}');
    const warm = await invokeOnce(t, name, '{}');
    return cold.ms - warm.ms;
  };
  const nodejs = await first(`cold-node-${k}`);
  return { nodejs, python: await first(`cold-py-${k}`) };
}

export interface ColdStartRow {
  /** `stem cells` (`fare up` as it starts) or `--no-stem-cells`. */
  readonly side: string;
  readonly runtime: 'node' | 'python';
  readonly p50: number;
  readonly p99: number;
  readonly samples: readonly number[];
}

/**
 * Cold starts with stem cells and without (`fare up --no-stem-cells`), in one run: two `fare up`s side
 * by side; each round deploys a new empty Node.js and Python function on each and calls each twice
 * (`coldStarts`), alternating which side goes first, then waits `gapMs`: the time a machine with
 * sparse cold starts gives its stem cells to refill. p50 and p99 by nearest rank.
 */
export async function coldStartComparison(rounds: number, gapMs: number, onRound?: (line: string) => void): Promise<ColdStartRow[]> {
  interface Side { readonly label: string; readonly fare: FareProcess; readonly dataDir: string; readonly t: Target; readonly node: number[]; readonly python: number[] }
  const start = async (label: string, args: readonly string[]): Promise<Side> => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fare-cold-'));
    const fare = await startFare(dataDir, ['--no-examples', ...args]);
    const t: Target = { url: fare.url, key: ADMIN_KEY };
    // Warm Fare's own path first (its JIT, the first deploy), as fareWithEmpty does.
    await deployFunction(fare.url, 'empty', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' });
    for (let i = 0; i < 200; i++) await invokeOnce(t, 'empty', '{}');
    return { label, fare, dataDir, t, node: [], python: [] };
  };
  const sides: Side[] = [];
  try {
    sides.push(await start('stem cells', []));
    sides.push(await start('--no-stem-cells', ['--no-stem-cells']));
    const [stem, plain] = sides as [Side, Side];
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? [stem, plain] : [plain, stem]) {
        const c = await coldStarts(s.t, r);
        s.node.push(c.nodejs);
        s.python.push(c.python);
      }
      onRound?.(`round ${r + 1}/${rounds}: node ${stem.node.at(-1)?.toFixed(1)} vs ${plain.node.at(-1)?.toFixed(1)} ms, python ${stem.python.at(-1)?.toFixed(1)} vs ${plain.python.at(-1)?.toFixed(1)} ms`);
      await new Promise((done) => setTimeout(done, gapMs));
    }
  } finally {
    for (const s of sides) {
      await stopFare(s.fare);
      rmSync(s.dataDir, { recursive: true, force: true });
    }
  }
  return sides.flatMap((s) => (['node', 'python'] as const).map((rt) => ({ side: s.label, runtime: rt, p50: percentile(s[rt], 0.5), p99: percentile(s[rt], 0.99), samples: s[rt] })));
}
