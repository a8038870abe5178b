// Memory pressure as the kernel sees it (PSI, Linux ≥ 4.20: /proc/pressure/memory). Two uses: the
// share of time tasks stalled on memory (avg10, for the worker's report and readings), and a trigger
// that wakes the worker as soon as tasks stall on memory for `stallMs` within `windowMs` — so memory
// is read at once when it matters, and seldom otherwise. The trigger's file descriptor signals
// POLLPRI; it is waited for with poll(2), called through koffi on a worker thread of its own with a
// timeout (so it can stop within it) — not on libuv's pool, whose four threads the worker's file and
// crypto work needs: a poll there would hold one of them for good.

import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const PSI_MEMORY = '/proc/pressure/memory';
const POLLPRI = 0x2;
const POLLERR = 0x8;
/** The longest a poll waits before looking again (ms): how long stopping may take. */
const POLL_TIMEOUT_MS = 1000;

/** Share of the last 10 s in which some task stalled on memory (0…1), or undefined without PSI. */
export function memoryStall(): number | undefined {
  try {
    const m = /^some avg10=([\d.]+)/m.exec(readFileSync(PSI_MEMORY, 'utf8'));
    return m ? Number(m[1]) / 100 : undefined;
  } catch {
    return undefined;
  }
}

export interface PressureWatch {
  /** What it watches, for the start-up report. */
  readonly how: string;
  stop(): void;
  /** Settles once the watching thread has ended and the trigger is closed (within a poll's timeout of `stop`). */
  readonly closed: Promise<void>;
}

/**
 * The watching thread: poll(2) on the trigger, a message on each POLLPRI, until told to stop (a flag
 * in shared memory, looked at after each poll) or the trigger is gone.
 */
const WATCHER = `
const { parentPort, workerData } = require('node:worker_threads');
const poll = require(workerData.koffi).load(null).func('int poll(void *fds, unsigned long nfds, int timeout)');
const stop = new Int32Array(workerData.stop);
const fds = Buffer.alloc(8);
fds.writeInt32LE(workerData.fd, 0);
fds.writeInt16LE(${POLLPRI}, 4);
while (Atomics.load(stop, 0) === 0) {
  fds.writeInt16LE(0, 6);
  const n = poll(fds, 1, ${POLL_TIMEOUT_MS});
  if (Atomics.load(stop, 0) !== 0) break;
  const revents = fds.readInt16LE(6);
  if (n > 0 && (revents & ${POLLERR}) !== 0) break; // the trigger is gone
  if (n > 0 && (revents & ${POLLPRI}) !== 0) parentPort.postMessage('stall');
}
`;

/**
 * Calls `onStall` each time tasks stalled on memory for `stallMs` within a `windowMs` window (the
 * kernel's trigger: a window from 500 ms to 10 s, a multiple of 2 s without CAP_SYS_RESOURCE — as
 * here, the default). Resolves to why not where PSI, its triggers or koffi are missing.
 */
export async function watchMemoryStalls(onStall: () => void, stallMs = 100, windowMs = 2000): Promise<PressureWatch | { why: string }> {
  let koffiPath: string;
  try {
    koffiPath = createRequire(import.meta.url).resolve('koffi');
    await import('koffi');
  } catch (e) {
    return { why: `koffi did not load (${(e as Error).message})` };
  }
  let fd: number;
  try {
    fd = openSync(PSI_MEMORY, 'r+');
  } catch (e) {
    return { why: `no PSI (${(e as Error).message.split(',')[0] ?? ''})` };
  }
  try {
    // The kernel reads the trigger up to its last byte, which it replaces with a NUL: a newline ends it.
    writeSync(fd, `some ${stallMs * 1000} ${windowMs * 1000}\n`);
  } catch (e) {
    closeSync(fd);
    return { why: `PSI triggers refused (${(e as Error).message.split(',')[0] ?? ''})` };
  }
  const stop = new SharedArrayBuffer(4);
  let worker: Worker;
  try {
    worker = new Worker(WATCHER, { eval: true, workerData: { koffi: koffiPath, fd, stop } });
  } catch (e) {
    closeSync(fd);
    return { why: `no thread to watch it on (${(e as Error).message})` };
  }
  worker.on('message', () => onStall());
  // A thread that fails only ends the trigger: the worker's periodic readings go on.
  worker.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => worker.once('exit', () => {
    closeSync(fd);
    resolve();
  }));
  // Not a reason for Fare to stay up (after its listeners: adding one refs the worker again).
  worker.unref();
  return {
    how: `a PSI trigger (tasks stalled on memory ${stallMs} ms within ${windowMs} ms)`,
    stop: () => {
      Atomics.store(new Int32Array(stop), 0, 1);
    },
    closed,
  };
}
