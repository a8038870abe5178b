// The soak benchmark (issue 18, "bounded under sustained load"): a real `fare up` under mixed load
// for N minutes — synchronous calls of a function of each class at fixed rates (open loop) and
// Events of each — sampled every few seconds: the fare process's RSS, the WAL file, the database
// file, the whole data dir, p99 latency per class, errors, and async invocations accepted but not
// (yet) seen complete. Every accepted Event must complete: at the end the load stops and the rest
// are waited for; those that never complete are reported lost. A short `--retention` (default 1m)
// makes the retention clean-up run within a soak of a few minutes.
//
// Usage: node --import tsx bench/soak.ts --minutes N [--retention 1m] [--rate-scale 1] [--sample-s 5] [--flood C]
// (--flood C: C more connections calling the top class back to back, for the most writes)
// Writes bench/results/soak-<time>.json, soak-latest.json and the charts soak-<time>-sizes and
// soak-<time>-latency (SVG and PNG).

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { invokeOnce, percentile, type Target } from '../src/cli/loadgen.ts';
import { WAL_LIMIT_BYTES } from '../src/live/store/checkpointer.ts';
import { DB_FILE } from '../src/live/store/store.ts';
import { lineChart, writeChart } from '../src/sim/report/charts.ts';
import { ADMIN_KEY, api, startFare, stopFare } from '../support/fare-process.ts';
import { deployFunction } from './fare-bench.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    retention: { type: 'string', default: '1m' },
    'rate-scale': { type: 'string', default: '1' },
    'sample-s': { type: 'string', default: '5' },
    flood: { type: 'string', default: '0' },
  },
});
const minutes = Number(values.minutes);
const scale = Number(values['rate-scale']);
const sampleS = Number(values['sample-s']);
const floodConns = Number(values.flood);
if (!(minutes > 0) || !(scale > 0) || !(sampleS >= 1) || !Number.isInteger(floodConns) || floodConns < 0) {
  process.stderr.write('usage: node --import tsx bench/soak.ts --minutes N [--retention 1m] [--rate-scale 1] [--sample-s 5] [--flood C] (N > 0, scale > 0, sample ≥ 1 s, C ≥ 0 connections)\n');
  process.exit(2);
}

/** Per class: the function's work (a loop of `spin` iterations, a log line) and the rates of sync calls and Events. */
const CLASSES = [
  { cls: 'high', spin: 0, syncPerS: 40, asyncPerS: 5 },
  { cls: 'middle', spin: 10_000, syncPerS: 20, asyncPerS: 5 },
  { cls: 'standard', spin: 20_000, syncPerS: 15, asyncPerS: 5 },
  { cls: 'low', spin: 50_000, syncPerS: 10, asyncPerS: 5 },
] as const;
const fnOf = (cls: string): string => `soak-${cls}`;
const handler = (spin: number): string =>
  `let n = 0;\nexport const handler = async (event) => {\n  let x = 0;\n  for (let i = 0; i < ${spin}; i++) x += i % 7;\n  console.log('call', ++n, x);\n  return { n, ok: true };\n};\n`;

const MB = 1024 * 1024;

/** Bytes of everything under `dir`. */
function treeBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    try {
      if (e.isDirectory()) total += treeBytes(p);
      else if (e.isFile()) total += statSync(p).size;
    } catch {
      // gone meanwhile (an instance directory, a file being renamed)
    }
  }
  return total;
}

const fileBytes = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) * 1024;
}

