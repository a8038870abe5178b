// The invocation context a function passes when it invokes another through Fare: a token signed with
// the platform's key, carrying the caller's effective class. A callee runs at the higher of that class
// and its own; the signature means a function cannot forge a token to raise a class it was not given.

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface ContextClaims {
  /** Effective class index of the invocation that holds the token. */
  readonly cls: number;
  /** Tenant that was billed for that invocation (pays the difference when a callee is raised). */
  readonly tenant: string;
  readonly requestId: string;
  /** Expiry, ms since the epoch. */
  readonly exp: number;
}

const b64 = (b: Buffer): string => b.toString('base64url');

export function signContext(key: Buffer, claims: ContextClaims): string {
  const body = b64(Buffer.from(JSON.stringify({ c: claims.cls, t: claims.tenant, r: claims.requestId, e: claims.exp })));
  return `${body}.${b64(createHmac('sha256', key).update(body).digest())}`;
}

export type ContextResult = { ok: true; claims: ContextClaims } | { ok: false; error: string };

export function verifyContext(key: Buffer, token: string, now: number): ContextResult {
  const dot = token.indexOf('.');
  if (dot <= 0) return { ok: false, error: 'the Fare context token is malformed: pass the token your invocation received, unchanged' };
  const body = token.slice(0, dot);
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  const want = createHmac('sha256', key).update(body).digest();
  if (sig.length !== want.length || !timingSafeEqual(sig, want)) {
    return { ok: false, error: 'the Fare context token has a bad signature: it was altered or not issued by this Fare' };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, error: 'the Fare context token is malformed: pass the token your invocation received, unchanged' };
  }
  const o = raw as { c?: unknown; t?: unknown; r?: unknown; e?: unknown };
  if (typeof o.c !== 'number' || typeof o.t !== 'string' || typeof o.r !== 'string' || typeof o.e !== 'number') {
    return { ok: false, error: 'the Fare context token is malformed: pass the token your invocation received, unchanged' };
  }
  if (o.e < now) return { ok: false, error: 'the Fare context token has expired: it is valid only while its invocation may still run' };
  return { ok: true, claims: { cls: o.c, tenant: o.t, requestId: o.r, exp: o.e } };
}
