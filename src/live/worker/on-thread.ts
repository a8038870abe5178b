// `fare up --worker-thread`: worker 0 (the machine scheduler and its instances, thread-entry.ts) on
// a thread of its own, so that the gateway and the shard on the main thread and the worker use two
// cores instead of one. Between them pass only the protocol's messages (as between the processes of a
// cluster, over the thread's MessagePort instead of NATS) and the few things below: the worker's
// start-up report and warnings, its metrics events and instance census, retire notices, and stop.
//
// The price: each call crosses between the threads twice on its way (placed, answered), and a thread
// that sleeps takes ≈ 0.1 ms to wake on this 2-core machine — at one call at a time the warm latency
// grows by ≈ 0.25 ms. Under load the threads stay awake and the gain is the second core (see the
// bench figures in src/live/README.md).

import { Worker } from 'node:worker_threads';
import type { Message } from '../../core/protocol.ts';
import type { Metrics } from '../metrics.ts';
import type { LocalWorkerSettings, WorkerCensus } from './local-worker.ts';

/** What the worker thread is started with (structured-clone data). */
export type ThreadInit = LocalWorkerSettings;

export type ToThread =
  | { readonly msgs: readonly Message[] }
  | { readonly endpoint: string }
  | { readonly retire: { readonly tenant: string; readonly name: string; readonly version: number | null } }
  | { readonly census: true }
  | { readonly stopStems: true }
  | { readonly stop: true };

type MetricEvent = ['preempted', number, number, number | null] | ['ioWaited', number, number] | ['swapped', number, number, 'out' | 'in'];

export type FromThread =
  | { readonly msgs: readonly Message[] }
  | { readonly warn: string }
  | { readonly event: MetricEvent }
  | WorkerCensus
  | (WorkerCensus & { readonly ready: readonly string[]; readonly capacityMB: number })
  | { readonly stemsStopped: true }
  | { readonly stopped: true };

export interface WorkerThread {
  /** The worker's start-up report (launcher, memory, stem cells). */
  readonly report: readonly string[];
  /** The memory its machine scheduler manages (MB; Infinity: not managed). */
  readonly capacityMB: number;
  /** Hands a protocol message for the worker (one addressed to a machine) to its thread. */
  send(msg: Message): void;
  /** A function changed or was deleted (`version` null): its older instances are retired. */
  retire(tenant: string, name: string, version: number | null): void;
  /** Where functions reach Fare (known once the gateway listens). */
  setEndpoint(url: string): void;
  /** Stops adjusting the stem cells and kills those not taken. */
  stopStems(): Promise<void>;
  /** Cuts what still runs (its answers and outcomes are delivered first), stops the thread. */
  stop(): Promise<void>;
}

/**
 * Protocol messages for the other thread, posted together once the current turn's work is done (one
 * structured clone and one wake-up for all of them: under load many calls' messages go at once),
 * and before anything else is posted, so that everything arrives in the order it was sent.
 */
export class Outbox<T extends object> {
  private pending: Message[] = [];
  private scheduled = false;

  constructor(private readonly postMessage: (m: T | { readonly msgs: readonly Message[] }) => void) {}

