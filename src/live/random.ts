// Random bytes for ids and nonces on the invocation path, drawn from a 4 KiB pool of the system's
// CSPRNG (node:crypto) refilled when used up: one `randomBytes(16)` call costs ~15 µs on the test
// machine (a system call each time); a slice of the pool costs well under one.

import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let at = pool.length;

/** `n` (≤ 4096) fresh random bytes, as a new Buffer. */
export function randomBytesFast(n: number): Buffer {
  if (n > pool.length) throw new RangeError(`randomBytesFast draws at most ${pool.length} bytes, not ${n}`);
  if (at + n > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  const out = Buffer.from(pool.subarray(at, at + n));
  pool.fill(0, at, at + n); // a byte is handed out once
  at += n;
  return out;
}
