// `npm run bench:replay`: how well the simulator explains the live system. Starts `fare up --record`,
// warms the example functions, then sends open-loop Poisson traffic of two classes through Lambda's
// Invoke API — page views (high) and image resizes (low) — for `--seconds` (default 30); stops Fare,
// drops the warm-up from the recording, and replays it with `fare sim replay`'s code: per class, the
// live p50/p99 latency next to the simulated ones of the recorded policy (goal: within 15 %).
// Prints a table; writes bench/results/replay-<time>.json and replay-latest.json (and keeps the
// recording and the replay's report under bench/results/replay-<time>/ when --keep is given).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_KEY, startFare, stopFare } from '../support/fare-process.ts';
import { runReplay, REPLAY_TOLERANCE } from '../src/sim/experiments/replay.ts';
import { Rng } from '../src/core/rng.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const seconds = arg('seconds', 30);
const highRate = arg('high-rate', 100); // page views per second
const lowRate = arg('low-rate', 40); // image resizes per second
const keep = process.argv.includes('--keep');

const dir = mkdtempSync(join(tmpdir(), 'fare-replay-bench-'));
const file = join(dir, 'traffic.jsonl');
const fare = await startFare(join(dir, 'fare'), ['--record', file]);
const invoke = async (fn: string, body: unknown): Promise<number> => {
  const r = await fetch(`${fare.url}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify(body) });
  await r.arrayBuffer();
  return r.status;
};
let sent = 0;
let failed = 0;
try {
  // Warm: the instances started, the JIT warm; the recording of this is dropped below.
  for (let i = 0; i < 50; i++) await Promise.all([invoke('page-view', { user: `w${i}` }), invoke('image-resize', { width: 512 })]);
  await new Promise((r) => setTimeout(r, 500));
  const warmEnd = Date.now();
  // Open loop: each class's arrivals a Poisson process (seeded), sent on time whatever the answers.
  const rng = new Rng(7);
  const arrivals: { at: number; fn: string; body: unknown }[] = [];
  for (const [fn, rate, body] of [['page-view', highRate, { user: 'u' }], ['image-resize', lowRate, { width: 512 }]] as const) {
    let t = 0;
    for (;;) {
      t += -Math.log(1 - rng.next()) * (1000 / rate);
      if (t >= seconds * 1000) break;
      arrivals.push({ at: t, fn, body });
    }
  }
  arrivals.sort((a, b) => a.at - b.at);
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (const a of arrivals) {
    const wait = a.at - (performance.now() - t0);
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sent++;
    pending.push(invoke(a.fn, a.body).then((s) => { if (s !== 200) failed++; }, () => { failed++; }));
  }
  await Promise.all(pending);
  await stopFare(fare);

  // The recording without the warm-up.
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const header = JSON.parse(lines[0] as string) as { recordedAt: string };
  const cut = warmEnd - Date.parse(header.recordedAt);
  const kept = lines.slice(1).filter((l) => (JSON.parse(l) as { t: number }).t >= cut);
  writeFileSync(file, `${[lines[0], ...kept].join('\n')}\n`);

  const out = join(dir, 'replay');
  const { comparison } = runReplay({ file, seed: 1, out, policies: ['hermod'] });
  const ratio = (s: number | undefined, l: number): number | null => (s === undefined || l <= 0 ? null : s / l);
  const rows = comparison.map((c) => ({ ...c, p50Ratio: ratio(c.simP50, c.liveP50), p99Ratio: ratio(c.simP99, c.liveP99) }));
  const f = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : x.toFixed(x < 10 ? 3 : 1));
  const table = [
    `replay of ${kept.length} invocations (${seconds} s, page-view ${highRate}/s high, image-resize ${lowRate}/s low; ${failed} of ${sent} failed)`,
    'class    n      live p50   sim p50   ratio   live p99   sim p99   ratio',
    ...rows.map((r) => `${r.class.padEnd(8)} ${String(r.invocations).padEnd(6)} ${f(r.liveP50).padStart(8)} ${f(r.simP50).padStart(9)} ${f(r.p50Ratio).padStart(7)} ${f(r.liveP99).padStart(10)} ${f(r.simP99).padStart(9)} ${f(r.p99Ratio).padStart(7)}`),
    `goal: every ratio within 1 ± ${REPLAY_TOLERANCE}`,
  ].join('\n');
  process.stdout.write(`${table}\n\n${readFileSync(join(out, 'summary.md'), 'utf8')}\n`);
  const stamp = new Date().toISOString().replaceAll(':', '-').replaceAll('.', '-');
  const resultsDir = join(import.meta.dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const json = JSON.stringify({ at: new Date().toISOString(), seconds, highRate, lowRate, sent, failed, invocations: kept.length, tolerance: REPLAY_TOLERANCE, comparison: rows }, null, 2);
  writeFileSync(join(resultsDir, `replay-${stamp}.json`), json);
  writeFileSync(join(resultsDir, 'replay-latest.json'), json);
  if (keep) {
    const k = join(resultsDir, `replay-${stamp}`);
    mkdirSync(k, { recursive: true });
    writeFileSync(join(k, 'traffic.jsonl'), readFileSync(file));
    writeFileSync(join(k, 'summary.md'), readFileSync(join(out, 'summary.md')));
  }
} finally {
  await stopFare(fare);
  rmSync(dir, { recursive: true, force: true });
}
