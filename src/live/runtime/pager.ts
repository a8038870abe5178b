// Moving a frozen instance's memory out to swap and back, through the kernel: pidfd_open(2) and
// process_madvise(2) over each process's mappings — MADV_PAGEOUT to write its pages to swap and
// free them, MADV_WILLNEED to read them back into memory (the swap cache) before it runs again, so
// its first touches are minor faults, not disk reads. Called from Node with koffi (libc's
// `syscall`), on koffi's worker threads: paging out 1 GiB takes about a second, which the worker's
// event loop must not wait for. How much moved is read from /proc/<pid>/status (VmRSS, VmSwap) and
// /proc/meminfo.
//
// `syscall` is variadic in C; it is declared here with fixed arguments (koffi calls only those
// asynchronously). That is sound where Fare runs: glibc's syscall is an assembly stub that only moves
// registers, and on x86-64 and arm64 integer arguments travel the same way either way.
//
// Needs Linux ≥ 5.10, swap, and the right to act on the process (CAP_SYS_NICE and ptrace access:
// root, or the instance's own uid with CAP_SYS_NICE). `openPager` says why not where it cannot.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The kernel's madvise advice values (include/uapi/asm-generic/mman-common.h). */
const MADV_WILLNEED = 3;
const MADV_PAGEOUT = 21;
/** System call numbers: the same on x86-64 and arm64 (both use the generic table for these). */
const SYS_PIDFD_OPEN = 434;
const SYS_PROCESS_MADVISE = 440;
/** iovecs per process_madvise call (the kernel's UIO_MAXIOV). */
const MAX_IOV = 1024;

export interface PageResult {
  /** Bytes the kernel was asked about (the mappings' sizes), over all processes. */
  readonly advisedBytes: number;
  /** Swapped and resident bytes of the processes before and after (VmSwap, VmRSS). */
  readonly swapBefore: number;
  readonly swapAfter: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly ms: number;
  /** Processes that were gone or refused (their pids). */
  readonly skipped: readonly number[];
}

export interface Pager {
  /** Which mechanism, for the start-up report. */
  readonly how: string;
  /** Writes the processes' memory to swap and frees it (they should be frozen). */
  pageOut(pids: readonly number[]): Promise<PageResult>;
  /** Reads the processes' swapped memory back into RAM (the swap cache) before they run. */
  pageIn(pids: readonly number[]): Promise<PageResult>;
  /**
   * Pages from these CPUs only: those the instances run on (see cpus.ts), so that the TLB flushes
   * that end a reclaim are local, not sent to a CPU running the top class. False where it cannot.
   */
  pin(cpus: readonly number[]): Promise<boolean>;
}

type Async<A extends unknown[]> = { (...args: A): number | bigint; async: (...args: [...A, (err: unknown, res: number | bigint) => void]) => void };

interface Sys {
  pidfdOpen: Async<[number, number, number]>;
  processMadvise: Async<[number, number, Buffer, number, number, number]>;
  close: (fd: number) => number;
  errno: () => number;
}

/** The paging thread's nice value: above the top class's −5 (kernel-priority.ts). */
const PAGING_NICE = -10;

const call = <A extends unknown[]>(f: Async<A>, ...args: A): Promise<number> =>
  new Promise((resolve, reject) => f.async(...args, (err, res) => (err ? reject(err instanceof Error ? err : new Error(`koffi: ${JSON.stringify(err)}`)) : resolve(Number(res)))));

/** Swap the kernel has (bytes), from /proc/meminfo. */
export function swapTotalBytes(): number {
  return meminfo('SwapTotal');
}

/** The page cache's copy of swapped pages (bytes): what MADV_WILLNEED brings back lands here. */
export function swapCachedBytes(): number {
  return meminfo('SwapCached');
}

function meminfo(field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** VmRSS and VmSwap of a process (bytes), or null when it is gone. */
export function processMemory(pid: number): { rss: number; swap: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (f: string): number => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), swap: kb('VmSwap') };
}

/**
 * The ranges worth advising: every mapping but the kernel's special ones ([vdso], [vvar],
 * [vsyscall]: advising them fails). File-backed pages paged out are dropped (read again from the file).
 */
function ranges(pid: number): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const dash = line.indexOf('-');
    const path = line.slice(line.lastIndexOf(' ') + 1);
    if (path.startsWith('[v')) continue;
    const start = BigInt(`0x${line.slice(0, dash)}`);
    const end = BigInt(`0x${line.slice(dash + 1, sp)}`);
    if (end > start) out.push([start, end - start]);
  }
  return out;
}

