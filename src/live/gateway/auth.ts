// Who is calling: AWS Signature Version 4 (what AWS SDKs and the CLI send) or
// `Authorization: Bearer <access key id>:<secret>` (for curl and scripts). Both name a credential
// of the store; the principal is its tenant, with the administrator flag.

import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { INVOCATION_KEY_PREFIX } from '../invocation-credentials.ts';
import type { RunningInvocation } from './fare-context.ts';
import type { IncomingMessage } from 'node:http';
import type { Credential, Store } from '../store/index.ts';
import { AuthFailureLimiter, type AuthLimits } from './auth-limiter.ts';
import { ApiError, authError, contextUnconfirmed, throttled } from './errors.ts';
import { header, readBody } from './http.ts';
import { headerPairs, sha256Hex, verifySigV4, type SigV4Options } from './sigv4.ts';

export interface Principal {
  readonly tenant: string;
  readonly accessKeyId: string;
  readonly admin: boolean;
  readonly scheme: 'sigv4' | 'bearer';
  /**
   * The context token of the invocation whose credentials signed the request
   * (invocation-credentials.ts): its calls are that invocation's, as with `X-Fare-Context`.
   */
  readonly context?: string;
  /**
   * That invocation, when it runs on another gateway of the cluster which authentication has just
   * asked (`confirm`), so that the call does not ask again.
   */
  readonly caller?: RunningInvocation;
}

/**
 * An invocation credential looked up: whose it is and its secret, or why it is refused. `confirm`:
 * its invocation began on another gateway of the cluster, which must still say that it runs — asked
 * only once the request's signature has passed; resolves to the invocation, or to a refusal.
 */
export type InvocationCredential =
  | { readonly tenant: string; readonly secret: string; readonly token: string; readonly confirm?: () => Promise<RunningInvocation | InvocationRefusal> }
  | InvocationRefusal;

/** Why an invocation credential is refused; `unavailable`: it could not be told (503, worth a retry), not that it is bad. */
export interface InvocationRefusal {
  readonly refused: string;
  readonly unavailable?: boolean;
}

export interface AuthOptions extends SigV4Options {
  /** Limits on authentication failures (auth-limiter.ts); default `DEFAULT_AUTH_LIMITS`. */
  readonly limits?: Partial<AuthLimits>;
  /** Waits before a rate-limited answer (default: a timer); tests record instead of waiting. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Invocation credentials (access key ids `FARECTX…` with a session token): none accepted without. */
  readonly invocation?: (accessKeyId: string, sessionToken: string | undefined) => InvocationCredential;
}

const timer = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * `<access key id>:<secret>` after `Bearer ` and exactly one space: the id as issued (16–128 upper-case
 * letters and digits), the secret printable ASCII without spaces; nothing before, between or after.
 */
const BEARER_TOKEN = /^([A-Z0-9]{16,128}):([\x21-\x7e]{16,256})$/;
const BEARER_SCHEME = /^bearer /i;

/** How long a verified Bearer secret is remembered by this gateway (ms). */
const BEARER_CACHE_MS = 60_000;

/**
 * SHA-256 of a secret: Node's one-shot `crypto.hash` where it has one (20.12+), which makes no Hash
 * object (each is a native object the garbage collector must finalise: on every call, that shows in
 * the warm path's scavenges), else a Hash.
 */
const sha256: (s: string) => Buffer =
  typeof (crypto as Partial<typeof crypto>).hash === 'function' ? (s) => crypto.hash('sha256', s, 'buffer') : (s) => createHash('sha256').update(s).digest();

export class Authenticator {
  readonly #store: Store;
  readonly #clock: () => number;
  readonly #opts: AuthOptions;
  readonly #limiter: AuthFailureLimiter;
  /** Bearer credentials verified in the last minute, by access key id: the SHA-256 of the secret that passed. */
  readonly #verified = new Map<string, { readonly digest: Buffer; readonly principal: Principal; readonly expires: number }>();
  #delayed = 0;

  constructor(store: Store, clock: () => number, opts: AuthOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#opts = opts;
    this.#limiter = new AuthFailureLimiter(opts.limits);
  }

  /** Bearer credentials can be checked before the body is read; SigV4 needs the body's hash. */
  static isBearer(req: IncomingMessage): boolean {
    return BEARER_SCHEME.test(header(req, 'authorization') ?? '');
  }

  static hasAuthorization(req: IncomingMessage): boolean {
    return header(req, 'authorization') !== undefined;
  }

