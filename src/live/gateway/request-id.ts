// Request ids: UUIDs of version 7 (RFC 9562: 48 bits of Unix time in ms, then random bits), so ids
// minted later sort later. The store indexes billing records and log entries by request id; random
// (version 4) ids put every new entry on a random page of those indexes, and a batch of records
// then wrote one page of each index per record (≈ 8 of the ≈ 26 pages a batch of 4 wrote).
// Time-ordered ids land on the indexes' last pages, as the retention's deletes do on their first.
// The form is Lambda's (8-4-4-4-12 hex digits); the time they give away is the response's own.

import { createHash } from 'node:crypto';
import { randomBytesFast } from '../random.ts';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A version-7 UUID for time `nowMs` (default: now). */
export function newRequestId(nowMs: number = Date.now()): string {
  return idOf(nowMs, randomBytesFast(10));
}

/**
 * The version-7 UUID of a scheduled invocation: its time, and bits of a hash of `key` (the schedule
 * and the time it fires for) instead of random ones — the same firing always has the same id, so
 * firing it again (after a crash, or from a second gateway) queues nothing twice.
 */
export function derivedRequestId(nowMs: number, key: string): string {
  return idOf(nowMs, createHash('sha256').update(key).digest());
}

function idOf(nowMs: number, r: Uint8Array): string {
  const o = 0;
  const t = Math.max(0, Math.floor(nowMs));
  const hi = Math.floor(t / 0x10000); // the 32 high bits of the 48-bit time
  const lo = t % 0x10000;
  const h = (n: number): string => HEX[n & 0xff] as string;
  return (
    h(hi >>> 24) + h(hi >>> 16) + h(hi >>> 8) + h(hi) + '-' +
    h(lo >>> 8) + h(lo) + '-' +
    h(0x70 | ((r[o] as number) & 0x0f)) + h(r[o + 1] as number) + '-' +
    h(0x80 | ((r[o + 2] as number) & 0x3f)) + h(r[o + 3] as number) + '-' +
    h(r[o + 4] as number) + h(r[o + 5] as number) + h(r[o + 6] as number) + h(r[o + 7] as number) + h(r[o + 8] as number) + h(r[o + 9] as number)
  );
}

const V7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The time (ms since the epoch) a version-7 request id was minted for, or undefined for any other string. */
export function requestIdTime(id: string): number | undefined {
  const m = V7.exec(id);
  if (m === null) return undefined;
  return parseInt(m[1] as string, 16) * 0x10000 + parseInt(m[2] as string, 16);
}