/** An Event invocation; resolves with its request id, or undefined if it was not accepted (202). */
async function invokeEvent(t: Target, fn: string, payload: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${t.url}/2015-03-31/functions/${fn}/invocations`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.key}`, 'X-Amz-Invocation-Type': 'Event', 'Content-Type': 'application/json' },
      body: payload,
    });
    await res.arrayBuffer();
    return res.status === 202 ? (res.headers.get('x-amzn-requestid') ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

interface Window {
  latencies: Map<string, number[]>;
  syncOk: number;
  syncErrors: number;
  asyncAccepted: number;
  asyncRefused: number;
}
/** Failed synchronous calls by what they were (status and the start of the answer), for the report. */
const errorKinds = new Map<string, number>();
const noteError = (r: { status: number; body: string }): void => {
  const kind = `${r.status} ${r.body.replace(/"(requestId|RequestId)":"[^"]*"/g, '').slice(0, 160)}`;
  errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
};
const newWindow = (): Window => ({ latencies: new Map(CLASSES.map((c) => [c.cls, []])), syncOk: 0, syncErrors: 0, asyncAccepted: 0, asyncRefused: 0 });

interface Sample {
  readonly tS: number;
  readonly rssMB: number;
  readonly walMB: number;
  readonly dbMB: number;
  readonly dataDirMB: number;
  readonly p99Ms: Record<string, number>;
  readonly p99AllMs: number;
  readonly syncCalls: number;
  readonly syncErrors: number;
  readonly asyncAccepted: number;
  readonly asyncRefused: number;
  readonly asyncFailed: number;
  /** Accepted Events not seen complete yet (they may be queued or running). */
  readonly asyncPending: number;
}

const dataDir = mkdtempSync(join(tmpdir(), 'fare-soak-'));
const fare = await startFare(dataDir, ['--no-examples', '--retention', values.retention]);
const t: Target = { url: fare.url, key: ADMIN_KEY };
const pid = fare.child.pid as number;
const walFile = join(dataDir, `${DB_FILE}-wal`);
const dbFile = join(dataDir, DB_FILE);
const samples: Sample[] = [];
let maxWal = 0;
/** Accepted Events, by request id: when accepted. */
const pending = new Map<string, number>();
let asyncAccepted = 0;
let asyncCompleted = 0;
let asyncFailed = 0;
let gone = 0;

/** Looks up accepted Events (oldest first, at most `max`) and counts those that completed. */
async function checkEvents(max: number, olderThanMs: number): Promise<void> {
  const now = performance.now();
  const due = [...pending].filter(([, at]) => now - at >= olderThanMs).slice(0, max).map(([id]) => id);
  for (let i = 0; i < due.length; i += 16) {
    await Promise.all(due.slice(i, i + 16).map(async (id) => {
      const r = await api(fare.url, 'GET', `/v1/invocations/${id}`).catch(() => undefined);
      if (r === undefined) return;
      const status = (r.json as { status?: string }).status;
      if (status === 'succeeded' || status === 'failed') {
        pending.delete(id);
        asyncCompleted++;
        if (status === 'failed') asyncFailed++;
      } else if (r.status === 404) {
        // Deleted by the retention before it was looked at: it completed (only finished ones go).
        pending.delete(id);
        asyncCompleted++;
        gone++;
      }
    }));
  }
}

let stopping = false;
const streams: Promise<void>[] = [];
// The WAL's size between samples too (a stat every 50 ms): its largest is what the bound is about.
const walWatch = setInterval(() => {
  maxWal = Math.max(maxWal, fileBytes(walFile));
}, 50);
const startedAt = performance.now();
let window = newWindow();
try {
  for (const c of CLASSES) await deployFunction(fare.url, fnOf(c.cls), 'nodejs', 'index.handler', { 'index.mjs': handler(c.spin) }, c.cls);
  for (const c of CLASSES) for (let i = 0; i < 5; i++) await invokeOnce(t, fnOf(c.cls), '{}');

  const openLoop = (perS: number, call: () => Promise<void>): void => {
    const gap = 1000 / (perS * scale);
    streams.push((async () => {
      const inflight = new Set<Promise<void>>();
      const t0 = performance.now();
      for (let i = 0; !stopping; i++) {
        const wait = t0 + i * gap - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const p = call().finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.all(inflight);
    })());
  };
  for (const c of CLASSES) {
    openLoop(c.syncPerS, async () => {
      const r = await invokeOnce(t, fnOf(c.cls), '{"soak":true}');
      const w = window;
      if (r.ok) {
        w.syncOk++;
        w.latencies.get(c.cls)?.push(r.ms);
      } else {
        w.syncErrors++;
        noteError(r);
      }
    });
    openLoop(c.asyncPerS, async () => {
      const id = await invokeEvent(t, fnOf(c.cls), '{"soak":"event"}');
      if (id === undefined) {
        window.asyncRefused++;
      } else {
        window.asyncAccepted++;
        asyncAccepted++;
        pending.set(id, performance.now());
      }
    });
  }

  // --flood C: C connections calling the top class's function back to back besides (closed loop),
  // as the load generator of issue 18 did: the most `fare up` writes.
  for (let i = 0; i < floodConns; i++) {
    streams.push((async () => {
      while (!stopping) {
        const r = await invokeOnce(t, fnOf('high'), '{"soak":"flood"}');
        const w = window;
        if (r.ok) {
          w.syncOk++;
          w.latencies.get('high')?.push(r.ms);
        } else {
          w.syncErrors++;
          noteError(r);
        }
      }
    })());
  }

  const endAt = startedAt + minutes * 60_000;
  for (let k = 1; ; k++) {
    const at = Math.min(endAt, startedAt + k * sampleS * 1000);
    // Events older than 2 s are looked up meanwhile (well within the retention, so they are still there).
    while (performance.now() < at) {
      await checkEvents(200, 2000);
      const left = at - performance.now();
      if (left > 0) await new Promise((r) => setTimeout(r, Math.min(500, left)));
    }
    const w = window;
    window = newWindow();
    const wal = fileBytes(walFile);
    maxWal = Math.max(maxWal, wal);
    const all = [...w.latencies.values()].flat();
    const s: Sample = {
      tS: Math.round((performance.now() - startedAt) / 100) / 10,
      rssMB: rssBytes(pid) / MB,
      walMB: wal / MB,
      dbMB: fileBytes(dbFile) / MB,
      dataDirMB: treeBytes(dataDir) / MB,
      p99Ms: Object.fromEntries([...w.latencies].map(([cls, xs]) => [cls, percentile(xs, 0.99)])),
      p99AllMs: percentile(all, 0.99),
      syncCalls: w.syncOk + w.syncErrors,
      syncErrors: w.syncErrors,
      asyncAccepted: w.asyncAccepted,
      asyncRefused: w.asyncRefused,
      asyncFailed,
      asyncPending: pending.size,
    };
    samples.push(s);
    process.stdout.write(`${s.tS.toFixed(0).padStart(5)} s  rss ${s.rssMB.toFixed(0)} MB  wal ${s.walMB.toFixed(1)} MB  db ${s.dbMB.toFixed(1)} MB  dir ${s.dataDirMB.toFixed(1)} MB  ` +
      `p99 ${s.p99AllMs.toFixed(1)} ms  calls ${s.syncCalls}  errors ${s.syncErrors + s.asyncRefused}  events pending ${s.asyncPending}\n`);
    if (at >= endAt) break;
  }
} finally {
  stopping = true;
}
await Promise.all(streams);
clearInterval(walWatch);

// The load stops; every accepted Event must complete.
const drainUntil = performance.now() + 120_000;
while (pending.size > 0 && performance.now() < drainUntil) {
  await checkEvents(Infinity, 0);
  if (pending.size > 0) await new Promise((r) => setTimeout(r, 1000));
}
const lost = pending.size;
await stopFare(fare);
rmSync(dataDir, { recursive: true, force: true });

const first = samples[0];
const last = samples.at(-1);
const sum = (f: (s: Sample) => number): number => samples.reduce((a, s) => a + f(s), 0);
const walLimitMB = WAL_LIMIT_BYTES / MB;
const result = {
  kind: 'soak',
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? '?',
  cores: availableParallelism(),
  minutes,
  retention: values.retention,
  rateScale: scale,
  floodConnections: floodConns,
  ratesPerS: Object.fromEntries(CLASSES.map((c) => [c.cls, { sync: c.syncPerS * scale, async: c.asyncPerS * scale }])),
  walLimitMB,
  /** Largest WAL file seen (stat every 50 ms). */
  maxWalMB: maxWal / MB,
  totals: {
    syncCalls: sum((s) => s.syncCalls),
    syncErrors: sum((s) => s.syncErrors),
    asyncAccepted,
    asyncRefused: sum((s) => s.asyncRefused),
    asyncCompleted,
    asyncFailed,
    asyncSeenOnlyAsDeleted: gone,
    lost,
  },
  /** What the failed synchronous calls answered (status and the start of the body), with counts. */
  errorKinds: Object.fromEntries(errorKinds),
  start: first,
  end: last,
  samples,
  fareUpWarnings: fare.output().split('\n').filter((l) => /warning|FareStoreWarning|FARE_W_/i.test(l)).slice(0, 20),
};
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const stamp = result.date.replace(/[:.]/g, '-');
writeFileSync(join(dir, `soak-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(dir, 'soak-latest.json'), `${JSON.stringify(result, null, 2)}\n`);

const minutesOf = (s: Sample): number => s.tS / 60;
const subtitle = `fare up, ${availableParallelism()} cores, retention ${values.retention}, ${Math.round(result.totals.syncCalls / (minutes * 60))} sync calls/s + ${Math.round(result.totals.asyncAccepted / (minutes * 60))} Events/s of 4 classes`;
const sizes = lineChart({
  title: `Soak: memory and disk over ${minutes} min`,
  subtitle,
  xName: 'time (min)',
  yName: 'MB',
  yTicks: 'plain',
  xTicks: 'plain',
  references: [{ value: 2 * walLimitMB, label: `2 × WAL limit (${2 * walLimitMB} MB)` }],
  panels: [{
    series: [
      { name: 'RSS of fare up', points: samples.map((s) => [minutesOf(s), s.rssMB] as const) },
      { name: 'WAL file', points: samples.map((s) => [minutesOf(s), s.walMB] as const) },
      { name: 'database file', points: samples.map((s) => [minutesOf(s), s.dbMB] as const) },
      { name: 'data dir', points: samples.map((s) => [minutesOf(s), s.dataDirMB] as const) },
    ],
  }],
});
const latency = lineChart({
  title: `Soak: p99 latency of synchronous calls per class, per ${sampleS} s`,
  subtitle: `${subtitle}; errors ${result.totals.syncErrors + result.totals.asyncRefused}, Events lost ${lost}`,
  xName: 'time (min)',
  yName: 'p99 latency',
  yTicks: 'ms',
  xTicks: 'plain',
  panels: [{ series: CLASSES.map((c) => ({ name: c.cls, points: samples.map((s) => [minutesOf(s), s.p99Ms[c.cls] ?? null] as const) })) }],
});
writeChart(dir, `soak-${stamp}-sizes`, sizes);
writeChart(dir, `soak-${stamp}-latency`, latency);

const f1 = (x: number | undefined): string => (x === undefined ? '?' : x.toFixed(1));
process.stdout.write(`
soak ${minutes} min, retention ${values.retention}: start → end
  RSS of fare up   ${f1(first?.rssMB)} → ${f1(last?.rssMB)} MB
  WAL file         ${f1(first?.walMB)} → ${f1(last?.walMB)} MB (largest ${f1(maxWal / MB)} MB; limit ${walLimitMB} MB, bound ${2 * walLimitMB} MB)
  database file    ${f1(first?.dbMB)} → ${f1(last?.dbMB)} MB
  data dir         ${f1(first?.dataDirMB)} → ${f1(last?.dataDirMB)} MB
  p99 (all sync)   ${f1(first?.p99AllMs)} → ${f1(last?.p99AllMs)} ms
  sync calls ${result.totals.syncCalls}, errors ${result.totals.syncErrors}; Events accepted ${result.totals.asyncAccepted}, refused ${result.totals.asyncRefused}, completed ${asyncCompleted} (failed ${asyncFailed}), lost ${lost}
${errorKinds.size > 0 ? `  failed calls: ${[...errorKinds].map(([k, n]) => `${n} × ${k}`).join('; ')}\n` : ''}wrote bench/results/soak-${stamp}.json and the charts soak-${stamp}-sizes / -latency (.svg, .png)
`);
