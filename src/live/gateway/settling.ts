// Invocations answered whose record is still to come. A synchronous invocation's caller has its
// answer as soon as the function answers; its measurement — and so its billing record, log entry
// and receipt — ends when its instance parks (≈ 10 ms later, longer on a loaded machine: a cgroup
// freeze waits for the kernel). A read of that record by request id (its receipt, its log entry)
// waits here for it, for a bounded time, instead of answering "not found" for an invocation its
// caller was just answered about.
//
// Cheap on the warm path: `begin` stores one map entry, and a promise is made only for a reader
// that waits.
//
// In a cluster, an invocation answered by another gateway has its record made there, and this
// gateway enters it from the cluster's log stream a moment later (ms; more on a loaded machine). A
// read here for a request id not known here (`elsewhere`) waits for it, as long as the id could be
// such an invocation's: a request id is a version-7 UUID, whose first 48 bits are the time the
// invocation was accepted, and an invocation runs at most 15 minutes.

import { requestIdTime } from './request-id.ts';
import { ChurnMap } from '../../core/util/churn-map.ts';

/** How long a read by request id waits for an answered invocation's record, at most (ms). */
export const SETTLE_WAIT_MS = 10_000;
/** How long a read waits for another gateway's record of a request id not known here, at most (ms). */
export const ELSEWHERE_WAIT_MS = 3_000;
/** A request id accepted longer ago than this (ms: the longest timeout, 15 min, and a minute) is not waited for. */
export const ELSEWHERE_MAX_AGE_MS = 16 * 60_000;

export class Settling {
  /** Request id → the readers waiting for its record (null: none yet). */
  readonly #open = new ChurnMap<string, (() => void)[] | null>();
  /** Request id → the readers waiting for another gateway's record of it. */
  readonly #elsewhere = new ChurnMap<string, Set<() => void>>();
  readonly #otherGateways: boolean;

  /** `otherGateways`: in a cluster, records of invocations other gateways answered come here too (`entered`). */
  constructor(opts: { readonly otherGateways?: boolean } = {}) {
    this.#otherGateways = opts.otherGateways === true;
  }

  /** Called once no answered invocation's record is still to come (`settled`). */
  #whenNone: (() => void)[] = [];

  /** Notes that `requestId` was answered before its record was made; call the result once it is made (or lost). */
  begin(requestId: string): () => void {
    this.#open.set(requestId, null);
    return () => {
      const waiting = this.#open.get(requestId);
      if (!this.#open.delete(requestId)) return;
      if (waiting) for (const w of waiting) w();
      if (this.#open.size === 0 && this.#whenNone.length > 0) for (const w of this.#whenNone.splice(0)) w();
    };
  }

  /**
   * Resolves true once no answered invocation's record is still to come (at once if none is), or
   * false if some still are after `maxMs`: a stopping gateway waits for them, so that what it
   * answered is billed.
   */
  settled(maxMs: number): Promise<boolean> {
    if (this.#open.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#whenNone = this.#whenNone.filter((w) => w !== done);
        resolve(false);
      }, maxMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#whenNone.push(done);
    });
  }

  /** Answered invocations whose record is still to come. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Resolves true once `requestId`'s record is made (at once if it is not awaited), or false if it
   * is still to come after `maxMs`.
   */
  wait(requestId: string, maxMs = SETTLE_WAIT_MS): Promise<boolean> {
    if (!this.#open.has(requestId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), maxMs);
      const waiting = this.#open.get(requestId) ?? [];
      waiting.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.#open.set(requestId, waiting);
    });
  }

  /** Another gateway's record of `requestId` was entered here: the reads waiting for it go on. */
  entered(requestId: string): void {
    const waiting = this.#elsewhere.get(requestId);
    if (waiting === undefined) return;
    this.#elsewhere.delete(requestId);
    for (const w of waiting) w();
  }

  /**
   * For a request id whose record is not here (looked up just before, in the same turn): resolves
   * true once another gateway's record of it is entered, or false after `maxMs`, or at once when
   * there are no other gateways or the id cannot be a recent invocation's (`nowMs`: the time now).
   */
  elsewhere(requestId: string, nowMs: number, maxMs = ELSEWHERE_WAIT_MS): Promise<boolean> {
    const t = requestIdTime(requestId);
    if (!this.#otherGateways || t === undefined || t > nowMs + 60_000 || nowMs - t > ELSEWHERE_MAX_AGE_MS) return Promise.resolve(false);
    return new Promise((resolve) => {
      let waiting = this.#elsewhere.get(requestId);
      if (waiting === undefined) this.#elsewhere.set(requestId, (waiting = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiting.delete(done);
        if (waiting.size === 0 && this.#elsewhere.get(requestId) === waiting) this.#elsewhere.delete(requestId);
        resolve(false);
      }, maxMs);
      waiting.add(done);
    });
  }
}
