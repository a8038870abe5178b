// What this machine itself allows, measured in the same run as Fare (bench/live.ts): the floor under
// the live targets. A bare node:http server in its own process that answers every POST with `null`
// (one HTTP round trip: what any Node.js gateway costs before it does anything), and a relay in front
// of it that forwards each request to it over a kept-alive connection (two round trips with a Node.js
// process in the middle: the least a platform pays that hands each call to a function's process over
// HTTP, as Fare does through the Lambda Runtime API). Also the closed-loop load generator: `wrk`
// (Debian package `wrk`, a C client that costs the machine little of its two cores) when installed,
// else the Node.js client of loadgen.ts, which costs ≈ 0.25 ms of CPU per call here and is then
// itself the ceiling on calls per second.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { floodInWorker, invokeOnce, percentile, steady, type StreamResult, type Target } from '../src/cli/loadgen.ts';

/** The echo server (and, with an upstream port, the relay), run with `node -e`. */
const SERVER = `
const http = require('node:http');
const upstream = Number(process.argv[1] || 0);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const s = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (upstream === 0) { res.setHeader('Content-Type', 'application/json'); res.end('null'); return; }
    const body = Buffer.concat(chunks);
    const up = http.request({ agent, host: '127.0.0.1', port: upstream, path: '/', method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, (r) => {
      const out = [];
      r.on('data', (c) => out.push(c));
      r.on('end', () => { res.setHeader('Content-Type', 'application/json'); res.end(Buffer.concat(out)); });
    });
    up.on('error', (e) => { res.statusCode = 502; res.end(e.message); });
    up.end(body);
  });
});
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`;

export interface FloorServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the echo server, or a relay to `upstreamPort`, in a child process. */
export function startFloorServer(upstreamPort = 0): Promise<FloorServer & { readonly port: number }> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SERVER, String(upstreamPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    let text = '';
    child.stdout?.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const m = /^(\d+)\n/.exec(text);
      if (m) {
        const port = Number(m[1]);
        done({
          port,
          url: `http://127.0.0.1:${port}`,
          stop: async () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            const exited = new Promise((r) => child.once('exit', r));
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => fail(new Error(`floor server exited (${String(code)}) before it listened`)));
  });
}

export interface SequentialResult {
  readonly calls: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

/**
 * `calls` sequential calls of `fn` after `warmup` unmeasured ones, with loadgen.ts's client (through
 * the Lambda Invoke API's path; the floor servers answer any path).
 */
export async function sequential(t: Target, fn: string, warmup: number, calls: number): Promise<SequentialResult> {
  for (let i = 0; i < warmup; i++) await invokeOnce(t, fn, '{}');
  const lat: number[] = [];
  for (let i = 0; i < calls; i++) lat.push((await invokeOnce(t, fn, '{}')).ms);
  return { calls, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), p999Ms: percentile(lat, 0.999) };
}

