// Load generation against a running Fare over its Lambda Invoke API: open-loop streams at a fixed rate
// and closed-loop floods at a fixed concurrency, recording client-side latency per stream. Used by
// `fare demo` and the benchmarks.

import { request, Agent } from 'node:http';
import { nearestRank } from '../core/util/nearest-rank.ts';

export interface Target {
  readonly url: string;
  /** `<id>:<secret>`, sent as a Bearer token. */
  readonly key: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

/** One synchronous invocation; resolves with its latency (ms) and whether it failed. */
export function invokeOnce(t: Target, fn: string, payload: string): Promise<{ ms: number; ok: boolean; status: number; body: string }> {
  const t0 = performance.now();
  const u = new URL(`${t.url}/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`);
  return new Promise((done) => {
    const req = request({ agent, hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { Authorization: `Bearer ${t.key}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        done({ ms: performance.now() - t0, ok: status === 200 && res.headers['x-amz-function-error'] === undefined, status, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', (e) => done({ ms: performance.now() - t0, ok: false, status: 0, body: e.message }));
    req.end(payload);
  });
}

export interface StreamResult {
  readonly name: string;
  readonly latencies: number[];
  readonly errors: number;
}

/** Invokes `fn` every 1000/rate ms for `durationMs` (open loop: a slow answer does not delay the next). */
export async function steady(t: Target, name: string, fn: string, payload: string, ratePerS: number, durationMs: number): Promise<StreamResult> {
  const latencies: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  const gap = 1000 / ratePerS;
  for (let i = 0; ; i++) {
    const due = start + i * gap;
    if (due - start >= durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(invokeOnce(t, fn, payload).then((r) => {
      if (r.ok) latencies.push(r.ms);
      else errors++;
    }));
  }
  await Promise.all(inflight);
  return { name, latencies, errors };
}

/** Keeps `concurrency` invocations of `fn` in flight until `stop` resolves. */
export async function flood(t: Target, fn: string, payload: string, concurrency: number, stop: Promise<void>): Promise<{ completed: number; errors: number }> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  let completed = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const r = await invokeOnce(t, fn, payload);
      if (r.ok) completed++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { completed, errors };
}

/** The nearest-rank `q` quantile of `xs` (any order); NaN when there are none. */
export function percentile(xs: readonly number[], q: number): number {
  return nearestRank([...xs].sort((a, b) => a - b), q) ?? NaN;
}

/**
 * `flood` in a worker thread, so the flood's own HTTP traffic does not queue in the event loop of the
 * process that measures the latency of other streams. Resolves when `stop` has resolved and the
 * worker has finished its last calls.
 */
export async function floodInWorker(t: Target, fn: string, payload: string, concurrency: number, stop: Promise<void>): Promise<{ completed: number; errors: number }> {
  const { Worker } = await import('node:worker_threads');
  const here = new URL(import.meta.url).href;
  // The worker registers the TypeScript loader itself when it runs from sources (as `fare` does in a
  // checkout whose build is stale), found from here: an eval'd worker resolves from the current
  // directory, which may be anywhere.
  const tsx = here.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : '';
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      if (workerData.tsx !== '') (await import(workerData.tsx)).register();
      const { flood } = await import(workerData.here);
      let stop; const stopped = new Promise((r) => (stop = r));
      parentPort.once('message', () => stop());
      const r = await flood(workerData.t, workerData.fn, workerData.payload, workerData.concurrency, stopped);
      parentPort.postMessage(r);
    })();`;
  const w = new Worker(code, { eval: true, workerData: { here, tsx, t, fn, payload, concurrency } });
  const result = new Promise<{ completed: number; errors: number }>((done, fail) => {
    w.once('message', (m: { completed: number; errors: number }) => done(m));
    w.once('error', fail);
  });
  // A worker that fails before `stop` is reported when its result is awaited, not as an unhandled rejection meanwhile.
  result.catch(() => undefined);
  await stop;
  w.postMessage('stop');
  const r = await result;
  await w.terminate();
  return r;
}
