// The format of Fare's recordings of live traffic (`fare up --record FILE`), which the simulator
// replays (`fare sim replay FILE`): JSON Lines, a header then one line per execution. Written once
// here, for the live recorder (src/live/recorder.ts) and the simulator's reader
// (src/sim/workload/recorded.ts). Types and constants only.

export const TRACE_FORMAT = 'fare-trace';
export const TRACE_VERSION = 1;

/** The first line of a recording: how the traffic was served. */
export interface TraceHeader {
  readonly format: typeof TRACE_FORMAT;
  readonly version: typeof TRACE_VERSION;
  /** When the recording started (ISO 8601); every `t` is ms after it. */
  readonly recordedAt: string;
  /** The live policy (fare, hermod, fifo) and, for fare, its order within a class. */
  readonly policy: string;
  readonly within?: string;
  /**
   * Cores the machine scheduler handed out per machine, machines (1 for `fare up`), memory managed per
   * machine (MB). A cluster's gateway (`fare gateway --record`) does not know its workers: it leaves
   * `cores` and `machines` out, and the records say where each execution ran (`machine`, `cores`).
   */
  readonly cores?: number;
  readonly machines?: number;
  /** Scheduler shards (a cluster's; absent: 1). */
  readonly shards?: number;
  readonly memoryMB?: number;
  readonly prices: { readonly classes: readonly { readonly name: string; readonly price: number }[]; readonly memoryPrice?: number };
}

/** One execution as it ran live (a sync invocation, or one attempt of an async one). */
export interface TraceRecord {
  /** Arrival at the gateway (an async attempt: when it was handed to the scheduler), ms after `recordedAt`. */
  readonly t: number;
  /** `tenant/function`. */
  readonly fn: string;
  /** The class it ran at (its own, inherited, or the cheapest when degraded). */
  readonly class: string;
  /** CPU time it used, ms. */
  readonly cpuMs: number;
  /**
   * Time it held a core of its machine, ms (its receipt: start to answer, less preemptions and the
   * time it waited for its own calls): its size as the machine scheduler saw it, which a replay runs
   * it for; absent in recordings made before receipts (the replay then uses `cpuMs`).
   */
  readonly runMs?: number;
  /** The machine it ran on and its cores (its receipt's), where the recorder had the receipt. */
  readonly machine?: number;
  readonly cores?: number;
  /** Peak resident memory of its instance, MB. */
  readonly memMB: number;
  /** Measured live: arrival → answer, ms. */
  readonly latencyMs: number;
  /** Measured live: time before its handler ran (queued, placed, a cold start's init excluded), ms; absent if unknown. */
  readonly waitMs?: number;
  readonly type: 'sync' | 'async';
  readonly status: 'ok' | 'error';
}
