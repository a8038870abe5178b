// WAL checkpoints away from the event loop. SQLite's automatic checkpoint runs inside whichever
// commit takes the write-ahead log past its threshold (1,000 pages), and with synchronous=NORMAL that
// commit also fsyncs the log and the database: a request of `fare up` stalls for several ms every
// few hundred invocations, which is the warm-call p99. With a Checkpointer the store's connection
// never checkpoints (wal_autocheckpoint = 0): a worker thread with a connection of its own runs
// PASSIVE checkpoints, which neither wait for nor block the writer, every `intervalMs`.
//
// PASSIVE alone does not bound the log. A checkpoint copies the log's frames into the database, but
// the log file is only *reset* (written again from its start) by a writer that begins a transaction
// while every frame is already copied and no reader uses the log. Under sustained writes a commit
// always lands while a checkpoint runs, so that moment never comes: the frames are copied and the
// file grows anyway (issue 18 measured 64 MB → 859 MB in 30 s; a continuous writer here made
// 620 MB in 5 s). So the log is reset, in two ways:
//
// - The worker, once the log holds more than `limitBytes` (or will before its next look, at the
//   rate it grows), runs a RESTART checkpoint: holding the write lock it copies the frames PASSIVE
//   left, and it checks that no reader uses the log; the next commit then writes the log from its
//   start and cuts the file back to `limitBytes` (journal_size_limit). A commit that comes
//   meanwhile waits (its busy_timeout) for those few ms; no checkpoint runs on its thread.
// - A guard on the store's thread looks at the file's size every `GUARD_MS` (a stat, µs). When the
//   worker fell behind (a PASSIVE checkpoint that waits seconds for an fsync on a busy disk, a worker
//   thread without a CPU on a loaded machine) and the file passed the limit, the thread stops and
//   waits, between two tasks and so outside any transaction, for the worker to reset the log (at
//   most `GUARD_WAIT_MS` at a time, and again at the next look while the worker has not answered). Writes are what grows the log and they all come from this thread, so
//   the file stays within `limitBytes` plus what one `GUARD_MS` of writes adds; the timing of the
//   worker does not matter.
//
// While a reader keeps an old snapshot (another process with a long read transaction), no
// checkpoint can reset the log: a RESTART that cannot finish within `restartWaitMs` is tried again
// after a back-off, and a guard whose wait the worker answered with such a failure rests
// `GUARD_REST_MS`. If the worker cannot start or stops, the connection's automatic checkpoints are
// turned back on and `onFallback` says why.

import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** SQLite's default automatic checkpoint threshold (pages), restored when the worker is gone. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** Default of `limitBytes`: the log is reset once it holds more, and its file cut back to this size. */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;
/** Smallest `limitBytes` accepted. */
export const WAL_LIMIT_MIN_BYTES = 64 * 1024;
export const CHECKPOINT_INTERVAL_MS = 100;
/** Default of `restartWaitMs`: how long the worker tries a RESTART checkpoint before it backs off. */
export const RESTART_WAIT_MS = 1000;
/** Longest back-off between RESTART checkpoints that could not finish. */
export const RESTART_BACKOFF_MAX_MS = 10_000;
/** How often the store's thread looks at the log file's size. */
export const GUARD_MS = 10;
/** Longest the store's thread waits for the worker to reset the log. */
export const GUARD_WAIT_MS = 2000;
/** After a wait in vain, the guard rests this long (the worker backs off too). */
export const GUARD_REST_MS = 10_000;

// Shared between the threads (an Int32Array over a SharedArrayBuffer):
/** Resets done or given up by the worker; the guard waits for it to change. */
const S_RESETS = 0;
/** 1: the store's thread waits for a reset (set by the guard, cleared by it). */
const S_WANT = 1;
/** 1: stop. */
const S_STOP = 2;
/** 1: the last reset was done, 0: given up. */
const S_RESET_OK = 3;
/** 1: the worker's connection is closed (or the worker is gone): set by the worker. */
const S_CLOSED = 4;
/** Int32 slots before the Float64 slot that holds the file's size at the last reset (even: it is 8-aligned). */
const S_INTS = 6;
/** How long `stop` waits for the worker's connection to close: at most one checkpoint's lock tries. */
const STOP_WAIT_MS = 2_000;

