// Seeded, forkable random source. Every core object receives its own named stream
// (`root.fork('shard/3')`), so adding a draw in one object never shifts another's numbers.

/** 32-bit FNV-1a over a string, used to derive stream seeds from names. */
function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 step used to expand a seed into generator state. */
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [x, z >>> 0];
}

/**
 * sfc32 (Small Fast Counting, Chris Doty-Humphrey): 128-bit state, passes PractRand,
 * and is cheap in JavaScript's 32-bit integer arithmetic.
 */
export class Rng {
  /**
   * The state words a, b, c, d. In an Int32Array, not four fields: a 32-bit value is outside V8's
   * small-integer range half the time, and a field then holds it boxed, behind one more load.
   */
  private readonly s = new Int32Array(4);
  /** The seed and name this stream was built from (for error messages). */
  readonly label: string;

  constructor(seed: number | string, name = '') {
    this.label = `${String(seed)}${name ? `/${name}` : ''}`;
    // Hash the whole label: "1"+"0" and "10"+"" must not give the same stream.
    let h = fnv1a(this.label);
    for (let i = 0; i < 4; i++) {
      let v: number;
      [h, v] = splitmix32(h);
      this.s[i] = v;
    }
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Independent stream named relative to this one. */
  fork(name: string): Rng {
    return new Rng(this.label, name);
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const st = this.s;
    const a = st[0] as number, b = st[1] as number, c = st[2] as number, d = st[3] as number;
    const t = (((a + b) | 0) + d) | 0;
    st[3] = (d + 1) | 0;
    st[0] = b ^ (b >>> 9);
    st[1] = (c + (c << 3)) | 0;
    st[2] = ((c << 21) | (c >>> 11)) + t | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 bits of precision. */
  next(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Uniform integer in [0, n): one 32-bit draw when n ≤ 2^16 (bias < 2^-16), else 53 bits. The first
   * is below 2^16, so `| 0` floors it and gives V8 an integer (an index, not a double to convert).
   */
  int(n: number): number {
    return n <= 65536 ? ((this.u32() * n) / 4294967296) | 0 : Math.floor(this.next() * n);
  }

  /** Uniform in (0, 1]: safe for logarithms. */
  open(): number {
    return 1 - this.next();
  }

  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -mean * Math.log(this.open());
  }

  /** Standard normal (Box–Muller; one value per call, no hidden cached state). */
  normal(mean = 0, sd = 1): number {
    const u = this.open();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * k distinct integers from [0, n) (k ≤ n), in draw order. Uses rejection for small k,
   * which is what power-of-k choices needs (k ≈ 2–4 out of hundreds).
   */
  sample(n: number, k: number, out: number[] = []): number[] {
    const m = Math.min(k, n);
    // Reuse the caller's array in place when it already has the right length (no resizing).
    if (out.length !== m) {
      out.length = 0;
      for (let i = 0; i < m; i++) out.push(-1);
    }
    let have = 0;
    while (have < m) {
      const x = this.int(n);
      let seen = false;
      for (let i = 0; i < have; i++) if (out[i] === x) seen = true;
      if (!seen) out[have++] = x;
    }
    return out;
  }
}
