import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { MAX_QUERY_PARAMETERS, parseAuthorization, verifySigV4, type SigV4Options, type SigV4Request } from './sigv4.ts';
import { startHarness, type Harness } from './testing.ts';

// ---------------------------------------------------------------------------------------------
// An independent SigV4 signer, written from AWS's description of the algorithm ("Create a signed
// AWS API request"), sharing no code with the verifier.

const hex = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const mac = (k: string | Buffer, s: string): Buffer => createHmac('sha256', k).update(s).digest();
/** RFC 3986 unreserved characters stay; everything else becomes %XX of its UTF-8 bytes. */
function rfc3986(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

interface ToSign {
  method: string;
  url: URL;
  /** Header names in lower case; all of them are signed. */
  headers: Record<string, string>;
  body: string | Buffer;
  accessKeyId: string;
  secret: string;
  region: string;
  service: string;
  amzDate: string;
}

function sign(r: ToSign): string {
  // Each segment of the (already once-encoded) path is encoded again, except for S3.
  const path = r.url.pathname === '' ? '/' : r.url.pathname;
  const uri = r.service === 's3' ? path : path.split('/').map(rfc3986).join('/');
  const query = [...r.url.searchParams.entries()]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = Object.keys(r.headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${(r.headers[n] ?? '').trim().replace(/ +/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const creq = `${r.method}\n${uri}\n${query}\n${canonicalHeaders}\n${signedHeaders}\n${hex(r.body)}`;
  const day = r.amzDate.slice(0, 8);
  const scope = `${day}/${r.region}/${r.service}/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${r.amzDate}\n${scope}\n${hex(creq)}`;
  const key = mac(mac(mac(mac(`AWS4${r.secret}`, day), r.region), r.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(sts).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${r.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

const amz = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');

// ---------------------------------------------------------------------------------------------
// AWS's SigV4 test suite (aws-sig-v4-test-suite): credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z,
// us-east-1, service "service", host example.amazonaws.com.

const SUITE = {
  accessKeyId: 'AKIDEXAMPLE',
  secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  now: Date.UTC(2015, 7, 30, 12, 36, 0),
  vectors: [
    { name: 'get-vanilla', method: 'GET', path: '/', query: '', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'get-vanilla-query-order-key-case', method: 'GET', path: '/', query: 'Param2=value2&Param1=value1', signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
    { name: 'post-vanilla', method: 'POST', path: '/', query: '', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  ],
};

describe('SigV4 against the AWS test suite', () => {
  for (const v of SUITE.vectors) {
    const authorization = `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${v.signature}`;
    const req: SigV4Request = {
      method: v.method,
      rawPath: v.path,
      rawQuery: v.query,
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['X-Amz-Date', '20150830T123600Z'],
        ['Authorization', authorization],
      ],
      bodySha256: hex(''),
    };
    const secretOf = (id: string): string | undefined => (id === SUITE.accessKeyId ? SUITE.secret : undefined);

    it(`${v.name}: the verifier accepts AWS's published signature`, async () => {
      expect(await verifySigV4(req, secretOf, SUITE.now, { services: ['service'] })).toEqual({ ok: true, accessKeyId: 'AKIDEXAMPLE', region: 'us-east-1', service: 'service' });
    });

    it(`${v.name}: the test's own signer produces it too`, () => {
      const url = new URL(`https://example.amazonaws.com${v.path}${v.query === '' ? '' : `?${v.query}`}`);
      const got = sign({ method: v.method, url, headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' }, body: '', accessKeyId: SUITE.accessKeyId, secret: SUITE.secret, region: 'us-east-1', service: 'service', amzDate: '20150830T123600Z' });
      expect(got).toBe(authorization);
    });

    it(`${v.name}: one changed bit anywhere is refused`, async () => {
      const flipped = v.signature.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
      const bad = { ...req, headers: req.headers.map(([n, val]): [string, string] => [n, n === 'Authorization' ? val.replace(v.signature, flipped) : val]) };
      expect(await verifySigV4(bad, secretOf, SUITE.now, { services: ['service'] })).toMatchObject({ ok: false, failure: 'mismatch' });
      expect(await verifySigV4({ ...req, method: v.method === 'GET' ? 'POST' : 'GET' }, secretOf, SUITE.now, { services: ['service'] })).toMatchObject({ ok: false, failure: 'mismatch' });
      expect(await verifySigV4({ ...req, rawQuery: 'Param1=value2' }, secretOf, SUITE.now, { services: ['service'] })).toMatchObject({ ok: false, failure: 'mismatch' });
    });
  }

  it('refuses a scope for another service, and requests outside ±15 minutes', async () => {
    const [v] = SUITE.vectors;
    const req: SigV4Request = {
      method: 'GET',
      rawPath: '/',
      rawQuery: '',
      headers: [['Host', 'example.amazonaws.com'], ['X-Amz-Date', '20150830T123600Z'], ['Authorization', `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${v?.signature ?? ''}`]],
      bodySha256: hex(''),
    };
    const secretOf = (): string => SUITE.secret;
    expect(await verifySigV4(req, secretOf, SUITE.now)).toMatchObject({ ok: false, failure: 'malformed' });
    expect(await verifySigV4(req, secretOf, SUITE.now + 15 * 60_000, { services: ['service'] })).toMatchObject({ ok: true });
    expect(await verifySigV4(req, secretOf, SUITE.now + 15 * 60_000 + 1000, { services: ['service'] })).toMatchObject({ ok: false, failure: 'expired', message: expect.stringMatching(/^Signature expired: 20150830T123600Z is now earlier than/) as unknown });
    expect(await verifySigV4(req, secretOf, SUITE.now - 16 * 60_000, { services: ['service'] })).toMatchObject({ ok: false, failure: 'expired', message: expect.stringMatching(/not yet current/) as unknown });
  });

  it('signs for an unknown access key id with a stand-in secret before refusing it: the same work as a wrong signature of a known one, every time', async () => {
    const signature = 'f'.repeat(64);
    const request = (id: string): SigV4Request => ({
      method: 'GET',
      rawPath: '/',
      rawQuery: '',
      headers: [['Host', 'example.amazonaws.com'], ['X-Amz-Date', '20150830T123600Z'], ['Authorization', `AWS4-HMAC-SHA256 Credential=${id}/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`]],
      bodySha256: hex(''),
    });
    const secretOf = (id: string): string | undefined => (id === SUITE.accessKeyId ? SUITE.secret : undefined);
    // Every SHA-256 and HMAC the signer starts (the signer's hash class, as the SDK's).
    const started = vi.spyOn(Sha256.prototype as unknown as { createHash: () => unknown }, 'createHash');
    const work = async (id: string): Promise<{ result: unknown; hmacs: number; hashes: number }> => {
      started.mockClear();
      const result = await verifySigV4(request(id), secretOf, SUITE.now, { services: ['service'] });
      const hmacs = started.mock.contexts.filter((c) => (c as { secret?: unknown }).secret !== undefined).length;
      return { result, hmacs, hashes: started.mock.calls.length - hmacs };
    };
    const known = await work(SUITE.accessKeyId);
    const again = await work(SUITE.accessKeyId);
    const unknown = await work('AKIDUNKNOWN00000');
    started.mockRestore();
    expect(known.result).toMatchObject({ ok: false, failure: 'mismatch' });
    expect(unknown.result).toMatchObject({ ok: false, failure: 'unknown-key' });
    // The signer's signing-key cache is never hit, so a known id does not get cheaper the second time.
    expect(known).toMatchObject({ hmacs: 6, hashes: 1 });
    expect(again).toMatchObject({ hmacs: known.hmacs, hashes: known.hashes });
    expect(unknown).toMatchObject({ hmacs: known.hmacs, hashes: known.hashes });
  });
});

// ---------------------------------------------------------------------------------------------
// Requests signed by the SDK's signer itself, as a client: a JS SDK (or the CLI, which signs the
// same way) is accepted, and any change to what it signed is not.

const CLIENT = { accessKeyId: 'AKIAFARECLIENT000000', secretAccessKey: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw' };
const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);

interface ClientRequest {
  method?: string;
  /** The path as it goes on the wire (the SDK encodes a label once: an ARN's ':' is %3A). */
  path?: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
  sessionToken?: string;
  region?: string;
}

/** Signs with `@smithy/signature-v4` as the SDK does, and returns what the gateway receives. */
async function sdkSigned(o: ClientRequest = {}): Promise<SigV4Request> {
  const signer = new SignatureV4({ service: 'lambda', region: o.region ?? 'us-east-1', credentials: { ...CLIENT, ...(o.sessionToken === undefined ? {} : { sessionToken: o.sessionToken }) }, sha256: Sha256 });
  const body = o.body ?? '{"name":"sdk"}';
  const signed = await signer.sign(
    {
      method: o.method ?? 'POST',
      protocol: 'https:',
      hostname: 'fare.example',
      path: o.path ?? '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3Aacme%3Afunction%3Ahello/invocations',
      query: o.query ?? { Qualifier: '$LATEST' },
      headers: { host: 'fare.example', 'content-type': 'application/json', 'x-amz-user-agent': 'aws-sdk-js/3', 'amz-sdk-request': 'attempt=1; max=3', 'user-agent': 'aws-sdk-js/3 lang/js', ...o.headers },
      body,
    },
    { signingDate: new Date(NOW) },
  );
  // The query as the SDK's HTTP handler writes it: each name and value RFC 3986-encoded, in order.
  const rawQuery = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${rfc3986(k)}=${rfc3986(String(x))}`))
    .join('&');
  return { method: signed.method, rawPath: signed.path, rawQuery, headers: Object.entries(signed.headers), bodySha256: hex(body) };
}

const accept = async (req: SigV4Request, opts: SigV4Options = {}): Promise<unknown> => verifySigV4(req, (id) => (id === CLIENT.accessKeyId ? CLIENT.secretAccessKey : undefined), NOW, opts);
const withHeader = (req: SigV4Request, name: string, value: string | undefined): SigV4Request => ({
  ...req,
  headers: [...req.headers.filter(([n]) => n.toLowerCase() !== name), ...(value === undefined ? [] : [[name, value] as const])],
});
const OK = { ok: true, accessKeyId: CLIENT.accessKeyId, region: 'us-east-1', service: 'lambda' };

describe('requests signed by @smithy/signature-v4 as a client', () => {
  it('accepts an SDK-signed invoke: an ARN in the path (encoded twice in the canonical URI), a query, the payload hash header', async () => {
    const req = await sdkSigned();
    expect(req.headers.map(([n]) => n)).toEqual(expect.arrayContaining(['x-amz-content-sha256', 'x-amz-date', 'authorization']));
    expect(await accept(req)).toEqual(OK);
    expect(await accept(withHeader(req, 'x-amz-content-sha256', undefined))).toEqual({ ok: false, failure: 'malformed', message: 'the signed header "x-amz-content-sha256" is not in the request' });
  });

  it('refuses the request once its path, query, method, a signed header or its body changed', async () => {
    const req = await sdkSigned();
    const mismatch = { ok: false, failure: 'mismatch' };
    expect(await accept({ ...req, rawPath: req.rawPath.replace('hello', 'other') })).toMatchObject(mismatch);
    expect(await accept({ ...req, rawPath: req.rawPath.replace('%3A', ':') })).toMatchObject(mismatch);
    expect(await accept({ ...req, rawQuery: 'Qualifier=1' })).toMatchObject(mismatch);
    expect(await accept({ ...req, rawQuery: '' })).toMatchObject(mismatch);
    expect(await accept({ ...req, rawQuery: `${req.rawQuery}&extra=1` })).toMatchObject(mismatch);
    expect(await accept({ ...req, method: 'PUT' })).toMatchObject(mismatch);
    expect(await accept(withHeader(req, 'content-type', 'text/plain'))).toMatchObject(mismatch);
    expect(await accept(withHeader(req, 'host', 'evil.example'))).toMatchObject(mismatch);
    // The body is bound through X-Amz-Content-Sha256, and through the hash itself without it.
    expect(await accept({ ...req, bodySha256: hex('{"name":"evil"}') })).toEqual({ ok: false, failure: 'mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." });
    // An unsigned header may be added or changed in transit, as with AWS.
    expect(await accept(withHeader(req, 'x-forwarded-for', '10.0.0.1'))).toEqual(OK);
    expect(await accept(withHeader(req, 'user-agent', 'changed'))).toEqual(OK);
  });

  it('binds the body when no X-Amz-Content-Sha256 is sent (the body hash is the payload hash)', async () => {
    const signer = new SignatureV4({ service: 'lambda', region: 'us-east-1', credentials: CLIENT, sha256: Sha256, applyChecksum: false });
    const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: 'h', path: '/2015-03-31/functions/f/invocations', query: {}, headers: { host: 'h' }, body: 'payload' }, { signingDate: new Date(NOW) });
    const req: SigV4Request = { method: 'POST', rawPath: signed.path, rawQuery: '', headers: Object.entries(signed.headers), bodySha256: hex('payload') };
    expect(req.headers.some(([n]) => n === 'x-amz-content-sha256')).toBe(false);
    expect(await accept(req)).toEqual(OK);
    expect(await accept({ ...req, bodySha256: hex('other') })).toMatchObject({ ok: false, failure: 'mismatch' });
  });

  it('accepts a session token signed as X-Amz-Security-Token (invocation credentials), and refuses a changed one', async () => {
    const req = await sdkSigned({ sessionToken: 'claims.signature' });
    expect(req.headers).toContainEqual(['x-amz-security-token', 'claims.signature']);
    expect(await accept(req)).toEqual(OK);
    expect(await accept(withHeader(req, 'x-amz-security-token', 'claims.other'))).toMatchObject({ ok: false, failure: 'mismatch' });
    expect(await accept(withHeader(req, 'x-amz-security-token', undefined))).toMatchObject({ ok: false, failure: 'malformed' });
  });

  it('normalizes the path as the SDK does: dot segments and empty segments', async () => {
    for (const path of ['/a/./b/../c//d/', '/2015-03-31/functions/my%20fn/invocations', "/x/it's(1)*!~"]) {
      expect(await accept(await sdkSigned({ path }))).toEqual(OK);
    }
    const req = await sdkSigned({ path: '/a/c/d/' });
    expect(await accept({ ...req, rawPath: '/a/./b/../c//d/' })).toEqual(OK);
    expect(await accept({ ...req, rawPath: '/a/c/d' })).toMatchObject({ ok: false, failure: 'mismatch' });
  });

  it('canonicalizes the query as the SDK does, however the client encoded it on the wire', async () => {
    const query = { b: ['2', '1'], a: 'x y+z', 'é/ü': "!'()*~", empty: '', Marker: 'a=b&c' };
    const req = await sdkSigned({ method: 'GET', query, body: '' });
    expect(await accept(req)).toEqual(OK);
    // The same parameters, in another order and encoding (lower-case hex, reserved characters left raw).
    const reordered = "Marker=a%3db%26c&empty&%C3%A9%2f%C3%BC=!'()*~&b=1&a=x%20y%2Bz&b=2";
    expect(await accept({ ...req, rawQuery: reordered })).toEqual(OK);
    // '+' is a plus sign, not a space, in a signed query.
    expect(await accept({ ...req, rawQuery: reordered.replace('x%20y', 'x+y') })).toMatchObject({ ok: false, failure: 'mismatch' });
    expect(await accept({ ...req, rawQuery: `${reordered}&bad=%E0%A4%A` })).toEqual({ ok: false, failure: 'malformed', message: 'the query string has an invalid percent-encoding' });
  });

  it(`accepts up to ${MAX_QUERY_PARAMETERS} query parameters and refuses more before signing`, async () => {
    const many = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, `${i}`]));
    expect(await accept(await sdkSigned({ method: 'GET', query: many(MAX_QUERY_PARAMETERS), body: '' }))).toEqual(OK);
    expect(await accept(await sdkSigned({ method: 'GET', query: many(MAX_QUERY_PARAMETERS + 1), body: '' }))).toEqual({ ok: false, failure: 'malformed', message: `the query string has more than ${MAX_QUERY_PARAMETERS} parameters` });
  });

  it('joins a repeated header with commas and collapses whitespace, as AWS specifies', async () => {
    const req = await sdkSigned({ headers: { 'x-fare-list': 'a,b', 'x-fare-spaced': 'one two' } });
    const rest = withHeader(withHeader(req, 'x-fare-list', undefined), 'x-fare-spaced', undefined).headers;
    expect(await accept({ ...req, headers: [...rest, ['X-Fare-List', 'a'], ['X-Fare-List', ' b '], ['X-Fare-Spaced', 'one \t  two']] })).toEqual(OK);
    expect(await accept({ ...req, headers: [...rest, ['X-Fare-List', 'b'], ['X-Fare-List', 'a'], ['X-Fare-Spaced', 'one two']] })).toMatchObject({ ok: false, failure: 'mismatch' });
  });

  it('signs headers the SDK would leave unsigned when the client signed them (User-Agent)', async () => {
    const amzDate = '20261205T120000Z';
    const url = new URL('https://fare.example/2015-03-31/functions/f/invocations');
    const headers = { host: 'fare.example', 'x-amz-date': amzDate, 'user-agent': 'curl/8' };
    const authorization = sign({ method: 'POST', url, headers, body: '{}', accessKeyId: CLIENT.accessKeyId, secret: CLIENT.secretAccessKey, region: 'us-east-1', service: 'lambda', amzDate });
    const req: SigV4Request = { method: 'POST', rawPath: url.pathname, rawQuery: '', headers: [...Object.entries(headers), ['authorization', authorization]], bodySha256: hex('{}') };
    expect(authorization).toContain('SignedHeaders=host;user-agent;x-amz-date');
    expect(await accept(req)).toEqual(OK);
    expect(await accept(withHeader(req, 'user-agent', 'curl/9'))).toMatchObject({ ok: false, failure: 'mismatch' });
  });

  it('accepts an upper-case X-Amz-Content-Sha256 signed as sent, and refuses a signed Date header or an unsigned payload', async () => {
    const body = '{"name":"sdk"}';
    expect(await accept(await sdkSigned({ body, headers: { 'x-amz-content-sha256': hex(body).toUpperCase() } }))).toEqual(OK);
    expect(await accept(await sdkSigned({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }))).toMatchObject({ ok: false, failure: 'malformed', message: expect.stringMatching(/unsigned and streaming payloads are not accepted/) as unknown });
    const req = await sdkSigned();
    const authz = req.headers.find(([n]) => n === 'authorization')?.[1] ?? '';
    const dated = withHeader(withHeader(req, 'date', 'Sat, 05 Dec 2026 12:00:00 GMT'), 'authorization', authz.replace('SignedHeaders=', 'SignedHeaders=date;'));
    expect(await accept(dated)).toEqual({ ok: false, failure: 'malformed', message: "'Date' cannot be a signed header here: sign X-Amz-Date instead" });
  });

  it('refuses an unknown key, a wrong secret and a stale or foreign scope, with the same kinds as before', async () => {
    const req = await sdkSigned();
    expect(await verifySigV4(req, () => undefined, NOW)).toMatchObject({ ok: false, failure: 'unknown-key' });
    expect(await verifySigV4(req, () => 'wrong', NOW)).toMatchObject({ ok: false, failure: 'mismatch' });
    expect(await accept(req, { region: 'eu-west-3' })).toMatchObject({ ok: false, failure: 'malformed' });
    expect(await verifySigV4(req, () => CLIENT.secretAccessKey, NOW + 16 * 60_000)).toMatchObject({ ok: false, failure: 'expired' });
    expect(await accept(await sdkSigned({ region: 'eu-west-3' }), { region: 'eu-west-3' })).toEqual({ ...OK, region: 'eu-west-3' });
  });
});

describe('Authorization header', () => {
  it('parses Authorization headers and explains malformed ones', () => {
    expect(parseAuthorization('AWS4-HMAC-SHA256 Credential=K/20200101/r/lambda/aws4_request,SignedHeaders=host;x-amz-date,Signature=' + 'a'.repeat(64))).toMatchObject({ accessKeyId: 'K', region: 'r', service: 'lambda', signedHeaders: ['host', 'x-amz-date'] });
    expect(parseAuthorization('AWS4-HMAC-SHA256 Credential=K/2020/r/lambda/aws4_request, SignedHeaders=host, Signature=' + 'a'.repeat(64))).toHaveProperty('error');
    expect(parseAuthorization('Basic abc')).toHaveProperty('error');
    expect(parseAuthorization('AWS4-HMAC-SHA256 Credential=K/20200101/r/lambda/aws4_request')).toHaveProperty('error');
  });

  it.each([
    ['garbage after the signature', `, Signature=${'a'.repeat(64)} and more`],
    ['a component after the signature', `, Signature=${'a'.repeat(64)}, Extra=1`],
    ['a trailing comma', `, Signature=${'a'.repeat(64)},`],
    ['a repeated component', `, Signature=${'a'.repeat(64)}, Signature=${'b'.repeat(64)}`],
    ['a component without a value', `, Signature=${'a'.repeat(64)}, Signature`],
  ])('refuses an Authorization header with %s', (_, tail) => {
    expect(parseAuthorization(`AWS4-HMAC-SHA256 Credential=K/20200101/r/lambda/aws4_request, SignedHeaders=host;x-amz-date${tail}`)).toHaveProperty('error');
  });

  it('refuses a credential scope with odd characters in the key id, region or service', () => {
    const tail = `, SignedHeaders=host, Signature=${'a'.repeat(64)}`;
    expect(parseAuthorization(`AWS4-HMAC-SHA256 Credential=K/20200101/r/lambda/aws4_request${tail}`)).not.toHaveProperty('error');
    for (const scope of ['K!/20200101/r/lambda', '/20200101/r/lambda', 'K/20200101/r r/lambda', 'K/20200101/r/LAMBDA']) {
      expect(parseAuthorization(`AWS4-HMAC-SHA256 Credential=${scope}/aws4_request${tail}`)).toHaveProperty('error');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Over real HTTP: requests signed by the independent signer against a running gateway.

describe('SigV4 over HTTP', () => {
  let h: Harness;
  let acme: IssuedCredential;

  beforeAll(async () => {
    h = await startHarness();
    acme = await h.tenant('acme');
    expect((await h.deploy(acme, 'hello')).status).toBe(201);
  });
  afterAll(async () => {
    await h.close();
  });

  interface Send {
    path?: string;
    method?: string;
    body?: string;
    sentBody?: string;
    headers?: Record<string, string>;
    sentHeaders?: Record<string, string>;
    at?: number;
    cred?: { accessKeyId: string; secret: string };
    region?: string;
    service?: string;
    mutate?: (authorization: string) => string;
  }

  async function send(o: Send = {}): Promise<Response> {
    const url = new URL(`${h.url}${o.path ?? '/2015-03-31/functions/hello/invocations'}`);
    const amzDate = amz(o.at ?? h.clock());
    const headers = { host: h.host, 'x-amz-date': amzDate, ...o.headers };
    const body = o.body ?? '{"name":"sig"}';
    const cred = o.cred ?? acme;
    let authorization = sign({ method: o.method ?? 'POST', url, headers, body, accessKeyId: cred.accessKeyId, secret: cred.secret, region: o.region ?? 'us-east-1', service: o.service ?? 'lambda', amzDate });
    if (o.mutate !== undefined) authorization = o.mutate(authorization);
    const { host: _host, ...rest } = headers;
    const method = o.method ?? 'POST';
    return fetch(url, { method, headers: { ...rest, ...o.sentHeaders, authorization }, ...(method === 'GET' ? {} : { body: o.sentBody ?? body }) });
  }

  const errorType = (r: Response): string | null => r.headers.get('x-amzn-errortype');

  it('accepts a correctly signed invoke', async () => {
    const r = await send();
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ name: 'sig' });
  });

  it('accepts an ARN in the path (double URI-encoding) and a signed query string', async () => {
    const arn = encodeURIComponent('arn:aws:lambda:eu-west-3:acme:function:hello');
    const r = await send({ path: `/2015-03-31/functions/${arn}/invocations?Qualifier=%24LATEST`, region: 'eu-west-3' });
    expect(r.status).toBe(200);
  });

  it('accepts an X-Amz-Content-Sha256 that matches the body, and refuses one that does not', async () => {
    expect((await send({ headers: { 'x-amz-content-sha256': hex('{"name":"sig"}') } })).status).toBe(200);
    const r = await send({ headers: { 'x-amz-content-sha256': hex('other') } });
    expect(r.status).toBe(403);
    expect(errorType(r)).toBe('InvalidSignatureException');
  });

  it('refuses a body changed after signing', async () => {
    const r = await send({ sentBody: '{"name":"evil"}' });
    expect(r.status).toBe(403);
    expect(errorType(r)).toBe('InvalidSignatureException');
    expect(await r.json()).toMatchObject({ Type: 'User', Message: expect.stringMatching(/signature we calculated does not match/) as unknown });
    expect(h.platform.invoked.some((i) => i.payload.toString().includes('evil'))).toBe(false);
  });

  it('refuses a signed header changed after signing, and a changed path', async () => {
    expect(errorType(await send({ headers: { 'x-amz-invocation-type': 'DryRun' }, sentHeaders: { 'x-amz-invocation-type': 'Event' } }))).toBe('InvalidSignatureException');
    expect((await send({ headers: { 'x-amz-invocation-type': 'DryRun' } })).status).toBe(204);
    const url = `${h.url}/2015-03-31/functions/other/invocations`;
    const amzDate = amz(h.clock());
    const authorization = sign({ method: 'POST', url: new URL(`${h.url}/2015-03-31/functions/hello/invocations`), headers: { host: h.host, 'x-amz-date': amzDate }, body: '{}', accessKeyId: acme.accessKeyId, secret: acme.secret, region: 'us-east-1', service: 'lambda', amzDate });
    const moved = await fetch(url, { method: 'POST', headers: { 'x-amz-date': amzDate, authorization }, body: '{}' });
    expect(errorType(moved)).toBe('InvalidSignatureException');
  });

  it('refuses a signature older or newer than 15 minutes, saying so', async () => {
    const old = await send({ at: h.clock() - 16 * 60_000 });
    expect(old.status).toBe(403);
    expect(errorType(old)).toBe('InvalidSignatureException');
    expect(((await old.json()) as { Message: string }).Message).toMatch(/^Signature expired/);
    const future = await send({ at: h.clock() + 16 * 60_000 });
    expect(errorType(future)).toBe('InvalidSignatureException');
    expect((await send({ at: h.clock() - 14 * 60_000 })).status).toBe(200);
  });

  it('refuses an unknown access key, a wrong secret and a revoked credential', async () => {
    const unknown = await send({ cred: { accessKeyId: 'FAREAAAAAAAAAAAAAAAA', secret: acme.secret } });
    expect(unknown.status).toBe(403);
    expect(errorType(unknown)).toBe('UnrecognizedClientException');
    expect(errorType(await send({ cred: { accessKeyId: acme.accessKeyId, secret: 'x'.repeat(40) } }))).toBe('InvalidSignatureException');
    const spare = await h.store.credentials.create('acme');
    expect((await send({ cred: spare })).status).toBe(200);
    h.store.credentials.revoke(spare.accessKeyId);
    expect(errorType(await send({ cred: spare }))).toBe('UnrecognizedClientException');
  });

  it('refuses malformed authorization: no Host signed, bad scope, missing token, anything after the signature', async () => {
    const noHost = await send({ mutate: (a) => a.replace('SignedHeaders=host;x-amz-date', 'SignedHeaders=x-amz-date') });
    expect(errorType(noHost)).toBe('IncompleteSignatureException');
    expect(errorType(await send({ mutate: (a) => `${a}, Signature=${'0'.repeat(64)}` }))).toBe('IncompleteSignatureException');
    expect(errorType(await send({ mutate: (a) => `${a}junk` }))).toBe('IncompleteSignatureException');
    expect(errorType(await send({ service: 's3' }))).toBe('IncompleteSignatureException');
    const none = await fetch(`${h.url}/2015-03-31/functions/hello/invocations`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(403);
    expect(errorType(none)).toBe('MissingAuthenticationTokenException');
    expect(await none.json()).toMatchObject({ Type: 'User', Message: expect.stringMatching(/^Missing Authentication Token/) as unknown });
  });

  it('also authenticates the REST API, with Fare-style errors', async () => {
    const ok = await send({ method: 'GET', path: '/v1/functions', body: '' });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { functions: { name: string }[] }).functions.map((f) => f.name)).toEqual(['hello']);
    const bad = await send({ method: 'GET', path: '/v1/functions', body: '', at: h.clock() - 3_600_000 });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: { code: 'FARE_E_AUTH_EXPIRED' } });
  });
});
