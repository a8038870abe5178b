// Exact sums of doubles (Shewchuk's partials, as Python's math.fsum): the sum is kept as a few
// non-overlapping doubles whose exact total is the exact total of everything added, and read out
// correctly rounded. So the result does not depend on the order of the additions nor on how they
// were grouped: bills add each function's usage aggregated by hour (its partials, stored) to the
// execution records not yet aggregated, and get the very same double as from the records alone —
// which is how the retention clean-up leaves bills unchanged (retention.ts).

export class ExactSum {
  /** Non-overlapping partials, increasing in magnitude. */
  #partials: number[] = [];
  /** Sum of the non-finite values added (NaN or ±Infinity), which partials cannot hold. */
  #special = 0;

  /** Adds `x` exactly. */
  add(x: number): this {
    if (!Number.isFinite(x)) {
      this.#special += x;
      return this;
    }
    const p = this.#partials;
    let i = 0;
    for (let j = 0; j < p.length; j++) {
      let y = p[j] as number;
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    p.length = i;
    if (x !== 0) {
      // Past Number.MAX_VALUE the partials cannot hold it either.
      if (Number.isFinite(x)) p.push(x);
      else this.#special += x;
    }
    return this;
  }

  /** Adds every partial of another sum (`partials()`), exactly. */
  addPartials(partials: readonly number[]): this {
    for (const x of partials) this.add(x);
    return this;
  }

  /** The exact sum, correctly rounded to a double (round half to even). */
  value(): number {
    if (this.#special !== 0 || Number.isNaN(this.#special)) return this.#special;
    const p = this.#partials;
    let n = p.length;
    if (n === 0) return 0;
    let hi = p[--n] as number;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n] as number;
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Half-even rounding across partials: the rest below may tip a tie (CPython's math_fsum).
    const below = n > 0 ? (p[n - 1] as number) : 0;
    if (n > 0 && ((lo < 0 && below < 0) || (lo > 0 && below > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }

  /** The partials (and a non-finite sum, if any), whose exact total is this sum: to store and add back later. */
  partials(): number[] {
    return this.#special !== 0 || Number.isNaN(this.#special) ? [...this.#partials, this.#special] : [...this.#partials];
  }
}

/** Partials as stored: little-endian doubles. */
export function encodePartials(partials: readonly number[]): Buffer {
  const b = Buffer.alloc(partials.length * 8);
  partials.forEach((x, i) => b.writeDoubleLE(x, i * 8));
  return b;
}

export function decodePartials(b: Uint8Array): number[] {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 8 <= buf.length; i += 8) out.push(buf.readDoubleLE(i));
  return out;
}
