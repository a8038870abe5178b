// Time for the live drivers: `now()` and one-shot timers at an absolute time. The real clock is
// `performance.now()` and `setTimeout`; the conformance suite and tests drive a virtual one, so the
// same live driver code runs in wall time or in scripted time.

import type { Millis } from '../../core/types.ts';

export interface Clock {
  now(): Millis;
  /** Calls `fn` once at time `t` (at once, asynchronously, if `t` has passed). Returns the cancel. */
  at(t: Millis, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  at(t, fn) {
    const timer = setTimeout(fn, Math.max(0, t - performance.now()));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/**
 * A clock that moves only when told: timers fire in (time, order set) order as `advanceTo` passes
 * them. For tests and the conformance suite.
 */
export class VirtualClock implements Clock {
  private t: Millis = 0;
  private seq = 0;
  private timers: { t: Millis; seq: number; fn: () => void; live: boolean }[] = [];

  now(): Millis {
    return this.t;
  }

  at(t: Millis, fn: () => void): () => void {
    const timer = { t: Math.max(t, this.t), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  /** The earliest pending timer's time (Infinity: none). */
  nextTimer(): Millis {
    let best = Infinity;
    for (const x of this.timers) if (x.live && x.t < best) best = x.t;
    return best;
  }

  /** Moves time to the earliest timer due by `t` and fires it; returns false when none is due (time is then `t`). */
  fireNext(t: Millis): boolean {
    let best: (typeof this.timers)[number] | undefined;
    for (const x of this.timers) {
      if (x.live && x.t <= t && (best === undefined || x.t < best.t || (x.t === best.t && x.seq < best.seq))) best = x;
    }
    if (best === undefined) {
      this.t = Math.max(this.t, t);
      this.timers = this.timers.filter((x) => x.live);
      return false;
    }
    best.live = false;
    this.t = best.t;
    best.fn();
    return true;
  }
}