  push(msg: Message): void {
    this.pending.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Posts `m` after the messages pushed before it. */
  post(m: T): void {
    this.flush();
    this.postMessage(m);
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const msgs = this.pending;
    this.pending = [];
    this.postMessage({ msgs });
  }
}

/** How long a scrape waits for a fresh census before it shows the last one (ms). */
const CENSUS_WAIT_MS = 1000;

/**
 * Starts the worker thread. Its messages for the other parts are handed to `deliver` (the main
 * thread's Bus), its metrics events and census to `metrics`, its warnings to `warn`. An error that
 * escapes the thread ends the process, as one on the main thread would.
 */
export async function startWorkerThread(init: ThreadInit, deliver: (msg: Message) => void, metrics: Metrics, warn: (line: string) => void): Promise<WorkerThread> {
  const here = import.meta.url;
  // Run from the TypeScript sources (bin/fare.js on a checkout changed since its build, tests), the
  // thread loads them through tsx too (registered by a small module that then imports the entry:
  // loader hooks given to a worker by `--import` are not used for its entry on Node 20).
  const entry = new URL(here.endsWith('.ts') ? './thread-entry.ts' : './thread-entry.js', here);
  const t = here.endsWith('.ts')
    ? new Worker(new URL(`data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(entry.href)});`)}`), { workerData: init })
    : new Worker(entry, { workerData: init });
  let last: WorkerCensus = { census: [], stems: null };
  let stopping = false;
  const waiting: { census: (() => void)[]; stems: (() => void)[]; stopped: (() => void)[] } = { census: [], stems: [], stopped: [] };
  const settle = (list: (() => void)[]): void => {
    for (const f of list.splice(0)) f();
  };
  let started: ((r: { report: readonly string[]; capacityMB: number }) => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  const ready = new Promise<{ report: readonly string[]; capacityMB: number }>((res, rej) => {
    started = res;
    failed = rej;
  });
  t.on('message', (d: FromThread) => {
    if ('msgs' in d) for (const m of d.msgs) deliver(m);
    else if ('event' in d) {
      const e = d.event;
      if (e[0] === 'preempted') metrics.preempted(e[1], e[2], e[3] ?? undefined);
      else if (e[0] === 'ioWaited') metrics.ioWaited(e[1], e[2]);
      else metrics.swapped(e[1], e[2], e[3]);
    } else if ('census' in d) {
      last = { census: d.census, stems: d.stems };
      settle(waiting.census);
      if ('ready' in d) started?.({ report: d.ready, capacityMB: d.capacityMB });
    } else if ('warn' in d) warn(d.warn);
    else if ('stemsStopped' in d) settle(waiting.stems);
    else if ('stopped' in d) settle(waiting.stopped);
  });
  let dead = false;
  const fail = (e: Error): void => {
    if (dead) return;
    if (failed !== undefined) {
      // Before it was ready: the start fails with its error (and the exit that follows says nothing more).
      const f = failed;
      failed = undefined;
      started = undefined;
      dead = true;
      f(e);
      return;
    }
    if (stopping) return;
    dead = true;
    // As an error on the main thread would: the process ends, and its launcher then kills the instances.
    setImmediate(() => {
      throw Object.assign(new Error(`the worker thread failed: ${e.stack ?? e.message}`), { code: 'FARE_E_WORKER_THREAD' });
    });
  };
  t.on('error', fail);
  t.on('exit', (code) => {
    settle(waiting.stopped);
    if (!stopping) fail(new Error(`it exited (code ${code})`));
  });
  const { report, capacityMB } = await ready;
  started = undefined;
  failed = undefined;
  const outbox = new Outbox<ToThread>((m) => t.postMessage(m));
  const post = (m: ToThread): void => outbox.post(m);
  metrics.watchWorker(0, () => last.census);
  if (last.stems !== null) metrics.watchStemCells(0, () => last.stems ?? []);
  // A scrape asks for a fresh census (the thread also sends one every half second).
  metrics.beforeScrape(() => new Promise<void>((res) => {
    if (stopping) return res();
    const timer = setTimeout(res, CENSUS_WAIT_MS);
    waiting.census.push(() => {
      clearTimeout(timer);
      res();
    });
    post({ census: true });
  }));
  let stopped: Promise<void> | undefined;
  return {
    report,
    capacityMB,
    send: (msg) => outbox.push(msg),
    retire: (tenant, name, version) => post({ retire: { tenant, name, version } }),
    setEndpoint: (url) => post({ endpoint: url }),
    stopStems: () => (stopping ? Promise.resolve() : new Promise<void>((res) => {
      waiting.stems.push(res);
      post({ stopStems: true });
    })),
    stop: () => (stopped ??= (async () => {
      await new Promise<void>((res) => {
        waiting.stopped.push(res);
        stopping = true;
        post({ stop: true });
      });
      settle(waiting.census);
      await t.terminate();
    })()),
  };
}
