// AWS Signature Version 4 verification (header form, `Authorization: AWS4-HMAC-SHA256 …`) by
// re-signing: the request is rebuilt from what the client signed (method, path and query as sent,
// exactly the SignedHeaders, the payload hash) and signed again by the AWS SDK's own signer
// (`@smithy/signature-v4`), so the canonical request is the one the SDKs and the AWS CLI build.
// What Fare checks beyond the signature (the strict Authorization header, a signed Host, the
// payload hash, scope, skew, equal work for unknown keys) is here. Time comes in.

import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SigV4Request {
  readonly method: string;
  /** Path as received, still percent-encoded, without the query. */
  readonly rawPath: string;
  /** Query as received (after `?`), still encoded; '' if none. */
  readonly rawQuery: string;
  /** Headers as received: names in any case, one entry per header line (node's `rawHeaders`). */
  readonly headers: readonly (readonly [string, string])[];
  /** Hex SHA-256 of the body as received. */
  readonly bodySha256: string;
}

export interface SigV4Authorization {
  readonly accessKeyId: string;
  /** `YYYYMMDD` of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export type SigV4Failure = 'missing' | 'malformed' | 'unknown-key' | 'expired' | 'mismatch';

export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string; readonly region: string; readonly service: string }
  | { readonly ok: false; readonly failure: SigV4Failure; readonly message: string };

export interface SigV4Options {
  /** Services accepted in the credential scope (default `['lambda']`). */
  readonly services?: readonly string[];
  /** If set, the only region accepted in the credential scope. */
  readonly region?: string;
  /** Largest accepted difference between X-Amz-Date and now (default 15 minutes, as AWS). */
  readonly maxSkewMs?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

const AUTH_COMPONENTS = ['Credential', 'SignedHeaders', 'Signature'] as const;

/**
 * Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` strictly: each of the three
 * components exactly once (any order), separated by a comma and optional spaces, with nothing else
 * before, between or after them.
 */
export function parseAuthorization(value: string): SigV4Authorization | { readonly error: string } {
  if (!value.startsWith(`${ALGORITHM} `)) return { error: `the Authorization header must start with "${ALGORITHM} "` };
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(/, */)) {
    const m = /^([A-Za-z]+)=([^\s,=]+)$/.exec(part);
    if (m === null) return { error: `the Authorization header has a malformed component ${JSON.stringify(part)}: send exactly Credential=…, SignedHeaders=…, Signature=…` };
    const [, name = '', v = ''] = m;
    if (!(AUTH_COMPONENTS as readonly string[]).includes(name)) return { error: `the Authorization header has an unknown component ${JSON.stringify(name)}: send only Credential, SignedHeaders and Signature` };
    if (fields.has(name)) return { error: `the Authorization header has ${name} twice: send it once` };
    fields.set(name, v);
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signed === undefined || signature === undefined) {
    return { error: "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters" };
  }
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1] ?? '') || !/^[A-Za-z0-9]{1,128}$/.test(scope[0] ?? '') || !/^[a-z0-9-]{1,64}$/.test(scope[2] ?? '') || !/^[a-z0-9-]{1,64}$/.test(scope[3] ?? '')) {
    return { error: `Credential should be scoped as <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request, got ${JSON.stringify(credential)}` };
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) return { error: 'Signature must be 64 lower-case hex digits' };
  const signedHeaders = signed.split(';');
  if (signedHeaders.some((h) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h))) return { error: 'SignedHeaders must be lower-case header names separated by ";"' };
  return {
    accessKeyId: scope[0] ?? '',
    date: scope[1] ?? '',
    region: scope[2] ?? '',
    service: scope[3] ?? '',
    signedHeaders,
    signature,
  };
}

/** Most query parameters a signed request may have (the signer's copy of the query grows as their square). */
export const MAX_QUERY_PARAMETERS = 100;

