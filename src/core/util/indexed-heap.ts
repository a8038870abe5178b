// Indexed binary min-heap over integer ids with a (key, tie) order: insert, update, remove by id,
// peek. Used by the idle list (fewest jobs first) and by EDF (earliest deadline first).

import { DenseMap } from './dense-map.ts';

/** Where each id's position is kept: `dense` ids (machines: 0…n) in a DenseMap, others (jobs) in a Map. */
export type IdSpace = 'dense' | 'sparse';

/** Positions by id: a DenseMap or a Map (the same calls). */
interface Positions {
  get(id: number): number | undefined;
  set(id: number, p: number): void;
  delete(id: number): void;
  has(id: number): boolean;
}

export class IndexedHeap {
  private ids: number[] = [];
  private keys: number[] = [];
  private ties: number[] = [];
  private readonly pos: Positions;

  constructor(space: IdSpace = 'sparse') {
    this.pos = space === 'dense' ? new DenseMap() : new Map<number, number>();
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: number): boolean {
    return this.pos.has(id);
  }

  key(id: number): number | undefined {
    const p = this.pos.get(id);
    return p === undefined ? undefined : this.keys[p];
  }

  /** Inserts id, or moves it if present. */
  set(id: number, key: number, tie: number): void {
    const p = this.pos.get(id);
    if (p === undefined) {
      const i = this.ids.length;
      this.ids.push(id);
      this.keys.push(key);
      this.ties.push(tie);
      this.pos.set(id, i);
      this.up(i);
      return;
    }
    this.keys[p] = key;
    this.ties[p] = tie;
    this.up(p);
    this.down(p);
  }

  remove(id: number): boolean {
    const p = this.pos.get(id);
    if (p === undefined) return false;
    this.pos.delete(id);
    const last = this.ids.length - 1;
    if (p !== last) {
      this.move(last, p);
      this.ids.length = last;
      this.keys.length = last;
      this.ties.length = last;
      this.up(p);
      this.down(p);
    } else {
      this.ids.length = last;
      this.keys.length = last;
      this.ties.length = last;
    }
    return true;
  }

  /** Smallest id by (key, tie), or -1 when empty. */
  peek(): number {
    return this.ids.length === 0 ? -1 : (this.ids[0] as number);
  }

  peekKey(): number {
    return this.ids.length === 0 ? Infinity : (this.keys[0] as number);
  }

  pop(): number {
    const id = this.peek();
    if (id >= 0) this.remove(id);
    return id;
  }

  /** Ids in heap order (not sorted); for inspection and tests. */
  *entries(): IterableIterator<[id: number, key: number]> {
    for (let i = 0; i < this.ids.length; i++) yield [this.ids[i] as number, this.keys[i] as number];
  }

  private less(i: number, j: number): boolean {
    const ki = this.keys[i] as number, kj = this.keys[j] as number;
    return ki < kj || (ki === kj && (this.ties[i] as number) < (this.ties[j] as number));
  }

  private move(from: number, to: number): void {
    const id = this.ids[from] as number;
    this.ids[to] = id;
    this.keys[to] = this.keys[from] as number;
    this.ties[to] = this.ties[from] as number;
    this.pos.set(id, to);
  }

  private swap(i: number, j: number): void {
    const id = this.ids[i] as number, k = this.keys[i] as number, t = this.ties[i] as number;
    this.move(j, i);
    this.ids[j] = id;
    this.keys[j] = k;
    this.ties[j] = t;
    this.pos.set(id, j);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.ids.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && this.less(r, l) ? r : l;
      if (!this.less(m, i)) break;
      this.swap(i, m);
      i = m;
    }
  }
}
