// Who is calling: AWS Signature Version 4 (what AWS SDKs and the CLI send) or
// `Authorization: Bearer <access key id>:<secret>` (for curl and scripts). Both name a credential
// of the store; the principal is its tenant, with the administrator flag.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Store } from '../store/index.ts';
import { authError } from './errors.ts';
import { header, readBody } from './http.ts';
import { headerPairs, sha256Hex, verifySigV4, type SigV4Options } from './sigv4.ts';

export interface Principal {
  readonly tenant: string;
  readonly accessKeyId: string;
  readonly admin: boolean;
  readonly scheme: 'sigv4' | 'bearer';
}

export interface AuthOptions extends SigV4Options {
  /** How long a verified Bearer secret is remembered (scrypt is deliberately slow). Default 60 s. */
  readonly bearerCacheMs?: number;
}

interface CachedBearer {
  readonly digest: Buffer;
  readonly principal: Principal;
  readonly expires: number;
}

export class Authenticator {
  readonly #store: Store;
  readonly #clock: () => number;
  readonly #opts: AuthOptions;
  readonly #cache = new Map<string, CachedBearer>();

  constructor(store: Store, clock: () => number, opts: AuthOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#opts = opts;
  }

  /** Bearer credentials can be checked before the body is read; SigV4 needs the body's hash. */
  static isBearer(req: IncomingMessage): boolean {
    return /^Bearer /i.test(header(req, 'authorization') ?? '');
  }

  static hasAuthorization(req: IncomingMessage): boolean {
    return header(req, 'authorization') !== undefined;
  }

  async bearer(req: IncomingMessage): Promise<Principal> {
    const value = (header(req, 'authorization') ?? '').replace(/^Bearer /i, '').trim();
    const colon = value.indexOf(':');
    if (colon <= 0) throw authError('malformed', 'the Bearer token must be <access key id>:<secret>, as returned when the tenant or credential was created');
    const id = value.slice(0, colon);
    const secret = value.slice(colon + 1);
    const digest = createHash('sha256').update(secret).digest();
    const now = this.#clock();
    const hit = this.#cache.get(id);
    if (hit !== undefined && hit.expires > now && timingSafeEqual(hit.digest, digest)) return hit.principal;
    const cred = await this.#store.credentials.verify(id, secret);
    if (cred === undefined) throw authError('unknown-key', 'the access key id or secret is wrong, or the credential was revoked: check both parts of <access key id>:<secret>');
    const principal: Principal = { tenant: cred.tenant, accessKeyId: cred.accessKeyId, admin: cred.admin, scheme: 'bearer' };
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(id, { digest, principal, expires: now + (this.#opts.bearerCacheMs ?? 60_000) });
    return principal;
  }

  sigv4(req: IncomingMessage, body: Buffer): Principal {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const result = verifySigV4(
      {
        method: req.method ?? 'GET',
        rawPath: q < 0 ? url : url.slice(0, q),
        rawQuery: q < 0 ? '' : url.slice(q + 1),
        headers: headerPairs(req.rawHeaders),
        bodySha256: sha256Hex(body),
      },
      (id) => this.#store.credentials.signingSecret(id)?.secret,
      this.#clock(),
      this.#opts,
    );
    if (!result.ok) throw authError(result.failure, result.message);
    const cred = this.#store.credentials.get(result.accessKeyId);
    if (cred === undefined) throw authError('unknown-key', 'The security token included in the request is invalid.');
    return { tenant: cred.tenant, accessKeyId: cred.accessKeyId, admin: cred.admin, scheme: 'sigv4' };
  }

  /** Drops a remembered Bearer verification (after a revocation). */
  forget(accessKeyId: string): void {
    this.#cache.delete(accessKeyId);
  }
}

/** Authenticates (Bearer before the body, SigV4 after it) and reads the body up to `limit`. */
export async function authenticatedBody(auth: Authenticator, req: IncomingMessage, limit: number, tooLargeMessage: string): Promise<{ principal: Principal; body: Buffer }> {
  if (!Authenticator.hasAuthorization(req)) throw authError('missing', 'Missing Authentication Token: sign the request with SigV4 or send Authorization: Bearer <access key id>:<secret>');
  if (Authenticator.isBearer(req)) {
    const principal = await auth.bearer(req);
    return { principal, body: await readBody(req, limit, tooLargeMessage) };
  }
  const body = await readBody(req, limit, tooLargeMessage);
  return { principal: auth.sigv4(req, body), body };
}