/**
 * The query as the signer takes it: each name and value percent-decoded (strictly: `bad-escape` on
 * an invalid escape), a repeated name as a list; `too-many` past `MAX_QUERY_PARAMETERS` pairs. The
 * signer re-encodes them (RFC 3986) and sorts them, as the SDKs do.
 */
function signableQuery(rawQuery: string): Record<string, string | string[]> | 'bad-escape' | 'too-many' {
  const byName = new Map<string, string[]>();
  let count = 0;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    if (++count > MAX_QUERY_PARAMETERS) return 'too-many';
    const eq = part.indexOf('=');
    let k: string;
    let v: string;
    try {
      k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    } catch {
      return 'bad-escape';
    }
    const list = byName.get(k);
    if (list === undefined) byName.set(k, [v]);
    else list.push(v);
  }
  // fromEntries defines own properties, so a name like `__proto__` stays a parameter.
  return Object.fromEntries([...byName].map(([k, vs]) => [k, vs.length === 1 ? (vs[0] ?? '') : vs]));
}

/**
 * The signed headers' values (each trimmed, a repeated header joined with commas, as AWS specifies;
 * the signer collapses inner whitespace), or the first signed header that is absent.
 */
function signedHeaderValues(headers: SigV4Request['headers'], signed: readonly string[]): Map<string, string> | { readonly missing: string } {
  const wanted = new Set(signed);
  const values = new Map<string, string>();
  for (const [name, value] of headers) {
    const n = name.toLowerCase();
    if (!wanted.has(n)) continue;
    const prior = values.get(n);
    values.set(n, prior === undefined ? value.trim() : `${prior},${value.trim()}`);
  }
  for (const name of signed) if (!values.has(name)) return { missing: name };
  return values;
}

/** `YYYYMMDDTHHMMSSZ` → ms since the epoch, or undefined. */
export function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, se);
  return new Date(t).getUTCDate() === d ? t : undefined;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Signs for an unknown access key id (random per process: no request can match it). */
const UNKNOWN_KEY_SECRET = randomBytes(30).toString('base64');

/**
 * The signer remembers derived signing keys by access key id and secret; a remembered key would make
 * a known id's verification cheaper than an unknown one's (always new), so each verification signs
 * as its own id (the id only names the cache entry and the Authorization we do not read).
 */
let verification = 0;

const fail = (failure: SigV4Failure, message: string): SigV4Result => ({ ok: false, failure, message });

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Verifies a header-signed request by signing it again. `secretOf` returns the secret of an access
 * key id (undefined: unknown or revoked). `now` is the verifier's clock in ms.
 */
