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
//
// In a cluster (`ContextPeers`), the registry stays where the invocation began: a gateway writes its
// number into the first two bytes of the nonces it mints, and another gateway that is shown one of
// its contexts asks it (`find`, only on a local miss, only for a token that passed every other check).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { invocationKeyId, invocationSecret, NO_INVOCATION_SESSION, sessionBody } from '../invocation-credentials.ts';
import { randomBytesFast } from '../random.ts';
import type { InvocationCredential, InvocationRefusal } from './auth.ts';
import { ChurnMap } from '../../core/util/churn-map.ts';

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
  /** Its trace (X-Amzn-Trace-Id form): a call it makes continues it (trace.ts). */
  readonly trace?: string;
  /**
   * The gateway that began it, when another gateway of the cluster (its context was asked about
   * there): a call it makes through this gateway is told to that one, which blocks it on its machine.
   */
  readonly gateway?: number;
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
 * has passed), `unconfirmed` (in a cluster: it began on another gateway, which did not answer in time).
 */
export type ContextRefusal = 'malformed' | 'forged' | 'other-tenant' | 'ended' | 'expired' | 'unconfirmed';

/**
 * `unconfirmed` (only with `ContextPeers`): the token is good but its invocation began on another
 * gateway, `gateway`, which did not answer in time (it is overloaded, or NATS is unreachable).
 */
export type ContextCheck =
  | { readonly ok: true; readonly caller: RunningInvocation }
  | { readonly ok: false; readonly refusal: ContextRefusal; readonly tenant?: string; readonly gateway?: number };

/** How long a gateway waits for another's answer about a context by default (ms): see `ContextPeers`. */
export const CONTEXT_ASK_TIMEOUT_MS = 500;

/**
 * The other gateways of a cluster, as seen by one (cluster/contexts.ts does it over NATS): each keeps
 * the registrations of the invocations it began, and answers the others' questions about them.
 */
export interface ContextPeers {
  /** This gateway's number (0 … 65535), written into the nonces it mints so that the others know whom to ask. */
  readonly self: number;
  /**
   * Whether registration `nonce` is running on gateway `gateway`: its invocation, or undefined when
   * it is not (the gateway said so, or no gateway of that number is there any more). Rejects when no
   * answer can be had (NATS unreachable); `find` stops waiting after `timeoutMs` anyway.
   */
  ask(gateway: number, nonce: string, timeoutMs: number): Promise<RunningInvocation | undefined>;
  /** How long to wait for an answer (default `CONTEXT_ASK_TIMEOUT_MS`). */
  readonly timeoutMs?: number;
}

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

/** The gateway whose number a nonce carries (its first two bytes, see `begin`). */
const originOf = (nonce: string): number => Buffer.from(nonce, 'base64url').readUInt16BE(0);

const sameAs = (inv: RunningInvocation, c: Claims): boolean => inv.requestId === c.r && inv.tenant === c.t && inv.function === c.f && inv.cls === c.c && inv.deadline === c.x;

type Refused = Extract<ContextCheck, { ok: false }>;
const ENDED: Refused = { ok: false, refusal: 'ended' };
const EXPIRED: Refused = { ok: false, refusal: 'expired' };

export class FareContexts {
  readonly #key: Buffer;
  readonly #running = new ChurnMap<string, RunningInvocation>();
  readonly #peers: ContextPeers | undefined;
  /** Questions to other gateways not answered yet, by nonce: calls made at once with one context ask once. */
  readonly #asking = new ChurnMap<string, Promise<RunningInvocation | undefined>>();

  constructor(key: Buffer, peers?: ContextPeers) {
    if (peers !== undefined && (!Number.isInteger(peers.self) || peers.self < 0 || peers.self > 0xffff)) throw new RangeError(`a gateway's number is 0 … 65535, not ${peers.self}`);
    this.#key = key;
    this.#peers = peers;
  }

