// Credential material: access key ids (20 characters, AWS-shaped), secrets (40 characters, shown
// once), and the verifier the store keeps to check a Bearer secret: HMAC-SHA256 under a key derived
// from master.key, over the access key id and the secret. Pure functions over node:crypto; the
// repository stores the results. Why an HMAC and not scrypt: see the store's README.

import { createHmac, randomBytes } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `FARE` + 16 base-32 characters: the shape of an AWS access key id (`AKIA…`), so AWS SDKs accept it. */
export const ACCESS_KEY_PREFIX = 'FARE';
export const ACCESS_KEY_RE = /^[A-Z0-9]{16,128}$/;

/** Secrets are printable ASCII without spaces, 16–256 characters (generated ones: 40 of base64). */
export const SECRET_RE = /^[\x21-\x7e]{16,256}$/;

/** Purpose string of the verifier key (`deriveKey(master, VERIFIER_PURPOSE)`). */
export const VERIFIER_PURPOSE = 'credential-verifier';
export const VERIFIER_BYTES = 32;

export function newAccessKeyId(): string {
  const bytes = randomBytes(16);
  let id = ACCESS_KEY_PREFIX;
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

/** 40 characters of base64 (30 random bytes, 240 bits), like an AWS secret access key. */
export function newSecret(): string {
  return randomBytes(30).toString('base64');
}

/**
 * HMAC-SHA256(key, `<access key id>:<secret>`): one hash to compute, whatever the secret. The id is
 * part of the message (it never contains `:`), so a verifier cannot be moved to another credential.
 */
export function secretVerifier(key: Buffer, accessKeyId: string, secret: string): Buffer {
  return createHmac('sha256', key).update(`${accessKeyId}:${secret}`, 'utf8').digest();
}
