// Function URLs: their configuration through AWS's SDK, and HTTP requests to them — the payload 2.0
// event the function gets, the response made of its answer, auth types, CORS, budgets and billing.

import {
  CreateAliasCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionUrlConfigCommand,
  GetFunctionUrlConfigCommand,
  LambdaClient,
  ListFunctionUrlConfigsCommand,
  PublishVersionCommand,
  UpdateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FunctionRecord, IssuedCredential } from '../store/index.ts';
import type { InvocationAnswer, InvokeRequest } from '../types.ts';
import { outcome, startHarness, type Harness } from './testing.ts';
import { signLambda } from '../../../test/support/sigv4.ts';

let h: Harness;
let acme: IssuedCredential;
let zeta: IssuedCredential;
let lambda: LambdaClient;
/** What the function answers (the fake platform's), and the events it was given. */
let answer: (req: InvokeRequest) => unknown;
const events: Record<string, unknown>[] = [];

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  zeta = await h.tenant('zeta');
  lambda = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: acme.accessKeyId, secretAccessKey: acme.secret }, maxAttempts: 1 });
  expect((await h.deploy(acme, 'web')).status).toBe(201);
  events.length = 0;
  answer = () => ({ ok: true });
  h.platform.respond = (req) => {
    events.push(JSON.parse(req.payload.toString('utf8')) as Record<string, unknown>);
    const a = answer(req);
    return a instanceof Error ? outcome({ status: 'error', functionError: 'Unhandled', payload: Buffer.from(JSON.stringify({ errorMessage: a.message })) }) : outcome({ payload: Buffer.from(JSON.stringify(a)) });
  };
});
afterEach(async () => {
  lambda.destroy();
  await h.close();
});

async function makeUrl(extra: Record<string, unknown> = {}): Promise<string> {
  const made = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE', ...extra }));
  return made.FunctionUrl ?? '';
}

describe('configuration', () => {
  it('Create, Get, Update, List and Delete answer Lambda shapes; one URL per function or alias', async () => {
    const made = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE', Cors: { AllowOrigins: ['https://example.com'] } }));
    expect(made).toMatchObject({ AuthType: 'NONE', FunctionArn: 'arn:aws:lambda:us-east-1:acme:function:web', Cors: { AllowOrigins: ['https://example.com'] }, InvokeMode: 'BUFFERED' });
    expect(made.FunctionUrl).toMatch(new RegExp(`^${h.url}/url/[a-z0-9]{32}/$`));
    await expect(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' }))).rejects.toMatchObject({ name: 'ResourceConflictException' });
    const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web' }));
    expect(got.FunctionUrl).toBe(made.FunctionUrl);
    const up = await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'AWS_IAM' }));
    expect(up).toMatchObject({ AuthType: 'AWS_IAM', FunctionUrl: made.FunctionUrl, Cors: { AllowOrigins: ['https://example.com'] } });

    await lambda.send(new PublishVersionCommand({ FunctionName: 'web' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'web', Name: 'live', FunctionVersion: '1' }));
    const aliased = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live', AuthType: 'NONE' }));
    expect(aliased.FunctionArn).toBe('arn:aws:lambda:us-east-1:acme:function:web:live');
    expect(aliased.FunctionUrl).not.toBe(made.FunctionUrl);
    await expect(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: '1', AuthType: 'NONE' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'nope', AuthType: 'NONE' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', InvokeMode: 'RESPONSE_STREAM' }))).toMatchObject({ InvokeMode: 'RESPONSE_STREAM', AuthType: 'AWS_IAM' });
    expect((await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web' }))).InvokeMode).toBe('RESPONSE_STREAM');
    await expect(lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', InvokeMode: 'STREAMING' as 'BUFFERED' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    expect((await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'web' }))).FunctionUrlConfigs?.map((c) => c.FunctionArn)).toEqual([
      'arn:aws:lambda:us-east-1:acme:function:web',
      'arn:aws:lambda:us-east-1:acme:function:web:live',
    ]);
    await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'web' }));
    await expect(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect((await fetch(made.FunctionUrl ?? '')).status).toBe(404);
  });
});