export interface ThroughputResult {
  readonly client: 'wrk' | 'node';
  readonly concurrency: number;
  readonly seconds: number;
  readonly perSec: number;
  /** Answers that were not 200 (or, with wrk, socket errors). */
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

let wrkChecked: boolean | undefined;

/** Whether `wrk` is on the PATH. */
export function hasWrk(): boolean {
  if (wrkChecked === undefined) {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' });
      wrkChecked = true;
    } catch (e) {
      // wrk prints its version and exits 1: it is there unless it could not be run at all.
      wrkChecked = (e as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }
  return wrkChecked;
}

/** wrk's latency figures (`166.00us`, `1.94ms`, `2.01s`) in ms. */
function wrkMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/**
 * Closed-loop calls of `fn` (the Lambda Invoke API path) at `concurrency` for `seconds`: with wrk
 * when installed (`client: 'wrk'`), else with loadgen.ts's client in this process.
 */
export async function closedLoop(t: Target, fn: string, concurrency: number, seconds: number): Promise<ThroughputResult> {
  const path = `/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`;
  if (hasWrk()) {
    const dir = mkdtempSync(join(tmpdir(), 'fare-wrk-'));
    try {
      const lua = join(dir, 'post.lua');
      writeFileSync(lua, `wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${t.key}"\n`);
      const out = await new Promise<string>((done, fail) => {
        const p = spawn('wrk', ['-t1', `-c${concurrency}`, `-d${seconds}s`, '--latency', '-s', lua, `${t.url}${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        p.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
        p.stderr.on('data', (c: Buffer) => (text += c.toString('utf8')));
        p.once('exit', (code) => (code === 0 ? done(text) : fail(new Error(`wrk exited with ${String(code)}:\n${text}`))));
      });
      const total = /(\d+) requests in ([\d.]+)s/.exec(out);
      const requests = Number(total?.[1] ?? NaN);
      const took = Number(total?.[2] ?? seconds);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrors = sock ? sock.slice(1).reduce((a, x) => a + Number(x), 0) : 0;
      return {
        client: 'wrk', concurrency, seconds,
        perSec: (requests - non2xx) / took,
        failed: non2xx + socketErrors,
        p50Ms: wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
        p99Ms: wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const lat: number[] = [];
  let failed = 0;
  const stopAt = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < stopAt) {
      const r = await invokeOnce(t, fn, '{}');
      if (r.ok) lat.push(r.ms);
      else failed++;
    }
  }));
  return { client: 'node', concurrency, seconds, perSec: lat.length / seconds, failed, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
}

/** One round: the stream alone, then flooded. */
export interface UnderFloodRound {
  readonly aloneP99Ms: number;
  readonly floodedP99Ms: number;
  /** Calls per second the flood got answered meanwhile (failed ones not counted). */
  readonly floodPerSec: number;
  readonly floodFailed: number;
}

/** Medians over the rounds (failures summed), and the rounds. */
export interface UnderFloodResult extends UnderFloodRound {
  readonly ratePerSec: number;
  /** Median flooded p99 ÷ median alone p99. */
  readonly ratio: number;
  readonly rounds: readonly UnderFloodRound[];
}

/**
 * The p99 of `fn` called at a steady `rate` for `seconds`, alone, then while `floodFn` is called
 * closed-loop at concurrency 8 (by wrk, or else by the Node.js client in a worker thread, so that
 * the flood's traffic does not queue in the event loop of the stream it disturbs), started half a
 * second before: what a flood through the same front door does to another stream's tail.
 */
export async function underFlood(t: Target, fn: string, floodFn: string, rate: number, seconds: number, rounds = 3): Promise<UnderFloodResult> {
  // One phase of each is at the mercy of a slow moment (a single alone p99 ranged 4–11 ms here):
  // rounds of both, alternating, and the ratio of their medians.
  const each: UnderFloodRound[] = [];
  for (let r = 0; r < rounds; r++) each.push(await underFloodOnce(t, fn, floodFn, rate, seconds));
  const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1] as number;
  const aloneP99Ms = median(each.map((e) => e.aloneP99Ms)), floodedP99Ms = median(each.map((e) => e.floodedP99Ms));
  return {
    ratePerSec: rate, aloneP99Ms, floodedP99Ms, ratio: floodedP99Ms / aloneP99Ms,
    floodPerSec: median(each.map((e) => e.floodPerSec)), floodFailed: each.reduce((a, e) => a + e.floodFailed, 0), rounds: each,
  };
}

async function underFloodOnce(t: Target, fn: string, floodFn: string, rate: number, seconds: number): Promise<UnderFloodRound> {
  const ms = seconds * 1000;
  const alone = await steady(t, 'alone', fn, '{}', rate, ms);
  const measure = async (): Promise<StreamResult> => {
    await new Promise((r) => setTimeout(r, 500));
    return steady(t, 'flooded', fn, '{}', rate, ms);
  };
  let flooded: StreamResult, floodPerSec: number, floodFailed: number;
  if (hasWrk()) {
    const [flood, f] = await Promise.all([closedLoop(t, floodFn, 8, seconds + 1), measure()]);
    flooded = f;
    floodPerSec = flood.perSec;
    floodFailed = flood.failed;
  } else {
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const t0 = performance.now();
    const flood = floodInWorker(t, floodFn, '{}', 8, stopped);
    flooded = await measure();
    stop();
    const done = await flood;
    floodPerSec = done.completed / ((performance.now() - t0) / 1000);
    floodFailed = done.errors;
  }
  const aloneP99Ms = percentile(alone.latencies, 0.99), floodedP99Ms = percentile(flooded.latencies, 0.99);
  return { aloneP99Ms, floodedP99Ms, floodPerSec, floodFailed: floodFailed + alone.errors + flooded.errors };
}
