// The simulator's event queue: one pending wake-up per owner (a machine, the arrival source, a sampler),
// in a binary heap over typed arrays ordered by (time, sequence). Re-scheduling an owner moves its entry,
// so the queue holds only pending events and never stale ones.

export class EventQueue {
  private time: Float64Array;
  private seq: Float64Array;
  private owner: Int32Array;
  /** Heap position of each owner, or -1. */
  private pos: Int32Array;
  private n = 0;
  private counter = 0;

  constructor(owners: number) {
    const cap = Math.max(4, owners);
    this.time = new Float64Array(cap);
    this.seq = new Float64Array(cap);
    this.owner = new Int32Array(cap);
    this.pos = new Int32Array(owners).fill(-1);
  }

  get size(): number {
    return this.n;
  }

  /** When `owner` is due, or Infinity. */
  due(owner: number): number {
    const p = this.pos[owner] as number;
    return p < 0 ? Infinity : (this.time[p] as number);
  }

  /** Sets (or moves, or with Infinity cancels) `owner`'s wake-up. Equal times keep scheduling order. */
  schedule(owner: number, t: number): void {
    const p = this.pos[owner] as number;
    if (t === Infinity) {
      if (p >= 0) this.removeAt(p);
      return;
    }
    if (p >= 0) {
      if (this.time[p] === t) return;
      this.time[p] = t;
      this.seq[p] = this.counter++;
      this.up(p);
      this.down(this.pos[owner] as number);
      return;
    }
    const i = this.n++;
    this.time[i] = t;
    this.seq[i] = this.counter++;
    this.owner[i] = owner;
    this.pos[owner] = i;
    this.up(i);
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
    this.time[p] = t;
    this.seq[p] = this.counter++;
    this.up(p);
    this.down(this.pos[owner] as number);
  }

  /** The owner due first, or -1 (it stays queued). */
  peekOwner(): number {
    return this.n === 0 ? -1 : (this.owner[0] as number);
  }

  peekTime(): number {
    return this.n === 0 ? Infinity : (this.time[0] as number);
  }

  /** Removes and returns the owner due first, or -1. */
  pop(): number {
    if (this.n === 0) return -1;
    const o = this.owner[0] as number;
    this.removeAt(0);
    return o;
  }

  private removeAt(p: number): void {
    const o = this.owner[p] as number;
    this.pos[o] = -1;
    const last = --this.n;
    if (p === last) return;
    this.time[p] = this.time[last] as number;
    this.seq[p] = this.seq[last] as number;
    const lo = this.owner[last] as number;
    this.owner[p] = lo;
    this.pos[lo] = p;
    this.up(p);
    this.down(this.pos[lo]);
  }

  private less(i: number, j: number): boolean {
    const ti = this.time[i] as number, tj = this.time[j] as number;
    return ti < tj || (ti === tj && (this.seq[i] as number) < (this.seq[j] as number));
  }

  private swap(i: number, j: number): void {
    const t = this.time[i] as number, s = this.seq[i] as number, o = this.owner[i] as number;
    this.time[i] = this.time[j] as number;
    this.seq[i] = this.seq[j] as number;
    const oj = this.owner[j] as number;
    this.owner[i] = oj;
    this.pos[oj] = i;
    this.time[j] = t;
    this.seq[j] = s;
    this.owner[j] = o;
    this.pos[o] = j;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) return;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.n) return;
      const r = l + 1;
      const m = r < this.n && this.less(r, l) ? r : l;
      if (!this.less(m, i)) return;
      this.swap(i, m);
      i = m;
    }
  }
}