describe('requests', () => {
  it('the function gets payload 2.0: method, raw path, query, headers, cookies, text body', async () => {
    const url = await makeUrl();
    const r = await fetch(`${url}orders/7?x=1&x=2&y=%20z`, { method: 'POST', headers: { 'Content-Type': 'application/json', Cookie: 'a=1; b=2', 'X-Thing': 'yes' }, body: '{"n":1}' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-fare-class')).toBe('standard');
    const e = events[0] as { headers: Record<string, string>; requestContext: { http: Record<string, string>; accountId: string; apiId: string } } & Record<string, unknown>;
    expect(e).toMatchObject({
      version: '2.0', routeKey: '$default', rawPath: '/orders/7', rawQueryString: 'x=1&x=2&y=%20z', cookies: ['a=1', 'b=2'],
      queryStringParameters: { x: '1,2', y: ' z' }, body: '{"n":1}', isBase64Encoded: false,
    });
    expect(e.headers['x-thing']).toBe('yes');
    expect(e.headers.cookie).toBeUndefined();
    expect(e.requestContext).toMatchObject({ accountId: 'anonymous', apiId: url.split('/')[4], http: { method: 'POST', path: '/orders/7', protocol: 'HTTP/1.1' } });
    expect(e.requestContext.http.sourceIp).toMatch(/127\.0\.0\.1/);
  });

  it('binary bodies reach the function in base64, and a base64 answer goes back as bytes', async () => {
    const url = await makeUrl();
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    answer = () => ({ statusCode: 201, headers: { 'content-type': 'application/octet-stream' }, body: bytes.toString('base64'), isBase64Encoded: true });
    const r = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
    expect(events[0]).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
    expect(r.status).toBe(201);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(bytes);
  });

  it('statusCode, headers, cookies and body make the response; any other JSON value is the body of a 200', async () => {
    const url = await makeUrl();
    answer = () => ({ statusCode: 302, headers: { Location: '/there', 'X-N': 3 }, cookies: ['s=1; Path=/', 't=2'], body: 'moved' });
    const r = await fetch(url, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('/there');
    expect(r.headers.get('x-n')).toBe('3');
    expect(r.headers.getSetCookie()).toEqual(['s=1; Path=/', 't=2']);
    expect(await r.text()).toBe('moved');
    answer = () => ({ message: 'hi' });
    const plain = await fetch(url);
    expect([plain.status, plain.headers.get('content-type'), await plain.text()]).toEqual([200, 'application/json', '{"message":"hi"}']);
    answer = () => 'just text';
    expect(await (await fetch(url)).text()).toBe('just text');
    answer = () => new Error('boom');
    const failed = await fetch(url);
    expect([failed.status, await failed.json()]).toEqual([502, { Message: 'Internal Server Error' }]);
  });

  it('an alias URL runs the version the alias names', async () => {
    await lambda.send(new PublishVersionCommand({ FunctionName: 'web' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'web', Name: 'live', FunctionVersion: '1' }));
    const url = (await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live', AuthType: 'NONE' }))).FunctionUrl ?? '';
    answer = (req) => ({ published: (req.fn as FunctionRecord).published ?? null });
    expect(await (await fetch(url)).json()).toEqual({ published: 1 });
  });

  it('a URL on the Host <id>.lambda-url.<anything> serves any path', async () => {
    const url = await makeUrl();
    const id = url.split('/')[4] ?? '';
    const http = await import('node:http');
    const status = await new Promise<number>((done, fail) => {
      http.get({ host: '127.0.0.1', port: Number(new URL(h.url).port), path: '/hello?q=1', headers: { Host: `${id}.lambda-url.us-east-1.localhost` } }, (res) => {
        res.resume();
        done(res.statusCode ?? 0);
      }).on('error', fail);
    });
    expect(status).toBe(200);
    expect(events[0]).toMatchObject({ rawPath: '/hello', rawQueryString: 'q=1' });
  });

  it('AWS_IAM needs a signature of a tenant that may invoke the function; NONE is public and the owner pays', async () => {
    const url = await makeUrl({ AuthType: 'AWS_IAM' });
    expect((await fetch(url)).status).toBe(403);
    const signed = (c: IssuedCredential) => fetch(url, { headers: signLambda({ method: 'GET', url, body: Buffer.alloc(0), accessKeyId: c.accessKeyId, secret: c.secret }) });
    const ok = await signed(acme);
    expect(ok.status).toBe(200);
    expect(events[0]).toMatchObject({ requestContext: { accountId: 'acme', authorizer: { iam: { accessKey: acme.accessKeyId, accountId: 'acme' } } } });
    expect((await signed(zeta)).status).toBe(403);
    expect((await fetch(url, { headers: signLambda({ method: 'GET', url, body: Buffer.alloc(0), accessKeyId: acme.accessKeyId, secret: 'wrong-secret' }) })).status).toBe(403);
    // NONE: anyone; billed to the owner as any invocation.
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' }));
    expect((await fetch(url)).status).toBe(200);
    const bill = await fetch(`${h.url}/v1/bill`, { headers: h.bearer(acme) });
    expect(((await bill.json()) as { invocations: number }).invocations).toBe(2);
  });

  it('the owner budget applies: a tenant out of budget is answered 429 with Retry-After, and the function does not run', async () => {
    const url = await makeUrl();
    h.store.tenants.update('acme', { budgetMicroCents: 0 });
    const r = await fetch(url);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).not.toBeNull();
    expect(((await r.json()) as { Message: string }).Message).toMatch(/budget/);
    expect(events).toHaveLength(0);
  });

  it('CORS: preflight answered by Fare, allowed origins echoed, others get no CORS headers', async () => {
    const url = await makeUrl({ Cors: { AllowOrigins: ['https://app.example'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['content-type'], MaxAge: 600, ExposeHeaders: ['x-n'] } });
    const pre = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' } });
    expect(pre.status).toBe(200);
    expect(Object.fromEntries([...pre.headers].filter(([k]) => k.startsWith('access-control-')))).toEqual({
      'access-control-allow-origin': 'https://app.example', 'access-control-allow-methods': 'GET,POST', 'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600', 'access-control-expose-headers': 'x-n',
    });
    expect(events).toHaveLength(0);
    const got = await fetch(url, { headers: { Origin: 'https://app.example' } });
    expect(got.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await fetch(url, { headers: { Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a URL that does not exist is 404', async () => {
    expect((await fetch(`${h.url}/url/${'a'.repeat(32)}/`)).status).toBe(404);
  });
});

describe('RESPONSE_STREAM mode', () => {
  /** The platform streams `parts` (of content type `type`), then answers as streamed. */
  const streams = (parts: (string | Buffer)[], type: string, end: Partial<InvocationAnswer> = {}): void => {
    h.platform.respond = async (req) => {
      expect(req.stream).toBe(true);
      let bytes = 0;
      for (const p of parts) {
        const b = Buffer.from(p);
        bytes += b.length;
        void req.onChunk?.(b, type);
      }
      // The answer comes after the parts have gone out, as from a real function.
      await new Promise((r) => setTimeout(r, 20));
      return outcome({ payload: Buffer.alloc(0), streamed: { chunks: parts.length, bytes, contentType: type }, ...end });
    };
  };

  it('streams the parts as the body of a 200 of the function\'s content type', async () => {
    const url = await makeUrl({ InvokeMode: 'RESPONSE_STREAM' });
    streams(['hello ', 'streamed ', 'world'], 'text/plain');
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain');
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    expect(r.headers.get('x-fare-class')).toBe('standard');
    expect(await r.text()).toBe('hello streamed world');
  });

  it('a prelude (HttpResponseStream.from) sets status, headers and cookies, even split across parts', async () => {
    const url = await makeUrl({ InvokeMode: 'RESPONSE_STREAM' });
    const prelude = JSON.stringify({ statusCode: 201, headers: { 'Content-Type': 'text/csv', 'X-Made': 'yes' }, cookies: ['a=1', 'b=2'] });
    streams([prelude.slice(0, 10), prelude.slice(10), Buffer.alloc(5), Buffer.concat([Buffer.alloc(3), Buffer.from('x,y\n')]), '1,2\n'], 'application/vnd.awslambda.http-integration-response');
    const r = await fetch(url);
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toBe('text/csv');
    expect(r.headers.get('x-made')).toBe('yes');
    expect(r.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await r.text()).toBe('x,y\n1,2\n');
  });

  it('a function that does not stream is answered as in BUFFERED mode', async () => {
    const url = await makeUrl({ InvokeMode: 'RESPONSE_STREAM' });
    answer = () => ({ statusCode: 418, headers: { 'X-Tea': 'pot' }, body: 'short and stout' });
    const r = await fetch(url);
    expect(r.status).toBe(418);
    expect(r.headers.get('x-tea')).toBe('pot');
    expect(await r.text()).toBe('short and stout');
  });

  it('an error before the first part is a 502; after it, the response is cut off', async () => {
    const url = await makeUrl({ InvokeMode: 'RESPONSE_STREAM' });
    streams([], 'text/plain', { status: 'error', functionError: 'Handled', errorType: 'Error', payload: Buffer.from('{"errorMessage":"no"}') });
    const early = await fetch(url);
    expect(early.status).toBe(502);
    expect(early.headers.get('x-amz-function-error')).toBe('Handled');
    streams(['first part'], 'text/plain', { status: 'error', functionError: 'Handled', errorType: 'Error', payload: Buffer.from('{"errorMessage":"no"}') });
    const late = await fetch(url);
    expect(late.status).toBe(200);
    await expect(late.text()).rejects.toThrow();
  });

  it('parts lost on the way cut the response off rather than leave a gap', async () => {
    const url = await makeUrl({ InvokeMode: 'RESPONSE_STREAM' });
    h.platform.respond = async (req) => {
      void req.onChunk?.(Buffer.from('one'), 'text/plain');
      await new Promise((r) => setTimeout(r, 20));
      return outcome({ payload: Buffer.alloc(0), streamed: { chunks: 2, bytes: 6, contentType: 'text/plain' } });
    };
    const r = await fetch(url);
    await expect(r.text()).rejects.toThrow();
  });
});

describe('headers the function sets', () => {
  it('a header no HTTP response may carry is a 502 saying so, in either mode', async () => {
    const url = await makeUrl();
    answer = () => ({ statusCode: 200, headers: { 'X-Bad': 'line\nbreak' }, body: 'x' });
    const r = await fetch(url);
    expect(r.status).toBe(502);
    expect(await r.json()).toEqual({ Message: 'Internal Server Error: the function answered a header an HTTP response cannot carry (X-Bad)' });
    const bad = await fetch(url.replace(/\/$/, '/again'));
    expect(bad.status).toBe(502);

    h.platform.respond = async (req) => {
      const prelude = Buffer.from(JSON.stringify({ statusCode: 200, headers: { 'Bad Name': 'x' } }));
      void req.onChunk?.(Buffer.concat([prelude, Buffer.alloc(8), Buffer.from('body')]), 'application/vnd.awslambda.http-integration-response');
      await new Promise((r) => setTimeout(r, 20));
      return outcome({ payload: Buffer.alloc(0), streamed: { chunks: 1, bytes: prelude.length + 12, contentType: 'application/vnd.awslambda.http-integration-response' } });
    };
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', InvokeMode: 'RESPONSE_STREAM' }));
    const s = await fetch(url);
    expect(s.status).toBe(502);
    expect(await s.json()).toEqual({ Message: 'Internal Server Error: the function answered a header an HTTP response cannot carry (Bad?Name)' });
  });
});
