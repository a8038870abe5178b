// WAL checkpoints away from the event loop. SQLite's automatic checkpoint runs inside whichever
// commit takes the write-ahead log past its threshold (1,000 pages), and with synchronous=NORMAL that
// commit also fsyncs the log and the database: a request of `fare up` stalls for several ms every
// few hundred invocations, which is the warm-call p99. With a Checkpointer the store's connection
// never checkpoints (wal_autocheckpoint = 0): a worker thread with a connection of its own runs
// PASSIVE checkpoints, which neither wait for nor block the writer, every `intervalMs`. The log's
// file is cut back to `WAL_LIMIT_BYTES` when it is reset. If the worker cannot start or stops, the
// connection's automatic checkpoints are turned back on and `onFallback` says why.

import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** SQLite's default automatic checkpoint threshold (pages), restored when the worker is gone. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** Largest size the WAL file is left at after a reset. */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;
export const CHECKPOINT_INTERVAL_MS = 100;

// The worker's code, plain CommonJS: it runs without the TypeScript loader of a checkout.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { if (!(e && e.code === 'SQLITE_BUSY')) throw e; }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface CheckpointerOptions {
  readonly intervalMs?: number;
  /** The worker could not start or stopped: automatic checkpoints are back on. Default: a process warning. */
  readonly onFallback?: (why: string) => void;
}

export class Checkpointer {
  readonly #db: Database.Database;
  readonly #worker: Worker;
  #stopped = false;

  /** `db` is the store's connection to `file` (in WAL mode). */
  constructor(db: Database.Database, file: string, opts: CheckpointerOptions = {}) {
    this.#db = db;
    const onFallback = opts.onFallback ?? ((why: string) => process.emitWarning(`WAL checkpoints run inline again: ${why}`, 'FareStoreWarning'));
    db.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
    db.pragma('wal_autocheckpoint = 0');
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER, { eval: true, workerData: { module, file, intervalMs: opts.intervalMs ?? CHECKPOINT_INTERVAL_MS } });
    // The worker must not keep a finished `fare up` alive.
    this.#worker.unref();
    const fallBack = (why: string): void => {
      if (this.#stopped) return;
      this.#stopped = true;
      if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      onFallback(why);
    };
    this.#worker.on('error', (e) => fallBack(`the checkpoint worker failed (${e instanceof Error ? e.message : String(e)})`));
    this.#worker.on('exit', (code) => fallBack(`the checkpoint worker exited (code ${code})`));
  }

  /** Stops the worker (its connection closes); the store's own connection checkpoints when it closes. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.postMessage('stop');
  }
}
