// Limits on authentication failures, per client address and per access key id: token buckets that
// only failures draw on. A request whose credential is right is never limited — it is verified
// first, and counts for nothing — so nobody can lock a good key out by guessing wrong on it, or a
// good client out by failing from its address. A failure past either limit is answered 429 with
// Retry-After, after a delay: a client that floods wrong credentials and waits for each answer
// (as HTTP clients do) is slowed to a few requests per second, and what it costs the gateway with
// it. Buckets live in fixed tables indexed by a keyed hash, so memory does not grow with the
// addresses or key ids an attacker makes up, and a known key id is limited exactly as an unknown one
// (a 429 tells nothing about which ids exist).

import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';

export interface AuthLimits {
  /** Failures a client address may make in a burst, and how many it regains per second. */
  readonly addressBurst: number;
  readonly addressPerSec: number;
  /** Failures naming one access key id (known or not) in a burst, and regained per second. */
  readonly keyBurst: number;
  readonly keyPerSec: number;
  /** How long a failure past a limit waits before its 429 is sent (0: at once). */
  readonly delayMs: number;
  /** Most 429s held back at once; past this they are sent at once (bounds sockets held open). */
  readonly maxDelayed: number;
  /** Slots per table (a power of two); unrelated keys may share one, which only ever limits failures. */
  readonly slots: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  addressBurst: 50,
  addressPerSec: 10,
  keyBurst: 50,
  keyPerSec: 10,
  delayMs: 1000,
  maxDelayed: 1024,
  slots: 4096,
};

/** Token buckets in typed arrays, indexed by a seeded FNV-1a hash of the key. */
class BucketTable {
  readonly #tokens: Float64Array;
  /** When each slot was last refilled; 0: never used (full). */
  readonly #at: Float64Array;
  readonly #mask: number;
  readonly #seed: number;
  readonly #burst: number;
  readonly #perMs: number;

  constructor(slots: number, burst: number, perSec: number, seed: number) {
    if (!Number.isInteger(Math.log2(slots))) throw new RangeError(`auth limiter slots must be a power of two, got ${slots}`);
    this.#tokens = new Float64Array(slots);
    this.#at = new Float64Array(slots);
    this.#mask = slots - 1;
    this.#seed = seed;
    this.#burst = burst;
    this.#perMs = perSec / 1000;
  }

  /** Takes one token for `key`: 0 if there was one, else the ms until there will be. */
  take(key: string, now: number): number {
    let h = this.#seed;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const s = (h >>> 0) & this.#mask;
    const last = this.#at[s] ?? 0;
    const had = last === 0 ? this.#burst : Math.min(this.#burst, (this.#tokens[s] ?? 0) + Math.max(0, now - last) * this.#perMs);
    this.#at[s] = now || 1;
    if (had >= 1) {
      this.#tokens[s] = had - 1;
      return 0;
    }
    this.#tokens[s] = had;
    return this.#perMs > 0 ? Math.ceil((1 - had) / this.#perMs) : Infinity;
  }
}

/** The address a limit applies to: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function clientKey(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class AuthFailureLimiter {
  readonly limits: AuthLimits;
  readonly #addresses: BucketTable;
  readonly #keys: BucketTable;

  /** `seeds`: 8 bytes keying the two tables' hashes (default random; tests fix them). */
  constructor(limits: Partial<AuthLimits> = {}, seeds: Buffer = randomBytes(8)) {
    this.limits = { ...DEFAULT_AUTH_LIMITS, ...limits };
    this.#addresses = new BucketTable(this.limits.slots, this.limits.addressBurst, this.limits.addressPerSec, seeds.readUInt32LE(0));
    this.#keys = new BucketTable(this.limits.slots, this.limits.keyBurst, this.limits.keyPerSec, seeds.readUInt32LE(4));
  }

  /**
   * Records one authentication failure from `address` naming `keyId` (if it named one). Undefined
   * while within both limits; otherwise the seconds after which a failure would be within them.
   */
  failed(address: string | undefined, keyId: string | undefined, now: number): number | undefined {
    const a = this.#addresses.take(clientKey(address), now);
    const k = keyId === undefined ? 0 : this.#keys.take(keyId, now);
    const wait = Math.max(a, k);
    return wait === 0 ? undefined : Math.min(3600, Math.max(1, Math.ceil(wait / 1000)));
  }
}