export async function verifySigV4(req: SigV4Request, secretOf: (accessKeyId: string) => string | undefined, now: number, opts: SigV4Options = {}): Promise<SigV4Result> {
  const get = (name: string): string | undefined => req.headers.find(([n]) => n.toLowerCase() === name)?.[1];
  const authz = get('authorization');
  if (authz === undefined) return fail('missing', 'Missing Authentication Token');
  const auth = parseAuthorization(authz);
  if ('error' in auth) return fail('malformed', auth.error);

  const services = opts.services ?? ['lambda'];
  if (!services.includes(auth.service)) return fail('malformed', `Credential should be scoped to a valid service: ${services.map((s) => `'${s}'`).join(' or ')}, not '${auth.service}'`);
  if (opts.region !== undefined && auth.region !== opts.region) return fail('malformed', `Credential should be scoped to a valid region, not '${auth.region}'; this endpoint is '${opts.region}'`);
  if (!auth.signedHeaders.includes('host')) return fail('malformed', "'Host' must be a signed header");
  // The signer dates a request by X-Amz-Date alone and drops a Date header; the SDKs and the CLI never sign one.
  if (auth.signedHeaders.includes('date')) return fail('malformed', "'Date' cannot be a signed header here: sign X-Amz-Date instead");

  const amzDate = get('x-amz-date');
  if (amzDate === undefined) return fail('malformed', 'the request must carry an X-Amz-Date header (YYYYMMDDTHHMMSSZ)');
  const t = parseAmzDate(amzDate.trim());
  if (t === undefined) return fail('malformed', `X-Amz-Date ${JSON.stringify(amzDate)} is not in the form YYYYMMDDTHHMMSSZ`);
  if (amzDate.trim().slice(0, 8) !== auth.date) return fail('malformed', `the credential scope date ${auth.date} does not match X-Amz-Date ${amzDate}`);
  const skew = opts.maxSkewMs ?? 15 * 60_000;
  if (t < now - skew) {
    return fail('expired', `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - skew)} (${formatAmzDate(now)} - ${skew / 60_000} min.)`);
  }
  if (t > now + skew) {
    return fail('expired', `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + skew)} (${formatAmzDate(now)} + ${skew / 60_000} min.)`);
  }

  // The payload hash signed: X-Amz-Content-Sha256 as sent if there is one (as the SDKs sign), which
  // must be the body's; otherwise the body's.
  let payloadHash = req.bodySha256;
  const declared = get('x-amz-content-sha256');
  if (declared !== undefined) {
    payloadHash = declared.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(payloadHash)) return fail('malformed', `X-Amz-Content-Sha256 ${JSON.stringify(payloadHash)} is not supported here: send the hex SHA-256 of the body (unsigned and streaming payloads are not accepted)`);
    if (payloadHash.toLowerCase() !== req.bodySha256) return fail('mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  // An unknown key id is signed for with a stand-in secret and refused only at the end, so it
  // costs what a known one does and cannot be told apart by the time to answer.
  const secret = secretOf(auth.accessKeyId);

  const values = signedHeaderValues(req.headers, auth.signedHeaders);
  if ('missing' in values) return fail('malformed', `the signed header ${JSON.stringify(values.missing)} is not in the request`);
  const query = signableQuery(req.rawQuery);
  if (query === 'bad-escape') return fail('malformed', 'the query string has an invalid percent-encoding');
  if (query === 'too-many') return fail('malformed', `the query string has more than ${MAX_QUERY_PARAMETERS} parameters`);

  // The request as the client signed it: exactly the signed headers, plus the payload hash (which
  // the signer reads from X-Amz-Content-Sha256) and X-Amz-Date (which it sets), signed only if the
  // client signed them.
  const signable = new Set(auth.signedHeaders);
  const headers = Object.fromEntries(values);
  headers['x-amz-content-sha256'] = payloadHash;
  const unsignable = new Set(['x-amz-content-sha256', 'x-amz-date'].filter((h) => !signable.has(h)));
  const signer = new SignatureV4({
    service: auth.service,
    region: auth.region,
    credentials: { accessKeyId: `fare-verify-${++verification}`, secretAccessKey: secret ?? UNKNOWN_KEY_SECRET },
    sha256: Sha256,
    uriEscapePath: auth.service !== 's3',
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    { method: req.method.toUpperCase(), protocol: 'https:', hostname: 'fare', path: req.rawPath, query, headers },
    { signingDate: new Date(t), signingRegion: auth.region, signingService: auth.service, signableHeaders: signable, unsignableHeaders: unsignable },
  );
  const signature = /Signature=([0-9a-f]{64})$/.exec(resigned.headers['authorization'] ?? '')?.[1] ?? '';
  const expected = Buffer.from(signature, 'hex');
  const given = Buffer.from(auth.signature, 'hex');
  const match = given.length === expected.length && timingSafeEqual(given, expected);
  if (secret === undefined) return fail('unknown-key', 'The security token included in the request is invalid.');
  if (!match) return fail('mismatch', MISMATCH);
  return { ok: true, accessKeyId: auth.accessKeyId, region: auth.region, service: auth.service };
}

/** Node's `rawHeaders` (flat name, value, name, value …) as pairs. */
export function headerPairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? '', raw[i + 1] ?? '']);
  return out;
}
