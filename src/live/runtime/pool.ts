// Warm instances per (function, version). An invocation takes an idle warm instance of its function's
// version or starts a new one (a cold start, counted and timed; from a ready stem cell of its runtime
// when `stems` has one, stem-cells.ts), and gives it back when done. Idle
// instances are reaped after a configurable time by an explicit reap(now) (the owner drives time:
// nextReapAt() says when to call it), a newer version retires the older ones, and a cap bounds the
// number of instances (evicting the least recently used idle instance of any function when full).
//
// The pool also carries out preemption by request id (pause/resume), so it is the worker's Executor.

import { performance } from 'node:perf_hooks';
import { lambdaVersion, type FunctionSpec, type InvokeOutcome, type InvokeRequest } from '../types.ts';
import type { Mutable } from '../../core/types.ts';
import { FareRuntimeError, InitError } from './errors.ts';
import { Instance, type InstanceOptions } from './instance.ts';
import { initFailureOutcome } from './outcomes.ts';
import type { StemCell } from './stem-cell.ts';
import { processMemory } from './pager.ts';
import { ChurnMap } from '../../core/util/churn-map.ts';

export interface PoolOptions {
  /** Most instances alive at once (starting, idle or busy), over all functions. */
  readonly maxInstances: number;
  /** reap() kills instances idle for longer than this (ms). */
  readonly idleTimeoutMs: number;
  /** Options for every instance the pool makes (ignored when `create` is given). */
  readonly instanceOptions?: Omit<InstanceOptions, 'fn'>;
  /** Makes an instance (default: `new Instance({ fn, ...instanceOptions, stem })`). */
  readonly create?: (fn: FunctionSpec, stem?: StemCell) => Instance;
  /**
   * Stem cells (stem-cells.ts): a cold start takes a ready one of the function's runtime, when there
   * is one, and its instance adopts it instead of launching a runtime.
   */
  readonly stems?: { take(fn: FunctionSpec): StemCell | null; close?(): Promise<void> };
  /** The clock reap() and idle times use (ms; default performance.now). */
  readonly clock?: () => number;
  /** Called when an invocation has its instance, just before it is handed the event (e.g. to set its kernel priority). */
  readonly onStart?: (requestId: string, instance: Instance) => void;
  /** Brings back an idle instance's memory that was swapped out (`swappedOut`), before it serves again. */
  readonly swapIn?: (instance: Instance, requestId: string | undefined) => Promise<void>;
}

/** An idle instance, as `idleInstances()` lists it. */
export interface IdleInstanceInfo {
  readonly instance: Instance;
  readonly fn: FunctionSpec;
  readonly idleSince: number;
}

export interface Acquired {
  readonly instance: Instance;
  readonly coldStart: boolean;
  /** Cold start time (ms), 0 when warm. */
  readonly initMs: number;
}

export interface PoolStats {
  readonly instances: number;
  readonly idle: number;
  readonly coldStarts: number;
  /** Cold starts served by a stem cell (counted in coldStarts too). */
  readonly stemStarts: number;
  readonly warmStarts: number;
  readonly initFailures: number;
  /** Sum of cold start times (ms). */
  readonly initMsTotal: number;
  readonly reaped: number;
  readonly retired: number;
  readonly evicted: number;
}

/** One group of `InstancePool.census()`. */
export interface PoolCensusRow {
  readonly cls: string;
  readonly state: 'running' | 'frozen' | 'idle' | 'swapped';
  readonly count: number;
  readonly residentBytes: number;
  readonly swappedBytes: number;
}

interface Slot {
  readonly instance: Instance;
  readonly fn: FunctionSpec;
  readonly key: string;
  readonly version: number;
  /** Its memory was swapped out while it was idle: read back before it serves again. */
  swappedOut?: boolean;
  idleSince: number;
  idle: boolean;
  /** Its function was deleted: never reused. */
  doomed?: boolean;
}

interface Pending {
  slot: Slot | null;
  paused: boolean;
  readonly requestId: string;
}

/** How often frozen invocations' instances are checked for a runtime that died (ms). */
const FROZEN_CHECK_MS = 500;

const fnKey = (fn: FunctionSpec): string => `${fn.tenant}/${fn.name}`;
/**
 * Idle instances are kept per (function, Fare's version, Lambda's version): an instance started for
 * `$LATEST` says so in its environment (AWS_LAMBDA_FUNCTION_VERSION), so it never serves a published
 * version of the same code, nor the other way round (as on Lambda).
 */
