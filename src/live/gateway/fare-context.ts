// The invocation context a function passes along a call chain (`X-Fare-Context`), so its callees run
// at least at its class (class inheritance). It is an HMAC-signed token, keyed from master.key, so a
// function cannot mint one that raises a callee above the class its own invocation had.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { InvocationContext } from '../types.ts';

export const FARE_CONTEXT_HEADER = 'x-fare-context';

interface Claims {
  /** Request id of the invocation that minted it. */
  readonly r: string;
  /** Its effective class index. */
  readonly c: number;
  /** Expiry, ms since the epoch. */
  readonly x: number;
}

export class FareContexts {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** A token for invocation `requestId` running at class `cls`, valid until `expires`. */
  mint(requestId: string, cls: number, expires: number): string {
    const body = Buffer.from(JSON.stringify({ r: requestId, c: cls, x: expires } satisfies Claims)).toString('base64url');
    return `v1.${body}.${this.#sign(body)}`;
  }

  /**
   * The caller's context, `expired` for a genuine token past its time (the call runs at its own
   * class), or `invalid` for anything not minted here.
   */
  verify(token: string, now: number): InvocationContext | 'expired' | 'invalid' {
    const [v, body, sig] = token.split('.');
    if (v !== 'v1' || body === undefined || sig === undefined) return 'invalid';
    const want = Buffer.from(this.#sign(body));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'invalid';
    let claims: Claims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims;
    } catch {
      return 'invalid';
    }
    if (typeof claims.r !== 'string' || !Number.isInteger(claims.c) || claims.c < 0 || typeof claims.x !== 'number') return 'invalid';
    if (claims.x < now) return 'expired';
    return { requestId: claims.r, callerClass: claims.c, deadlineMs: claims.x };
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url');
  }
}
