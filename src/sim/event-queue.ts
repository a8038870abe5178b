// The simulator's event queue: one pending wake-up per owner (a machine, the arrival source, a sampler),
// ordered by (time, sequence). Re-scheduling an owner moves its entry, so the queue holds only pending
// events and never stale ones.
//
// Layout, for the 10,000-machine case where the queue no longer fits in cache: a 4-ary heap (half the
// levels of a binary one) whose entries are (time, sequence, owner) triples interleaved in one
// Float64Array, so the four children compared at each level sit in one or two cache lines.
// An owner read back from it is a double: `| 0` makes it an integer again, or every index computed
// from it downstream (a machine's rows) would be a double that V8 checks and converts at each access
// (11 % of the simulator's time at the paper's scale).

const STRIDE = 3;

export class EventQueue {
  /** Entry i at [STRIDE*i]: time, sequence, owner. */
  private e: Float64Array;
  /** Heap position of each owner, or -1. */
  private readonly pos: Int32Array;
  private n = 0;
  private counter = 0;

  constructor(owners: number) {
    this.e = new Float64Array(Math.max(4, owners) * STRIDE);
    this.pos = new Int32Array(owners).fill(-1);
  }

  get size(): number {
    return this.n;
  }

  /** When `owner` is due, or Infinity. */
  due(owner: number): number {
    const p = this.pos[owner] as number;
    return p < 0 ? Infinity : (this.e[p * STRIDE] as number);
  }

  /** Sets (or moves, or with Infinity cancels) `owner`'s wake-up. Equal times keep scheduling order. */
  schedule(owner: number, t: number): void {
    const p = this.pos[owner] as number;
    if (t === Infinity) {
      if (p >= 0) this.removeAt(p);
      return;
    }
    if (p >= 0) {
      const old = this.e[p * STRIDE] as number;
      if (old === t) return;
      // Written here, not through a call: a fractional time passed to a function V8 does not
      // inline would be boxed (an allocation per event).
      this.put(p, t, this.counter++, owner);
      if (t < old) this.siftUp(p);
      else this.siftDown(p);
      return;
    }
    const i = this.n++;
    this.put(i, t, this.counter++, owner);
    this.siftUp(i);
  }

  /**
   * Like removing `owner`'s entry and scheduling it again at `t` (it goes after entries already due at
   * `t`), without the removal: the owner just woken, still at the top, is moved down in one pass.
   */
  renew(owner: number, t: number): void {
    const p = this.pos[owner] as number;
    if (p < 0 || t === Infinity) {
      this.schedule(owner, t);
      return;
    }
    // A fresh sequence number orders it after everything now queued at t, so it can only move down
    // unless its time decreased.
    const up = t < (this.e[p * STRIDE] as number);
    this.put(p, t, this.counter++, owner);
    if (up) this.siftUp(p);
    else this.siftDown(p);
  }

  /** The owner due first, or -1 (it stays queued). */
  peekOwner(): number {
    return this.n === 0 ? -1 : (this.e[2] as number) | 0;
  }

  peekTime(): number {
    return this.n === 0 ? Infinity : (this.e[0] as number);
  }

  /** Removes and returns the owner due first, or -1. */
  pop(): number {
    if (this.n === 0) return -1;
    const o = (this.e[2] as number) | 0;
    this.removeAt(0);
    return o;
  }

  /** Writes entry (t, s, o) at position i. The sifts then take only a position: a fractional time
   *  passed to a function V8 does not inline would be boxed (an allocation per event). */
  private put(i: number, t: number, s: number, o: number): void {
    const e = this.e, c = i * STRIDE;
    e[c] = t;
    e[c + 1] = s;
    e[c + 2] = o;
  }

  private removeAt(p: number): void {
    const e = this.e;
    this.pos[(e[p * STRIDE + 2] as number) | 0] = -1;
    const last = --this.n;
    if (p === last) return;
    const b = last * STRIDE;
    const t = e[b] as number, s = e[b + 1] as number, o = (e[b + 2] as number) | 0;
    const pt = e[p * STRIDE] as number, ps = e[p * STRIDE + 1] as number;
    this.put(p, t, s, o);
    if (t < pt || (t === pt && s < ps)) this.siftUp(p);
    else this.siftDown(p);
  }

  /** Moves the entry at position i up to its place, moving larger parents down. */
  private siftUp(i: number): void {
    const e = this.e, pos = this.pos;
    const t = e[i * STRIDE] as number, s = e[i * STRIDE + 1] as number, o = (e[i * STRIDE + 2] as number) | 0;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const b = p * STRIDE;
      const pt = e[b] as number;
      if (!(t < pt || (t === pt && s < (e[b + 1] as number)))) break;
      const c = i * STRIDE;
      e[c] = pt;
      e[c + 1] = e[b + 1] as number;
      const po = (e[b + 2] as number) | 0;
      e[c + 2] = po;
      pos[po] = i;
      i = p;
    }
    const c = i * STRIDE;
    e[c] = t;
    e[c + 1] = s;
    e[c + 2] = o;
    pos[o] = i;
  }

  /** Moves the entry at position i down to its place, moving smaller children up. */
  private siftDown(i: number): void {
    const e = this.e, pos = this.pos, n = this.n;
    const t = e[i * STRIDE] as number, s = e[i * STRIDE + 1] as number, o = (e[i * STRIDE + 2] as number) | 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      const end = first + 4 < n ? first + 4 : n;
      let m = first;
      let mt = e[first * STRIDE] as number;
      let ms = e[first * STRIDE + 1] as number;
      for (let k = first + 1; k < end; k++) {
        const kt = e[k * STRIDE] as number;
        if (kt < mt || (kt === mt && (e[k * STRIDE + 1] as number) < ms)) {
          m = k;
          mt = kt;
          ms = e[k * STRIDE + 1] as number;
        }
      }
      if (!(mt < t || (mt === t && ms < s))) break;
      const c = i * STRIDE;
      e[c] = mt;
      e[c + 1] = ms;
      const mo = (e[m * STRIDE + 2] as number) | 0;
      e[c + 2] = mo;
      pos[mo] = i;
      i = m;
    }
    const c = i * STRIDE;
    e[c] = t;
    e[c + 1] = s;
    e[c + 2] = o;
    pos[o] = i;
  }
}