  /** Registers `inv` as running (call at hand-over) and returns its token; `end()` when it answers. */
  begin(inv: RunningInvocation): ContextHandle {
    const bytes = randomBytesFast(16);
    // In a cluster, the nonce says which gateway to ask: 2 bytes of gateway number, 112 random bits.
    if (this.#peers !== undefined) bytes.writeUInt16BE(this.#peers.self, 0);
    const nonce = bytes.toString('base64url');
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

  /** The invocation registered here under `nonce` (what this gateway answers the others). */
  registered(nonce: string): RunningInvocation | undefined {
    return this.#running.get(nonce);
  }

  /**
   * The invocation whose context `token` is, if `principalTenant` may use it now, from this
   * gateway's registry only (synchronous): a context of another gateway's invocation is 'ended' here.
   */
  check(token: string, principalTenant: string, now: number): ContextCheck {
    const v = this.#verify(token, principalTenant);
    return 'n' in v ? this.#local(v, now) : v;
  }

  /**
   * As `check`, and in a cluster a context that began on another gateway is asked about there: a
   * Promise only then. A context registered here, and every refusal that needs nobody's word (not
   * one of ours, another tenant's, past the deadline it carries, begun here and ended), is answered
   * at once, without a Promise; a token is sent to no one before its signature is checked.
   */
  find(token: string, principalTenant: string, now: number): ContextCheck | Promise<ContextCheck> {
    const v = this.#verify(token, principalTenant);
    if (!('n' in v)) return v;
    const origin = this.#remoteOrigin(v);
    if (origin === undefined) return this.#local(v, now);
    if (now > v.x) return EXPIRED;
    return this.#ask(origin, v, now);
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
    const claims = parseClaims(body);
    if (claims === undefined) return { refused: 'The security token included in the request is invalid.' };
    const tenant = claims.t;
    const secret = invocationSecret(sig);
    // Begun on another gateway of the cluster: asked there, but only once the request's signature
    // has passed (`confirm`), so that nobody without the secret makes this gateway ask anything.
    const origin = this.#remoteOrigin(claims);
    if (origin !== undefined) {
      if (now > claims.x) return credentialRefusal(EXPIRED);
      return { tenant, secret, token, confirm: async () => {
        const c = await this.#ask(origin, claims, now);
        return c.ok ? c.caller : credentialRefusal(c);
      } };
    }
    const c = this.check(token, tenant, now);
    if (!c.ok) return credentialRefusal(c);
    return { tenant, secret, token };
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url');
  }

  /** The claims of a token signed here that `principalTenant` may present, or why not. */
  #verify(token: string, principalTenant: string): Claims | ContextCheck {
    const m = TOKEN.exec(token);
    if (m === null) return { ok: false, refusal: 'malformed' };
    const [, body = '', sig = ''] = m;
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== 32 || given.toString('base64url') !== sig) return { ok: false, refusal: 'malformed' };
    if (!timingSafeEqual(given, createHmac('sha256', this.#key).update(body).digest())) return { ok: false, refusal: 'forged' };
    const claims = parseClaims(body);
    if (claims === undefined) return { ok: false, refusal: 'malformed' };
    if (claims.t !== principalTenant) return { ok: false, refusal: 'other-tenant', tenant: claims.t };
    return claims;
  }

  #local(claims: Claims, now: number): ContextCheck {
    const inv = this.#running.get(claims.n);
    if (inv === undefined || !sameAs(inv, claims)) return ENDED;
    if (now > inv.deadline) return EXPIRED;
    return { ok: true, caller: inv };
  }

  /** The gateway to ask about verified claims not registered here: none without peers, or if it is this one. */
  #remoteOrigin(claims: Claims): number | undefined {
    if (this.#peers === undefined || this.#running.has(claims.n)) return undefined;
    const origin = originOf(claims.n);
    return origin === this.#peers.self ? undefined : origin;
  }

  async #ask(origin: number, claims: Claims, now: number): Promise<ContextCheck> {
    let inv: RunningInvocation | undefined;
    try {
      inv = await this.#question(origin, claims.n);
    } catch {
      return { ok: false, refusal: 'unconfirmed', gateway: origin };
    }
    if (inv === undefined || !sameAs(inv, claims)) return ENDED;
    if (now > inv.deadline) return EXPIRED;
    return { ok: true, caller: { ...inv, gateway: origin } };
  }

  /** Gateway `origin`'s answer about `nonce`: one question at a time per nonce, given up after the timeout. */
  #question(origin: number, nonce: string): Promise<RunningInvocation | undefined> {
    const pending = this.#asking.get(nonce);
    if (pending !== undefined) return pending;
    const peers = this.#peers as ContextPeers;
    const timeoutMs = peers.timeoutMs ?? CONTEXT_ASK_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const q: Promise<RunningInvocation | undefined> = Promise.race([
      // (A question that throws at once is a rejection like any other.)
      Promise.resolve().then(() => peers.ask(origin, nonce, timeoutMs)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`gateway ${origin} did not answer within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      }),
    ]).finally(() => {
      clearTimeout(timer);
      if (this.#asking.get(nonce) === q) this.#asking.delete(nonce);
    });
    this.#asking.set(nonce, q);
    return q;
  }
}

/** What an invocation credential refused by its context's check says. */
function credentialRefusal(c: Refused): InvocationRefusal {
  if (c.refusal === 'unconfirmed') {
    return {
      refused: `invocation credentials work only while their invocation runs, and gateway ${c.gateway ?? '?'} of this cluster, where this one began, did not say in time whether it still runs (it is busy, or NATS cannot be reached): retry`,
      unavailable: true,
    };
  }
  return { refused: `The security token included in the request is expired: invocation credentials work only while their invocation runs (this one ${c.refusal === 'expired' ? 'has passed its deadline' : 'has ended'})` };
}