  /**
   * A secret verified in the last minute is recognised by its SHA-256 (a map lookup and a
   * constant-time comparison: no database read on the hot path); anything else costs one database
   * read, one HMAC and one constant-time comparison (CredentialRepo.verify), for a right or a wrong
   * secret and for a known or an unknown access key id alike. A revocation through the API takes
   * effect at once (`forget`).
   */
  bearer(req: IncomingMessage): Principal {
    const m = BEARER_TOKEN.exec((header(req, 'authorization') ?? '').replace(BEARER_SCHEME, ''));
    if (m === null) {
      throw authError('malformed', 'Authorization: Bearer takes <access key id>:<secret>, exactly as returned when the tenant or credential was created, after one space, with nothing before or after it');
    }
    const id = m[1] as string;
    const secret = m[2] as string;
    const digest = sha256(secret);
    const now = this.#clock();
    const hit = this.#verified.get(id);
    if (hit !== undefined && hit.expires > now && timingSafeEqual(hit.digest, digest)) return hit.principal;
    const cred = this.#store.credentials.verify(id, secret);
    if (cred === undefined) throw authError('unknown-key', 'the access key id or secret is wrong, or the credential was revoked: check both parts of <access key id>:<secret>');
    const principal: Principal = { tenant: cred.tenant, accessKeyId: cred.accessKeyId, admin: cred.admin, scheme: 'bearer' };
    if (this.#verified.size >= 10_000) this.#verified.clear();
    this.#verified.set(id, { digest, principal, expires: now + BEARER_CACHE_MS });
    return principal;
  }

  /** Drops a remembered Bearer verification (after a revocation). */
  forget(accessKeyId: string): void {
    this.#verified.delete(accessKeyId);
  }

  async sigv4(req: IncomingMessage, body: Buffer): Promise<Principal> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let cred: Credential | undefined;
    let invocation: InvocationCredential | undefined;
    const result = await verifySigV4(
      {
        method: req.method ?? 'GET',
        rawPath: q < 0 ? url : url.slice(0, q),
        rawQuery: q < 0 ? '' : url.slice(q + 1),
        headers: headerPairs(req.rawHeaders),
        bodySha256: sha256Hex(body),
      },
      (id) => {
        if (id.startsWith(INVOCATION_KEY_PREFIX) && this.#opts.invocation !== undefined) {
          invocation = this.#opts.invocation(id, header(req, 'x-amz-security-token'));
          return 'secret' in invocation ? invocation.secret : undefined;
        }
        const s = this.#store.credentials.signingSecret(id);
        cred = s?.credential;
        return s?.secret;
      },
      this.#clock(),
      this.#opts,
    );
    if (invocation !== undefined) {
      if ('refused' in invocation) throw authError('unknown-key', invocation.refused);
      if (!result.ok) throw authError(result.failure, result.message);
      const confirmed = invocation.confirm === undefined ? undefined : await invocation.confirm();
      if (confirmed !== undefined && 'refused' in confirmed) throw confirmed.unavailable === true ? contextUnconfirmed(confirmed.refused) : authError('unknown-key', confirmed.refused);
      const principal: Principal = { tenant: invocation.tenant, accessKeyId: result.accessKeyId, admin: false, scheme: 'sigv4', context: invocation.token };
      return confirmed === undefined ? principal : { ...principal, caller: confirmed };
    }
    if (!result.ok) throw authError(result.failure, result.message);
    if (cred === undefined || cred.accessKeyId !== result.accessKeyId) throw authError('unknown-key', 'The security token included in the request is invalid.');
    return { tenant: cred.tenant, accessKeyId: cred.accessKeyId, admin: cred.admin, scheme: 'sigv4' };
  }

  /**
   * What to answer for an authentication failure: the failure itself while its client address and
   * the key id it named are within their limits, else a 429 (sent after the limiter's delay).
   */
  async refusal(req: IncomingMessage, failure: ApiError): Promise<ApiError> {
    const retryAfterS = this.#limiter.failed(req.socket.remoteAddress, namedKeyId(req), this.#clock());
    if (retryAfterS === undefined) return failure;
    const { delayMs, maxDelayed } = this.#limiter.limits;
    if (delayMs > 0 && this.#delayed < maxDelayed) {
      this.#delayed++;
      try {
        await (this.#opts.sleep ?? timer)(delayMs);
      } finally {
        this.#delayed--;
      }
    }
    return throttled(
      'FARE_E_AUTH_RATE_LIMITED',
      `too many failed authentications from this address or naming this access key id (this one: ${failure.message}); fix the credential and retry after ${retryAfterS} s. A right credential is always accepted.`,
      retryAfterS,
      'AuthenticationFailureRateExceeded',
    );
  }
}

/** The access key id a request names, if any (only to pick its limiter bucket; not validated). */
function namedKeyId(req: IncomingMessage): string | undefined {
  const v = header(req, 'authorization') ?? '';
  const m = /^bearer ([^:\s]{1,128}):/i.exec(v) ?? /Credential=([^/\s,]{1,128})\//.exec(v);
  return m?.[1];
}

/**
 * Authenticates (Bearer before the body, SigV4 after it) and reads the body up to `limit`. Failures
 * go through the limiter (`Authenticator.refusal`).
 */
export async function authenticatedBody(auth: Authenticator, req: IncomingMessage, limit: number, tooLargeMessage: string): Promise<{ principal: Principal; body: Buffer }> {
  let principal: Principal;
  let body: Buffer | undefined;
  try {
    if (!Authenticator.hasAuthorization(req)) throw authError('missing', 'Missing Authentication Token: sign the request with SigV4 or send Authorization: Bearer <access key id>:<secret>');
    if (Authenticator.isBearer(req)) {
      principal = auth.bearer(req);
    } else {
      body = await readBody(req, limit, tooLargeMessage);
      principal = await auth.sigv4(req, body);
    }
  } catch (e) {
    // Authentication failures are 401 (403 on the Lambda API); a body too large is not one.
    if (e instanceof ApiError && e.status === 401) throw await auth.refusal(req, e);
    throw e;
  }
  return { principal, body: body ?? (await readBody(req, limit, tooLargeMessage)) };
}
