// Memory pressure as the kernel sees it (PSI, Linux ≥ 4.20: /proc/pressure/memory). Two uses: the
// share of time tasks stalled on memory (avg10, for the worker's report and readings), and a trigger
// that wakes the worker as soon as tasks stall on memory for `stallMs` within `windowMs` — so memory
// is read at once when it matters, and seldom otherwise. The trigger's file descriptor signals
// POLLPRI; it is waited for with poll(2), called through koffi on a worker thread with a timeout (so
// the process can stop within it).

import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

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
}

type PollFn = { async: (fds: Buffer, nfds: number, timeout: number, cb: (err: unknown, res: number) => void) => void };

/**
 * Calls `onStall` each time tasks stalled on memory for `stallMs` within a `windowMs` window (the
 * kernel's trigger: a window from 500 ms to 10 s, a multiple of 2 s without CAP_SYS_RESOURCE — as
 * here, the default). Resolves to why not where PSI, its triggers or koffi are missing.
 */
export async function watchMemoryStalls(onStall: () => void, stallMs = 100, windowMs = 2000): Promise<PressureWatch | { why: string }> {
  let poll: PollFn;
  try {
    const koffi = await import('koffi');
    poll = koffi.load(null).func('int poll(void *fds, unsigned long nfds, int timeout)') as PollFn;
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
  let stopped = false;
  const fds = Buffer.alloc(8);
  fds.writeInt32LE(fd, 0);
  fds.writeInt16LE(POLLPRI, 4);
  const once = (): Promise<number> => new Promise((resolve, reject) => {
    fds.writeInt16LE(0, 6);
    poll.async(fds, 1, POLL_TIMEOUT_MS, (err, res) => (err ? reject(err instanceof Error ? err : new Error(`poll failed: ${JSON.stringify(err)}`)) : resolve(res)));
  });
  void (async () => {
    try {
      while (!stopped) {
        const n = await once();
        if (stopped) break;
        const revents = fds.readInt16LE(6);
        if (n > 0 && (revents & POLLERR) !== 0) break; // the trigger is gone
        if (n > 0 && (revents & POLLPRI) !== 0) onStall();
      }
    } catch {
      // poll failed: the worker's periodic readings go on
    } finally {
      closeSync(fd);
    }
  })();
  return {
    how: `a PSI trigger (tasks stalled on memory ${stallMs} ms within ${windowMs} ms)`,
    stop: () => {
      stopped = true;
    },
  };
}
