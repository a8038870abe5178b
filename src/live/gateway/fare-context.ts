// The invocation context a function passes along a call chain (`X-Fare-Context`), so that its
// synchronous calls into its own tenant's functions run at least at its class (class inheritance:
// `inheritContext` in the core says when). A context is bound to the invocation it was handed to —
// its tenant (the owner of the function that runs), function, class, deadline and request id — and
// is honoured only while that invocation runs: `begin()` registers the invocation from hand-over
// until `end()`, and `check()` refuses a context whose invocation is not registered, that a
// principal of another tenant presents, or whose deadline has passed.
//
// A token is `v1.<body>.<sig>`: body = base64url of the claims' JSON, sig = base64url of
// HMAC-SHA256(key, body), the key derived from master.key. Parsing is strict: canonical base64url,
// exactly the keys below in this order with their types, nothing before, between or after.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { invocationKeyId, invocationSecret, NO_INVOCATION_SESSION, sessionBody } from '../invocation-credentials.ts';
import { randomBytesFast } from '../random.ts';
import type { InvocationCredential } from './auth.ts';

export const FARE_CONTEXT_HEADER = 'x-fare-context';

/** How long past its timeout an invocation's own context lasts: time it may wait to be run. */
export const CONTEXT_SLACK_MS = 60_000;

/** The deadline of the context of an invocation handed over at `now`, if no caller's context limits it. */
export const ownDeadline = (now: number, timeoutMs: number): number => now + timeoutMs + CONTEXT_SLACK_MS;

/** An invocation that has been handed to the platform and has not answered yet. */
export interface RunningInvocation {
  readonly requestId: string;
  /** Owner of the function that runs. */
  readonly tenant: string;
  readonly function: string;
  /** Its effective class index. */
  readonly cls: number;
  /** When its context stops being honoured (ms since the epoch), even if it still runs. */
  readonly deadline: number;
}

export interface ContextHandle {
  /** The token to hand to the invocation. */
  readonly token: string;
  /** The invocation has answered (or failed): its context is refused from now on. */
  end(): void;
}

/**
 * Why a context was refused: `malformed` (not a token of this shape), `forged` (not signed here),
 * `other-tenant` (presented by a principal of another tenant than the invocation's), `ended` (its
 * invocation is not running: it answered, or it ran in an earlier process), `expired` (its deadline
 * has passed).
 */
export type ContextRefusal = 'malformed' | 'forged' | 'other-tenant' | 'ended' | 'expired';

export type ContextCheck = { readonly ok: true; readonly caller: RunningInvocation } | { readonly ok: false; readonly refusal: ContextRefusal; readonly tenant?: string };

interface Claims {
  /** Nonce: which registration (one per execution, so an async attempt's token is not the next one's). */
  readonly n: string;
  readonly r: string;
  readonly t: string;
  readonly f: string;
  readonly c: number;
  readonly x: number;
}

const TOKEN = /^v1\.([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/;
const NONCE = /^[A-Za-z0-9_-]{22}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256;
const claimsJson = (c: Claims): string => JSON.stringify({ n: c.n, r: c.r, t: c.t, f: c.f, c: c.c, x: c.x });

/** The claims of a body that is canonical base64url of canonical JSON with exactly the expected keys and types. */
function parseClaims(body: string): Claims | undefined {
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.toString('base64url') !== body) return undefined;
  let json: string;
  let v: unknown;
  try {
    json = utf8.decode(bytes);
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.n !== 'string' || !NONCE.test(o.n) || !text(o.r) || !text(o.t) || !text(o.f)) return undefined;
  if (!Number.isSafeInteger(o.c) || (o.c as number) < 0 || (o.c as number) > 255 || !Number.isSafeInteger(o.x) || (o.x as number) < 0) return undefined;
  const claims: Claims = { n: o.n, r: o.r, t: o.t, f: o.f, c: o.c as number, x: o.x as number };
  // Canonical JSON only — exactly these keys, in this order, once each, without spaces, escapes or
  // number spellings other than what `begin` writes — by writing it again and comparing.
  return claimsJson(claims) === json ? claims : undefined;
}

export class FareContexts {
  readonly #key: Buffer;
  readonly #running = new Map<string, RunningInvocation>();

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** Registers `inv` as running (call at hand-over) and returns its token; `end()` when it answers. */
  begin(inv: RunningInvocation): ContextHandle {
    const nonce = randomBytesFast(16).toString('base64url');
    this.#running.set(nonce, inv);
    const body = Buffer.from(claimsJson({ n: nonce, r: inv.requestId, t: inv.tenant, f: inv.function, c: inv.cls, x: inv.deadline })).toString('base64url');
    return {
      token: `v1.${body}.${this.#sign(body)}`,
      end: () => {
        this.#running.delete(nonce);
      },
    };
  }

  /** Invocations registered now (for tests and metrics). */
  get running(): number {
    return this.#running.size;
  }

  /** The invocation whose context `token` is, if `principalTenant` may use it now. */
  check(token: string, principalTenant: string, now: number): ContextCheck {
    const m = TOKEN.exec(token);
    if (m === null) return { ok: false, refusal: 'malformed' };
    const [, body = '', sig = ''] = m;
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== 32 || given.toString('base64url') !== sig) return { ok: false, refusal: 'malformed' };
    if (!timingSafeEqual(given, createHmac('sha256', this.#key).update(body).digest())) return { ok: false, refusal: 'forged' };
    const claims = parseClaims(body);
    if (claims === undefined) return { ok: false, refusal: 'malformed' };
    if (claims.t !== principalTenant) return { ok: false, refusal: 'other-tenant', tenant: claims.t };
    const inv = this.#running.get(claims.n);
    if (inv === undefined || inv.requestId !== claims.r || inv.tenant !== claims.t || inv.function !== claims.f || inv.cls !== claims.c || inv.deadline !== claims.x) {
      return { ok: false, refusal: 'ended' };
    }
    if (now > inv.deadline) return { ok: false, refusal: 'expired' };
    return { ok: true, caller: inv };
  }

  /**
   * An invocation credential (invocation-credentials.ts): the session token's signature is
   * recomputed with this Fare's key (so only a holder of the whole token knows the secret), and the
   * credential is good only while its invocation runs, as its context is.
   */
  invocationCredential(accessKeyId: string, sessionToken: string | undefined, now: number): InvocationCredential {
    if (sessionToken === NO_INVOCATION_SESSION) {
      return { refused: 'The security token included in the request is invalid: these are a function instance\'s credentials outside any invocation (while its code starts, or between invocations); Fare gives functions credentials only while an invocation runs: make the call inside the handler' };
    }
    const body = sessionToken === undefined ? undefined : sessionBody(sessionToken);
    if (body === undefined) return { refused: 'an invocation credential (FARECTX…) is used with its session token (X-Amz-Security-Token), as the function was given both: let the SDK take them from the container credentials Fare provides' };
    if (invocationKeyId(body) !== accessKeyId) return { refused: 'The security token included in the request is invalid: it does not belong to this access key id' };
    const sig = this.#sign(body);
    const token = `v1.${body}.${sig}`;
    const tenant = parseClaims(body)?.t;
    if (tenant === undefined) return { refused: 'The security token included in the request is invalid.' };
    const c = this.check(token, tenant, now);
    if (!c.ok) return { refused: `The security token included in the request is expired: invocation credentials work only while their invocation runs (this one ${c.refusal === 'expired' ? 'has passed its deadline' : 'has ended'})` };
    return { tenant, secret: invocationSecret(sig), token };
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url');
  }
}