/**
 * The thread that pages: a worker thread of its own at nice −10, so that paging out the lowest class
 * is not slowed by the higher class whose memory needs caused it (an instance at nice −5 sharing the
 * pager's core made page-out 2–3× slower here), pinned to the functions' CPUs where they have their
 * own (`pin`): paged from another CPU, each TLB flush that ends a reclaim interrupts the CPU running
 * the top class (measured here: the top class 2 × slower while 1 GiB was paged out; pinned, 1.02 ×).
 * process_madvise is called there synchronously.
 */
class PagingThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, (n: number) => void>();
  #next = 0;
  /** The nice value it got (null: it could not raise itself, it pages at Fare's own). */
  nice: number | null = null;

  constructor(koffiPath: string) {
    this.#worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      const koffi = require(${JSON.stringify(koffiPath)});
      const c = koffi.load(null);
      const madvise = c.func('long syscall(long, int, void *, size_t, int, unsigned int)');
      const setpriority = c.func('int setpriority(int, unsigned int, int)');
      // PRIO_PROCESS with who 0: this thread (Linux keeps a nice value per thread).
      parentPort.postMessage({ nice: setpriority(0, 0, ${PAGING_NICE}) === 0 ? ${PAGING_NICE} : null });
      const setaffinity = c.func('int sched_setaffinity(int, size_t, void *)');
      parentPort.on('message', (m) => {
        if (m.pin !== undefined) {
          // pid 0: this thread; a mask of 1,024 CPUs.
          const mask = Buffer.alloc(128);
          for (const cpu of m.pin) mask[cpu >> 3] |= 1 << (cpu & 7);
          parentPort.postMessage({ id: m.id, n: setaffinity(0, mask.length, mask) });
          return;
        }
        const n = Number(madvise(${SYS_PROCESS_MADVISE}, m.fd, Buffer.from(m.iov), m.count, m.advice, 0));
        parentPort.postMessage({ id: m.id, n });
      });`, { eval: true });
    this.#worker.on('message', (m: { id?: number; n?: number; nice?: number | null }) => {
      if (m.id === undefined) {
        this.nice = m.nice ?? null;
        return;
      }
      const done = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (this.#waiting.size === 0) this.#worker.unref();
      done?.(m.n ?? -1);
    });
    this.#worker.on('error', () => {
      for (const done of this.#waiting.values()) done(-1);
      this.#waiting.clear();
      this.#worker.unref();
    });
    // Not a reason for Fare to stay up (after its listeners: adding one refs the worker again).
    this.#worker.unref();
  }

  /** Moves this thread to `cpus`; 0 when done. */
  pin(cpus: readonly number[]): Promise<number> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#wait(id, resolve);
      this.#worker.postMessage({ id, pin: [...cpus] });
    });
  }

  /** An answer awaited keeps the process up (the thread is unref'd otherwise). */
  #wait(id: number, resolve: (n: number) => void): void {
    if (this.#waiting.size === 0) this.#worker.ref();
    this.#waiting.set(id, resolve);
  }

  madvise(fd: number, iov: Buffer, count: number, advice: number): Promise<number> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#wait(id, resolve);
      this.#worker.postMessage({ id, fd, iov: new Uint8Array(iov), count, advice });
    });
  }
}

class ProcessMadvise implements Pager {
  readonly how = 'process_madvise(MADV_PAGEOUT / MADV_WILLNEED) via pidfd_open, called with koffi on a paging thread at nice −10';
  constructor(private readonly sys: Sys, private readonly thread?: PagingThread) {}

  pageOut(pids: readonly number[]): Promise<PageResult> {
    return this.advise(pids, MADV_PAGEOUT);
  }

  pageIn(pids: readonly number[]): Promise<PageResult> {
    return this.advise(pids, MADV_WILLNEED);
  }

  async pin(cpus: readonly number[]): Promise<boolean> {
    if (this.thread === undefined || cpus.length === 0 || cpus.some((c) => !Number.isInteger(c) || c < 0 || c >= 1024)) return false;
    return (await this.thread.pin(cpus)) === 0;
  }

  private async advise(pids: readonly number[], advice: number): Promise<PageResult> {
    const t0 = performance.now();
    let advised = 0, swapBefore = 0, rssBefore = 0, swapAfter = 0, rssAfter = 0;
    const skipped: number[] = [];
    for (const pid of pids) {
      const before = processMemory(pid);
      if (before === null) {
        skipped.push(pid);
        continue;
      }
      swapBefore += before.swap;
      rssBefore += before.rss;
      const fd = Number(this.sys.pidfdOpen(SYS_PIDFD_OPEN, pid, 0));
      if (fd < 0) {
        skipped.push(pid);
        continue;
      }
      try {
        let list: [bigint, bigint][];
        try {
          list = ranges(pid);
        } catch {
          skipped.push(pid);
          continue;
        }
        for (let i = 0; i < list.length; i += MAX_IOV) {
          const batch = list.slice(i, i + MAX_IOV);
          advised += await this.call(fd, batch, advice);
        }
      } finally {
        this.sys.close(fd);
      }
      const after = processMemory(pid);
      swapAfter += after?.swap ?? 0;
      rssAfter += after?.rss ?? 0;
    }
    return { advisedBytes: advised, swapBefore, swapAfter, rssBefore, rssAfter, ms: performance.now() - t0, skipped };
  }

  /** One process_madvise call over `batch`; a range the kernel refuses is skipped, one at a time. */
  private async call(fd: number, batch: readonly [bigint, bigint][], advice: number): Promise<number> {
    // Its own vector: calls of several instances may be under way at once.
    const iov = Buffer.alloc(batch.length * 16);
    batch.forEach(([base, len], j) => {
      iov.writeBigUInt64LE(base, j * 16);
      iov.writeBigUInt64LE(len, j * 16 + 8);
    });
    const n = this.thread !== undefined
      ? await this.thread.madvise(fd, iov, batch.length, advice)
      : await call(this.sys.processMadvise, SYS_PROCESS_MADVISE, fd, iov, batch.length, advice, 0);
    if (n >= 0) return n;
    if (batch.length === 1) return 0;
    // A mapping that changed under us or cannot be advised: the others still are.
    let sum = 0;
    for (const r of batch) sum += await this.call(fd, [r], advice);
    return sum;
  }
}

/** The pager, or why there is none here. */
export async function openPager(): Promise<{ ok: true; pager: Pager } | { ok: false; why: string }> {
  if (process.platform !== 'linux') return { ok: false, why: 'swapping instances needs Linux' };
  let koffi: typeof import('koffi');
  try {
    koffi = await import('koffi');
  } catch (e) {
    return { ok: false, why: `koffi did not load (${(e as Error).message})` };
  }
  const c = koffi.load(null);
  const sys: Sys = {
    pidfdOpen: c.func('long syscall(long, int, unsigned int)') as Sys['pidfdOpen'],
    processMadvise: c.func('long syscall(long, int, void *, size_t, int, unsigned int)') as Sys['processMadvise'],
    close: c.func('int close(int)') as Sys['close'],
    errno: () => koffi.errno(),
  };
  // Proven on this process: pidfd_open and process_madvise(MADV_WILLNEED) over a small mapping.
  const fd = Number(sys.pidfdOpen(SYS_PIDFD_OPEN, process.pid, 0));
  if (fd < 0) return { ok: false, why: `pidfd_open failed (errno ${sys.errno()}; needs Linux ≥ 5.3)` };
  try {
    const first = ranges(process.pid).find(([, len]) => len > 0n);
    if (first === undefined) return { ok: false, why: 'no mapping to prove process_madvise on' };
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(first[0], 0);
    iov.writeBigUInt64LE(BigInt(4096), 8);
    const n = Number(sys.processMadvise(SYS_PROCESS_MADVISE, fd, iov, 1, MADV_WILLNEED, 0));
    if (n < 0) {
      const e = sys.errno();
      return { ok: false, why: `process_madvise failed (errno ${e}${e === 1 ? ': needs CAP_SYS_NICE' : e === 38 ? ': needs Linux ≥ 5.10' : ''})` };
    }
    if (process.arch !== 'x64' && process.arch !== 'arm64') {
      return { ok: false, why: `swapping instances is done on x86-64 and arm64 only (this is ${process.arch})` };
    }
  } finally {
    sys.close(fd);
  }
  let thread: PagingThread | undefined;
  try {
    thread = new PagingThread(createRequire(import.meta.url).resolve('koffi'));
  } catch {
    thread = undefined; // paged from koffi's own threads, at Fare's priority
  }
  return { ok: true, pager: new ProcessMadvise(sys, thread) };
}
