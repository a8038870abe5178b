// Growable ring-buffer deque of objects: O(1) push, shift and unshift without Array.shift's copying.

export class Queue<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private n = 0;

  constructor(capacity = 16) {
    this.buf = new Array<T | undefined>(Math.max(2, capacity));
  }

  get length(): number {
    return this.n;
  }

  push(x: T): void {
    if (this.n === this.buf.length) this.grow();
    this.buf[(this.head + this.n) % this.buf.length] = x;
    this.n++;
  }

  /** Puts x at the front (a preempted SCHED_FIFO thread goes back to the head of its list). */
  unshift(x: T): void {
    if (this.n === this.buf.length) this.grow();
    this.head = (this.head - 1 + this.buf.length) % this.buf.length;
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
    this.head = (this.head + 1) % this.buf.length;
    this.n--;
    return x;
  }

  at(i: number): T | undefined {
    return i < 0 || i >= this.n ? undefined : this.buf[(this.head + i) % this.buf.length];
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.buf.length * 2);
    for (let i = 0; i < this.n; i++) next[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = next;
    this.head = 0;
  }
}
