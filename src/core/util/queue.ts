// Growable ring-buffer deque of objects: O(1) push, shift and unshift without Array.shift's copying.
// Capacity is a power of two so positions wrap with a mask.

export class Queue<T> {
  private buf: (T | undefined)[];
  private mask: number;
  private head = 0;
  private n = 0;

  constructor(capacity = 16) {
    let cap = 2;
    while (cap < capacity) cap *= 2;
    this.buf = new Array<T | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  get length(): number {
    return this.n;
  }

  push(x: T): void {
    if (this.n > this.mask) this.grow();
    this.buf[(this.head + this.n) & this.mask] = x;
    this.n++;
  }

  /** Puts x at the front (a preempted SCHED_FIFO thread goes back to the head of its list). */
  unshift(x: T): void {
    if (this.n > this.mask) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = x;
    this.n++;
  }

  peek(): T | undefined {
    return this.n === 0 ? undefined : this.buf[this.head];
  }

  shift(): T | undefined {
    if (this.n === 0) return undefined;
    const x = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.n--;
    return x;
  }

  /** Removes the first occurrence of x, keeping the order of the rest (O(n)); returns whether it was there. */
  remove(x: T): boolean {
    for (let i = 0; i < this.n; i++) {
      if (this.buf[(this.head + i) & this.mask] !== x) continue;
      for (let j = i; j < this.n - 1; j++) this.buf[(this.head + j) & this.mask] = this.buf[(this.head + j + 1) & this.mask];
      this.buf[(this.head + this.n - 1) & this.mask] = undefined;
      this.n--;
      return true;
    }
    return false;
  }

  /** Puts x at position i (0: the front, length: the back), moving those from i back by one (O(n − i)). */
  insert(i: number, x: T): void {
    this.push(x);
    for (let j = this.n - 1; j > i; j--) this.buf[(this.head + j) & this.mask] = this.buf[(this.head + j - 1) & this.mask];
    this.buf[(this.head + i) & this.mask] = x;
  }

  at(i: number): T | undefined {
    return i < 0 || i >= this.n ? undefined : this.buf[(this.head + i) & this.mask];
  }

  private grow(): void {
    const cap = this.buf.length * 2;
    const next = new Array<T | undefined>(cap).fill(undefined);
    for (let i = 0; i < this.n; i++) next[i] = this.buf[(this.head + i) & this.mask];
    this.buf = next;
    this.mask = cap - 1;
    this.head = 0;
  }
}
