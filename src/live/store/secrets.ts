// Credential material: access key ids (20 characters, AWS-shaped), secrets (40 characters, shown
// once), and their scrypt hashes. Pure functions over node:crypto; the repository stores the results.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `FARE` + 16 base-32 characters: the shape of an AWS access key id (`AKIA…`), so AWS SDKs accept it. */
export const ACCESS_KEY_PREFIX = 'FARE';
export const ACCESS_KEY_RE = /^[A-Z0-9]{16,128}$/;

export function newAccessKeyId(): string {
  const bytes = randomBytes(16);
  let id = ACCESS_KEY_PREFIX;
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

/** 40 characters of base64 (30 random bytes), like an AWS secret access key. */
export function newSecret(): string {
  return randomBytes(30).toString('base64');
}

/** scrypt cost (N) for new hashes; stored with each hash, so it can be raised without breaking old ones. */
export const DEFAULT_SCRYPT_N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function scryptAsync(secret: string, salt: Buffer, n: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keylen, { N: n, r, p, maxmem: 256 * n * r }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>`: the parameters travel with the hash, so they can be raised later. */
export async function hashSecret(secret: string, n = DEFAULT_SCRYPT_N): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, n, R, P, KEYLEN);
  return ['scrypt', n, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifySecretHash(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const want = Buffer.from(parts[5] ?? '', 'base64');
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || want.length === 0) return false;
  const got = await scryptAsync(secret, salt, n, r, p, want.length);
  return timingSafeEqual(got, want);
}