const idleKey = (key: string, fn: FunctionSpec): string => `${key}@${fn.version}/${lambdaVersion(fn)}`;

export class InstancePool {
  private readonly slots = new Map<Instance, Slot>();
  /** Idle slots per function version, most recently released last (reused first: fewer stay warm). */
  private readonly idle = new Map<string, Slot[]>();
  private readonly latest = new Map<string, number>();
  /** Versions that published versions run, per function: not retired when `$LATEST` moves on (they idle out). */
  private readonly pinned = new Map<string, Set<number>>();
  private readonly pending = new ChurnMap<string, Pending>();
  private readonly clock: () => number;
  private readonly counts = { coldStarts: 0, stemStarts: 0, warmStarts: 0, initFailures: 0, initMsTotal: 0, reaped: 0, retired: 0, evicted: 0 };
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    this.clock = opts.clock ?? (() => performance.now());
  }

  /** When an invocation last started or was answered (clock ms; -Infinity: none yet): stem cells start in quiet moments. */
  get lastActivity(): number {
    return this.#lastActivity;
  }

  #lastActivity = -Infinity;

  /** Runs an invocation on a warm or new instance. Init failures are outcomes; a full pool throws FARE_E_POOL_FULL. */
  async invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    this.#lastActivity = this.clock();
    const p: Pending = { slot: null, paused: false, requestId: req.requestId };
    this.pending.set(req.requestId, p);
    try {
      let a: Acquired;
      try {
        a = await this.take(req.fn, p);
      } catch (e) {
        if (e instanceof InitError) return initFailureOutcome(e);
        throw e;
      }
      this.opts.onStart?.(req.requestId, a.instance);
      if (p.paused) await a.instance.freeze(undefined, { next: req.requestId });
      // The instance is free again as soon as the function answers (its last invocation is still
      // measured until it is parked or serves its next one: see Instance).
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.release(a.instance);
      };
      const onAnswer = req.onAnswer;
      let out: InvokeOutcome;
      try {
        // A copy with its own onAnswer (not `{ ...req, onAnswer }`: on Node 20 a spread followed by
        // more properties takes V8's slow path, ~1.6 µs).
        const own: Mutable<InvokeRequest> = Object.assign({}, req);
        own.onAnswer = (ans) => {
          this.#lastActivity = this.clock();
          release();
          onAnswer?.(ans);
        };
        out = await a.instance.invoke(own);
      } finally {
        release();
      }
      return a.coldStart ? { ...out, coldStart: true, initMs: a.initMs } : out;
    } finally {
      if (this.pending.get(req.requestId)?.paused === true) this.unpaused();
      this.pending.delete(req.requestId);
    }
  }

  /** Preemption: freezes the instance running (or starting for) this invocation. */
  pause(requestId: string): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    if (!p.paused) this.paused++;
    p.paused = true;
    if (p.slot) void p.slot.instance.freeze(requestId);
    this.#watchFrozen ??= setInterval(() => this.reapFrozenDead(), FROZEN_CHECK_MS);
    this.#watchFrozen.unref();
  }

  resume(requestId: string): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    if (p.paused) this.unpaused();
    p.paused = false;
    if (p.slot) void p.slot.instance.thaw();
  }

  /**
   * Instances frozen mid-invocation whose runtime died meanwhile (see Instance.diedFrozen) are
   * killed now: their invocations end at once with the runtime's exit, instead of when they would
   * next have run (after a swap-in of memory nobody will use). Returns how many.
   */
  reapFrozenDead(): number {
    let n = 0;
    for (const p of this.pending.values()) {
      const i = p.slot?.instance;
      if (p.paused && i !== undefined && i.diedFrozen()) {
        n++;
        void i.kill();
      }
    }
    return n;
  }

  private paused = 0;
  #watchFrozen: NodeJS.Timeout | undefined;

  private unpaused(): void {
    if (--this.paused <= 0) {
      this.paused = 0;
      clearInterval(this.#watchFrozen);
      this.#watchFrozen = undefined;
    }
  }

  /** The processes of the instance serving an invocation (none before it has one). */
  processesOf(requestId: string): number[] {
    return this.instanceFor(requestId)?.processes() ?? [];
  }

  /** Resident memory of the instance serving an invocation (MB; 0 before it has one); `maxAgeMs`: see `Instance.memoryBytes`. */
  residentMB(requestId: string, maxAgeMs = 0): number {
    const i = this.instanceFor(requestId);
    return i === null ? 0 : i.memoryBytes(maxAgeMs) / (1024 * 1024);
  }

  /** The instance serving an invocation (for setPriority and inspection), if it has one yet. */
  instanceFor(requestId: string): Instance | null {
    return this.pending.get(requestId)?.slot?.instance ?? null;
  }

  /** An idle warm instance of this version, or a newly started one. Rejects with InitError or FARE_E_POOL_FULL. */
  acquire(fn: FunctionSpec): Promise<Acquired> {
    return this.take(fn, null);
  }

  /** Whether an invocation of `fn` can get an instance now without waiting for one to be released. */
  hasCapacity(fn: FunctionSpec): boolean {
    if ((this.idle.get(idleKey(fnKey(fn), fn)) ?? []).some((s) => s.instance.state === 'idle')) return true;
    return this.slots.size < this.opts.maxInstances || [...this.slots.values()].some((s) => s.idle);
  }

  /** Gives an instance back after an invocation; dead or outdated instances are dropped. */
  release(instance: Instance): void {
    const slot = this.slots.get(instance);
    if (!slot) return;
    if (instance.state !== 'idle' || this.closed || slot.doomed === true) return this.drop(slot);
    if (slot.version < (this.latest.get(slot.key) ?? slot.version) && this.pinned.get(slot.key)?.has(slot.version) !== true) {
      this.counts.retired++;
      return this.drop(slot);
    }
    slot.idle = true;
    slot.idleSince = this.clock();
    const k = idleKey(slot.key, slot.fn);
    const list = this.idle.get(k) ?? [];
    list.push(slot);
    this.idle.set(k, list);
  }

  /** Kills instances idle longer than idleTimeoutMs at `now`; returns how many. */
  reap(now: number = this.clock()): number {
    let n = 0;
    for (const s of [...this.slots.values()]) {
      if (s.idle && now - s.idleSince > this.opts.idleTimeoutMs) {
        this.drop(s);
        n++;
      }
    }
    this.counts.reaped += n;
    return n;
  }

  /** When the next idle instance becomes reapable (Infinity: none is idle). */
  nextReapAt(): number {
    let t = Infinity;
    for (const s of this.slots.values()) if (s.idle) t = Math.min(t, s.idleSince + this.opts.idleTimeoutMs);
    return t;
  }

  /**
   * Every instance of the function, whatever its version (it was deleted): idle ones are killed now,
   * busy ones when released. A function created again under the name starts afresh.
   */
  retireAll(tenant: string, name: string): number {
    const key = `${tenant}/${name}`;
    this.latest.delete(key);
    this.pinned.delete(key);
    let n = 0;
    for (const s of [...this.slots.values()]) {
      if (s.key !== key) continue;
      s.doomed = true;
      if (s.idle) {
        this.drop(s);
        n++;
      }
    }
    this.counts.retired += n;
    return n;
  }

  /**
   * Retires every instance of the function older than `version` (idle now, busy on release), but
   * those of a version a published version runs: its code never changes, so they stay warm until
   * they idle out (a deleted published version is no longer invoked, and its instances idle out too).
   */
  retire(tenant: string, name: string, version: number): number {
    const key = `${tenant}/${name}`;
    if (version > (this.latest.get(key) ?? -Infinity)) this.latest.set(key, version);
    const pinned = this.pinned.get(key);
    let n = 0;
    for (const s of [...this.slots.values()]) {
      if (s.key === key && s.version < version && s.idle && pinned?.has(s.version) !== true) {
        this.drop(s);
        n++;
      }
    }
    this.counts.retired += n;
    return n;
  }

  /** Idle instances, frozen between invocations, whose memory is not swapped out: what the worker may swap out under pressure. */
  idleInstances(): IdleInstanceInfo[] {
    const out: IdleInstanceInfo[] = [];
    for (const s of this.slots.values()) {
      if (s.idle && s.swappedOut !== true && s.instance.state === 'idle' && s.instance.isParked) out.push({ instance: s.instance, fn: s.fn, idleSince: s.idleSince });
    }
    return out;
  }

  /** The idle instance's memory is being swapped out: its next invocation reads it back first. */
  markSwappedOut(instance: Instance): void {
    const s = this.slots.get(instance);
    if (s !== undefined) s.swappedOut = true;
  }

  /**
   * The instances now, grouped by their function's class and where they are: running (or starting),
   * frozen (preempted), idle (warm between invocations), swapped (memory in swap, idle or preempted),
   * with their resident memory and, for swapped ones, what is in swap (read from /proc). For metrics.
   */
  census(): PoolCensusRow[] {
    const rows = new Map<string, Mutable<PoolCensusRow>>();
    for (const s of this.slots.values()) {
      const i = s.instance;
      if (i.state === 'dead') continue;
      const swapped = i.swappedOut || s.swappedOut === true;
      const state = swapped ? 'swapped' : s.idle ? 'idle' : i.isFrozen ? 'frozen' : 'running';
      const key = `${s.fn.cls}\0${state}`;
      let r = rows.get(key);
      if (r === undefined) rows.set(key, (r = { cls: s.fn.cls, state, count: 0, residentBytes: 0, swappedBytes: 0 }));
      r.count++;
      r.residentBytes += i.memoryBytes();
      if (swapped) for (const pid of i.processes()) r.swappedBytes += processMemory(pid)?.swap ?? 0;
    }
    return [...rows.values()];
  }

  stats(): PoolStats {
    let idle = 0;
    for (const s of this.slots.values()) if (s.idle) idle++;
    return { instances: this.slots.size, idle, ...this.counts };
  }

  /** Kills every instance. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.slots.keys()];
    for (const s of [...this.slots.values()]) this.drop(s);
    await Promise.all([...all.map((i) => i.kill()), this.opts.stems?.close?.()]);
  }

  // ---- internals ---------------------------------------------------------------------------------

  private async take(fn: FunctionSpec, p: Pending | null): Promise<Acquired> {
    if (this.closed) throw new FareRuntimeError('FARE_E_INSTANCE_STATE', 'the pool is closed');
    const key = fnKey(fn);
    if (fn.published !== undefined) {
      const set = this.pinned.get(key) ?? new Set<number>();
      set.add(fn.version);
      this.pinned.set(key, set);
    }
    if (fn.version > (this.latest.get(key) ?? -Infinity)) this.retire(fn.tenant, fn.name, fn.version);
    const warm = this.popIdle(idleKey(key, fn));
    if (warm) {
      if (p) p.slot = warm;
      if (warm.swappedOut === true) {
        warm.swappedOut = false;
        await this.opts.swapIn?.(warm.instance, p?.requestId);
      }
      this.counts.warmStarts++;
      return { instance: warm.instance, coldStart: false, initMs: 0 };
    }
    if (this.slots.size >= this.opts.maxInstances && !this.evictOne()) {
      throw new FareRuntimeError('FARE_E_POOL_FULL', `all ${this.opts.maxInstances} instances are busy or starting: queue the invocation and retry when one is released`);
    }
    const stem = this.opts.stems?.take(fn) ?? undefined;
    const instance = this.opts.create !== undefined ? this.opts.create(fn, stem) : new Instance({ ...this.opts.instanceOptions, fn, ...(stem !== undefined ? { stem } : {}) });
    if (stem !== undefined) this.counts.stemStarts++;
    const slot: Slot = { instance, fn, key, version: fn.version, idleSince: 0, idle: false };
    this.slots.set(instance, slot);
    if (p) p.slot = slot;
    this.counts.coldStarts++;
    try {
      const { initMs } = await instance.start();
      this.counts.initMsTotal += initMs;
      if (p?.paused) await instance.freeze(undefined, { next: p.requestId }); // paused while its process did not exist yet
      void instance.exited().then(() => this.drop(slot));
      return { instance, coldStart: true, initMs };
    } catch (e) {
      this.counts.initFailures++;
      this.drop(slot);
      throw e;
    }
  }

  private popIdle(k: string): Slot | null {
    const list = this.idle.get(k);
    while (list && list.length > 0) {
      const s = list.pop();
      if (!s) break;
      s.idle = false;
      if (s.instance.state === 'idle') return s;
      this.drop(s);
    }
    return null;
  }

  /** Kills the least recently used idle instance of any function to make room; false if none is idle. */
  private evictOne(): boolean {
    let lru: Slot | null = null;
    for (const s of this.slots.values()) if (s.idle && (lru === null || s.idleSince < lru.idleSince)) lru = s;
    if (lru === null) return false;
    this.drop(lru);
    this.counts.evicted++;
    return true;
  }

  private drop(s: Slot): void {
    if (this.slots.get(s.instance) !== s) return;
    this.slots.delete(s.instance);
    if (s.idle) {
      const k = idleKey(s.key, s.fn);
      const list = this.idle.get(k)?.filter((x) => x !== s) ?? [];
      if (list.length > 0) this.idle.set(k, list);
      else this.idle.delete(k);
    }
    s.idle = false;
    void s.instance.kill();
  }
}