// The worker's code, plain CommonJS: it runs without the TypeScript loader of a checkout. It sleeps
// on the shared array, so the guard wakes it at once.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.module);
const { intervalMs, limitBytes, restartWaitMs, backoffMaxMs, restart, shared } = workerData;
const state = new Int32Array(shared, 0, ${S_INTS});
const resetSizes = new Float64Array(shared, ${S_INTS * 4}, 1);
const closed = () => {
  Atomics.store(state, ${S_CLOSED}, 1);
  Atomics.notify(state, ${S_CLOSED});
};
process.on('exit', closed);
const walFile = workerData.file + '-wal';
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
// A frame is a page and its 24-byte header; the log file starts with a 32-byte header.
const frameBytes = db.pragma('page_size', { simple: true }) + 24;
const pause = new Int32Array(new SharedArrayBuffer(4));
const checkpoint = (mode) => {
  try {
    return db.pragma('wal_checkpoint(' + mode + ')')[0];
  } catch (e) {
    if (e && e.code === 'SQLITE_BUSY') return { busy: 1, log: -1, checkpointed: -1 };
    throw e;
  }
};
// The write lock is taken first with BEGIN IMMEDIATE, tried every 0.05 ms at first (a try that
// fails costs a few µs), and given back at once: a writer that came meanwhile is now asleep in its
// busy handler (1 ms or more), so the RESTART that follows at once finds the lock free, copies what
// is left holding it, and waits for no reader (busy_timeout 0: it answers busy instead, and all is
// tried again). SQLite's own busy handler sleeps 1, 2, 5, 10, … ms between tries, and a RESTART
// that does not get the lock copies what it can, as PASSIVE does, before it answers busy: either way
// a writer that holds its lock most of the time kept the worker out for up to a second.
const begin = db.prepare('BEGIN IMMEDIATE');
const rollback = db.prepare('ROLLBACK');
const tryLock = () => {
  try {
    begin.run();
  } catch (e) {
    if (e && e.code === 'SQLITE_BUSY') return false;
    throw e;
  }
  rollback.run();
  return true;
};
let failures = 0;
let restartAfter = 0;
// After a reset the log starts again only at the writer's next commit: until then checkpoints
// report the old log, all copied, and the file keeps its size. Neither is growth.
let resetLog = -1;
const reset = () => {
  const deadline = Date.now() + restartWaitMs;
  let done = false;
  for (let tries = 1; ; tries++) {
    const r = tryLock() ? checkpoint('RESTART') : undefined;
    if (r !== undefined && r.busy === 0) {
      failures = 0;
      resetLog = r.log;
      // The file as the reset leaves it, until the next commit cuts it back.
      resetSizes[0] = fs.statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;
      parentPort.postMessage({ kind: 'restart', tries });
      done = true;
      break;
    }
    if (Date.now() >= deadline) break;
    // A reader's snapshot can keep it busy for longer: taking the lock again and again would only
    // make a writer sleep in its busy handler (1, 2, 5 … ms), so the pause grows to 2 ms.
    Atomics.wait(pause, 0, 0, Math.min(2, 0.05 * tries));
  }
  if (!done) {
    failures++;
    restartAfter = Date.now() + Math.min(backoffMaxMs, intervalMs * 2 ** failures);
    parentPort.postMessage({ kind: 'busy' });
  }
  Atomics.store(state, ${S_RESET_OK}, done ? 1 : 0);
  Atomics.add(state, ${S_RESETS}, 1);
  Atomics.notify(state, ${S_RESETS});
};
// The log's bytes at the last look, when, and how fast it grew: a PASSIVE checkpoint that has much
// to copy takes long (100-400 ms here with a writer at 90 MB/s), and the log grows meanwhile. So
// the worker also resets when the log would pass the limit before its next look could see it.
let last;
let bytesPerMs = 0;
let passiveMs = 0;
const look = () => {
  const now = Date.now();
  const size = fs.statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;
  if (Atomics.compareExchange(state, ${S_WANT}, 1, 0) === 1) {
    // The store's thread waits (outside any transaction): the lock is free.
    reset();
    last = undefined;
    return;
  }
  const canReset = restart && now >= restartAfter;
  const soon = last !== undefined && last.bytes + bytesPerMs * (now - last.at + 2 * passiveMs + intervalMs) > limitBytes;
  if (canReset && ((size > limitBytes && size !== resetSizes[0]) || soon)) {
    reset();
    last = undefined;
    return;
  }
  const passive = checkpoint('PASSIVE');
  const after = Date.now();
  passiveMs = after - now;
  if (passive.log < 0 || (passive.log === resetLog && passive.checkpointed === resetLog)) return;
  resetLog = -1;
  const bytes = 32 + passive.log * frameBytes;
  bytesPerMs = last !== undefined && bytes >= last.bytes && after > last.at ? (bytes - last.bytes) / (after - last.at) : 0;
  last = { bytes, at: after };
  if (canReset && bytes > limitBytes) {
    reset();
    last = undefined;
  }
};
parentPort.postMessage({ kind: 'ready' });
while (Atomics.load(state, ${S_STOP}) === 0) {
  Atomics.wait(state, ${S_WANT}, 0, intervalMs);
  if (Atomics.load(state, ${S_STOP}) === 0) look();
}
db.close();
closed();
`;

export interface CheckpointerOptions {
  readonly intervalMs?: number;
  /**
   * The log's size limit in bytes (default `WAL_LIMIT_BYTES`, at least `WAL_LIMIT_MIN_BYTES`): once
   * it holds more, it is reset (see the file's head), and a reset log's file is cut back to this
   * size (journal_size_limit).
   */
  readonly limitBytes?: number;
  /** How long the worker tries a RESTART checkpoint before it backs off (default `RESTART_WAIT_MS`). */
  readonly restartWaitMs?: number;
  /**
   * Reset the log once it passes `limitBytes` (default true). False runs PASSIVE checkpoints only,
   * as before issue 18, and no guard: the log is then unbounded under sustained writes (a test
   * shows it).
   */
  readonly restart?: boolean;
  /** The worker could not start or stopped: automatic checkpoints are back on. Default: a process warning. */
  readonly onFallback?: (why: string) => void;
}

/** What the checkpointer did, for tests, metrics and the soak benchmark. */
export interface CheckpointStats {
  /** RESTART checkpoints that reset the log. */
  readonly restarts: number;
  /** RESTART checkpoints given up after `restartWaitMs` (a reader held an old snapshot, or the writer its lock). */
  readonly busy: number;
  /** Times the store's thread waited for a reset (the worker had fallen behind), and how long in all. */
  readonly guardWaits: number;
  readonly guardWaitMs: number;
}

export class Checkpointer {
  readonly #db: Database.Database;
  readonly #worker: Worker;
  readonly #state: Int32Array;
  readonly #resetSizes: Float64Array;
  readonly #walFile: string;
  readonly #limitBytes: number;
  readonly #guard: NodeJS.Timeout | undefined;
  readonly #ready: Promise<void>;
  #stopped = false;
  /** The worker thread has exited (its connection is closed, or was never opened). */
  #exited = false;
  #restarts = 0;
  #busy = 0;
  #guardWaits = 0;
  #guardWaitMs = 0;
  #guardRestUntil = 0;

  /** `db` is the store's connection to `file` (in WAL mode). */
  constructor(db: Database.Database, file: string, opts: CheckpointerOptions = {}) {
    this.#db = db;
    const onFallback = opts.onFallback ?? ((why: string) => process.emitWarning(`WAL checkpoints run inline again: ${why}`, 'FareStoreWarning'));
    const limitBytes = opts.limitBytes ?? WAL_LIMIT_BYTES;
    if (!Number.isSafeInteger(limitBytes) || limitBytes < WAL_LIMIT_MIN_BYTES) {
      throw new Error(`the WAL limit must be a whole number of bytes ≥ ${WAL_LIMIT_MIN_BYTES} (64 KiB), got ${limitBytes}`);
    }
    this.#limitBytes = limitBytes;
    this.#walFile = `${file}-wal`;
    const shared = new SharedArrayBuffer(S_INTS * 4 + 8);
    this.#state = new Int32Array(shared, 0, S_INTS);
    this.#resetSizes = new Float64Array(shared, S_INTS * 4, 1);
    this.#resetSizes[0] = -1;
    db.pragma(`journal_size_limit = ${limitBytes}`);
    db.pragma('wal_autocheckpoint = 0');
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const intervalMs = opts.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    const restart = opts.restart ?? true;
    this.#worker = new Worker(WORKER, {
      eval: true,
      workerData: { module, file, intervalMs, limitBytes, restartWaitMs: opts.restartWaitMs ?? RESTART_WAIT_MS, backoffMaxMs: RESTART_BACKOFF_MAX_MS, restart, shared },
    });
    // The worker must not keep a finished `fare up` alive.
    this.#worker.unref();
    let ready = (): void => {};
    this.#ready = new Promise((resolve) => (ready = resolve));
    this.#worker.on('message', (m: { kind: 'ready' | 'restart' | 'busy' }) => {
      if (m.kind === 'ready') ready();
      else if (m.kind === 'restart') this.#restarts++;
      else this.#busy++;
    });
    const fallBack = (why: string): void => {
      ready();
      if (this.#stopped) return;
      this.#halt();
      if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      onFallback(why);
    };
    this.#worker.on('error', (e) => fallBack(`the checkpoint worker failed (${e instanceof Error ? e.message : String(e)})`));
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      fallBack(`the checkpoint worker exited (code ${code})`);
    });
    this.#guard = restart ? setInterval(() => this.#look(), GUARD_MS).unref() : undefined;
  }

  /**
   * The guard (see the file's head): a log file past the limit, not the one a reset left (cut back
   * at the next commit), makes this thread wait for the worker to reset the log.
   */
  #look(): void {
    const size = statSync(this.#walFile, { throwIfNoEntry: false })?.size ?? 0;
    if (size <= this.#limitBytes || size === this.#resetSizes[0] || this.#stopped) return;
    const t0 = performance.now();
    if (t0 < this.#guardRestUntil) return;
    const resets = Atomics.load(this.#state, S_RESETS);
    Atomics.store(this.#state, S_WANT, 1);
    Atomics.notify(this.#state, S_WANT);
    const woke = Atomics.wait(this.#state, S_RESETS, resets, GUARD_WAIT_MS);
    Atomics.store(this.#state, S_WANT, 0);
    const t1 = performance.now();
    this.#guardWaits++;
    this.#guardWaitMs += t1 - t0;
    // The worker tried and a reader's snapshot kept it from resetting: rest, rather than stall every
    // 10 ms for as long as the reader reads. A worker that has not answered yet (a PASSIVE checkpoint
    // waiting seconds for an fsync on a loaded disk, a thread without a CPU) is waited for again at
    // the next look: resting then let the writes run on, and the log passed twice its limit (a CI
    // run under load: 17.9 MB against a limit of 8).
    if (woke !== 'timed-out' && Atomics.load(this.#state, S_RESET_OK) === 0) this.#guardRestUntil = t1 + GUARD_REST_MS;
  }

  /** Resolves once the worker checkpoints (or has fallen back). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Counts of what was done so far (the worker's as reported to this thread: they lag by a turn of the event loop). */
  stats(): CheckpointStats {
    return { restarts: this.#restarts, busy: this.#busy, guardWaits: this.#guardWaits, guardWaitMs: this.#guardWaitMs };
  }

  /**
   * Stops the worker and waits (up to STOP_WAIT_MS) until its connection is closed, so that once
   * the store is closed no connection of it is open: a store opened next on the same files (a
   * restart, a backup) does not meet this one's last connection closing, which deletes the `-wal`
   * and `-shm` files. The store's own connection checkpoints when it closes.
   */
  stop(): void {
    this.#halt();
    if (!this.#exited) Atomics.wait(this.#state, S_CLOSED, 0, STOP_WAIT_MS);
  }

  #halt(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#guard !== undefined) clearInterval(this.#guard);
    Atomics.store(this.#state, S_STOP, 1);
    Atomics.notify(this.#state, S_WANT);
  }
}
