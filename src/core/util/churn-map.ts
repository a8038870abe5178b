// Map and Set for entries that come and go (calls in flight, jobs queued, waiters): the same
// methods, but a fresh collection underneath once as many entries were deleted as it holds (at
// least `MIN_DELETES`), copied in order — so iteration order is a Map's, and each deletion costs
// O(1) amortised.
//
// Why: V8's Map and Set keep every hash table they outgrow (a rehash after deletions, a growth or
// a shrink) linked to the table that replaced it, still holding the entries it had. Such a table
// is garbage, but once one of them sits in the old generation (and a full GC promotes the table in
// use), a scavenge cannot know it is garbage and keeps alive every later table of that collection
// and every value those tables held — until the next full GC. A Map of calls in flight then keeps
// calls' objects: in `fare up`, ~910 KB survived each scavenge (~170 calls; 7 % of what was
// allocated), each scavenge copied and promoted it, pausing the event loop ~2.4 ms; with the
// collections of calls in flight renewed, 600 KB (most of the rest was hidden classes:
// src/live/README.md). A new collection ends the chain: the old one's tables die with it.

/** Fewest deletions between two renewals (a small collection is copied at most this often). */
export const MIN_DELETES = 64;

/** The rule of both: renew once as many entries were deleted as are left, and at least `MIN_DELETES`. */
const renewDue = (deletes: number, size: number): boolean => deletes >= MIN_DELETES && deletes >= size;

export class ChurnMap<K, V> implements Iterable<[K, V]> {
  #m: Map<K, V>;
  #deletes = 0;

  constructor(entries?: Iterable<readonly [K, V]>) {
    this.#m = new Map(entries);
  }

  get size(): number {
    return this.#m.size;
  }

  get(k: K): V | undefined {
    return this.#m.get(k);
  }

  has(k: K): boolean {
    return this.#m.has(k);
  }

  set(k: K, v: V): this {
    this.#m.set(k, v);
    return this;
  }

  delete(k: K): boolean {
    if (!this.#m.delete(k)) return false;
    if (renewDue(++this.#deletes, this.#m.size)) {
      this.#m = new Map(this.#m);
      this.#deletes = 0;
    }
    return true;
  }

  clear(): void {
    this.#m = new Map();
    this.#deletes = 0;
  }

  keys(): MapIterator<K> {
    return this.#m.keys();
  }

  values(): MapIterator<V> {
    return this.#m.values();
  }

  entries(): MapIterator<[K, V]> {
    return this.#m.entries();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#m.entries();
  }

  forEach(fn: (v: V, k: K) => void): void {
    this.#m.forEach((v, k) => fn(v, k));
  }
}

export class ChurnSet<T> implements Iterable<T> {
  #s: Set<T>;
  #deletes = 0;

  constructor(values?: Iterable<T>) {
    this.#s = new Set(values);
  }

  get size(): number {
    return this.#s.size;
  }

  has(x: T): boolean {
    return this.#s.has(x);
  }

  add(x: T): this {
    this.#s.add(x);
    return this;
  }

  delete(x: T): boolean {
    if (!this.#s.delete(x)) return false;
    if (renewDue(++this.#deletes, this.#s.size)) {
      this.#s = new Set(this.#s);
      this.#deletes = 0;
    }
    return true;
  }

  clear(): void {
    this.#s = new Set();
    this.#deletes = 0;
  }

  values(): SetIterator<T> {
    return this.#s.values();
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.#s.values();
  }

  forEach(fn: (x: T) => void): void {
    this.#s.forEach((x) => fn(x));
  }
}
