// End-to-end: response streaming on `fare up`, through AWS's SDK and nothing of Fare's own — a Node.js
// handler wrapped in `awslambda.streamifyResponse` writes its response in parts, and
// InvokeWithResponseStream hands each part to the caller as the function writes it (real function
// processes, the Runtime API's streaming mode, the worker's `stream` messages, Lambda's event stream).

import {
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  InvokeCommand,
  InvokeWithResponseStreamCommand,
  LambdaClient,
  type InvokeWithResponseStreamCommandOutput,
} from '@aws-sdk/client-lambda';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';
import { FLOOD_BYTES, FLOOD_HANDLER, floodReceived } from '../support/flood.ts';

const work = mkdtempSync(join(tmpdir(), 'fare-stream-'));
let fare: FareProcess;
let lambda: LambdaClient;

const STREAMER = `
export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
  stream.setContentType('text/plain');
  for (let i = 0; i < event.n; i++) {
    stream.write('part ' + i + '\\n');
    if (event.waitMs) await new Promise((r) => setTimeout(r, event.waitMs));
  }
  console.log('streamed', event.n, 'parts for', context.awsRequestId);
  if (event.fail) throw new Error('went wrong after ' + event.n + ' parts');
  if (event.big) for (let i = 0; i < 3; i++) stream.write(Buffer.alloc(8 * 1024 * 1024, 120));
  stream.end();
});
`;
const PLAIN = 'export const handler = async (event) => ({ plain: true, got: event });\n';
/** A function URL's handler: its status, headers and cookies first, then a body in parts. */
const PAGE = `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { 'Content-Type': 'text/html', 'X-Path': event.rawPath }, cookies: ['seen=1'] });
  stream.write('<p>first</p>');
  await new Promise((r) => setTimeout(r, 500));
  stream.write('<p>second</p>');
  stream.end();
});
`;

async function create(name: string, code: string, timeoutS?: number): Promise<void> {
  const dir = mkdtempSync(join(work, 'src-'));
  writeFileSync(join(dir, 'index.mjs'), code);
  await lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::123456789012:role/any',
    Code: { ZipFile: zipDirectory(dir) }, ...(timeoutS !== undefined ? { Timeout: timeoutS } : {}),
  }));
}

/**
 * A custom runtime that streams, as one written for Lambda does: curl posts what the handler prints
 * (a part, half a second, another) to the Runtime API in streaming mode, chunked, as it comes.
 */
const CUSTOM_BOOTSTRAP = `#!/bin/sh
set -eu
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" -o /dev/null "$API/next"
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  { echo "custom one"; sleep 0.6; echo "custom two"; } | curl -sS -o /dev/null -X POST -T - \\
    -H 'Lambda-Runtime-Function-Response-Mode: streaming' -H 'Content-Type: text/plain' "$API/$ID/response"
done
`;

beforeAll(async () => {
  fare = await startFare(join(work, 'data'));
  const made = await api(fare.url, 'POST', '/v1/tenants', { id: 'acme' });
  expect(made.status).toBe(201);
  const key = (made.json as { credential: { accessKeyId: string; secret: string } }).credential;
  lambda = new LambdaClient({ endpoint: fare.url, region: 'us-east-1', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secret }, maxAttempts: 1 });
  await create('streamer', STREAMER);
  await create('plain', PLAIN);
  await create('page', PAGE);
  await create('endless', STREAMER, 1);
  await create('flood', FLOOD_HANDLER, 30);
  const custom = mkdtempSync(join(work, 'custom-'));
  writeFileSync(join(custom, 'bootstrap'), CUSTOM_BOOTSTRAP, { mode: 0o755 });
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'custom', Runtime: 'provided.al2023', Handler: 'bootstrap', Role: 'arn:aws:iam::123456789012:role/any', Code: { ZipFile: zipDirectory(custom) },
  }));
}, 60_000);
afterAll(async () => {
  lambda?.destroy();
  if (fare !== undefined) await stopFare(fare);
  rmSync(work, { recursive: true, force: true });
});

interface Received {
  chunks: { text: string; at: number }[];
  complete?: { ErrorCode?: string | undefined; ErrorDetails?: string | undefined; LogResult?: string | undefined; at: number };
  out: InvokeWithResponseStreamCommandOutput;
}

/** Invokes with InvokeWithResponseStream and reads the whole event stream, noting when each event came. */
async function stream(name: string, event: unknown, extra: { LogType?: 'Tail' } = {}): Promise<Received> {
  const out = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), ...extra }));
  const r: Received = { chunks: [], out };
  for await (const e of out.EventStream ?? []) {
    if (e.PayloadChunk?.Payload !== undefined) r.chunks.push({ text: Buffer.from(e.PayloadChunk.Payload).toString('utf8'), at: performance.now() });
    if (e.InvokeComplete !== undefined) r.complete = { ...e.InvokeComplete, at: performance.now() };
  }
  return r;
}

describe('InvokeWithResponseStream', () => {
  it('hands each part to the caller as the function writes it, then InvokeComplete', async () => {
    const r = await stream('streamer', { n: 3, waitMs: 400 });
    expect(r.out.StatusCode).toBe(200);
    expect(r.out.ExecutedVersion).toBe('$LATEST');
    expect(r.chunks.map((c) => c.text).join('')).toBe('part 0\npart 1\npart 2\n');
    expect(r.complete).toBeDefined();
    expect(r.complete?.ErrorCode).toBeUndefined();
    // The function waits 400 ms after each part: a response held back until the end would bring its
    // first part with the completion, not about 1.2 s before it.
    const first = r.chunks[0]?.at ?? Infinity;
    expect((r.complete?.at ?? 0) - first).toBeGreaterThan(700);
    expect(r.chunks.length).toBeGreaterThanOrEqual(3);
  });

  it('an error after the first parts ends the stream with the error, the parts sent kept', async () => {
    const r = await stream('streamer', { n: 2, fail: true });
    expect(r.chunks.map((c) => c.text).join('')).toBe('part 0\npart 1\n');
    expect(r.complete).toMatchObject({ ErrorCode: 'Error', ErrorDetails: 'went wrong after 2 parts' });
  });

  it('with LogType Tail, the completion carries the end of the log', async () => {
    const r = await stream('streamer', { n: 1 }, { LogType: 'Tail' });
    const log = Buffer.from(r.complete?.LogResult ?? '', 'base64').toString('utf8');
    expect(log).toMatch(/streamed 1 parts for /);
    expect(log).toMatch(/END RequestId: /);
  });

  it('a function that does not stream is answered in one part', async () => {
    const r = await stream('plain', { a: 1 });
    expect(r.chunks.map((c) => JSON.parse(c.text) as unknown)).toEqual([{ plain: true, got: { a: 1 } }]);
    expect(r.complete?.ErrorCode).toBeUndefined();
  });

  it('a streamed response over 20 MB is cut off with Function.ResponseSizeTooLarge', async () => {
    const r = await stream('streamer', { n: 1, big: true });
    expect(r.chunks[0]?.text).toBe('part 0\n');
    expect(r.complete).toMatchObject({ ErrorCode: 'Function.ResponseSizeTooLarge' });
    const bytes = r.chunks.reduce((n, c) => n + Buffer.byteLength(c.text), 0);
    expect(bytes).toBeLessThanOrEqual(20 * 1024 * 1024);
  }, 30_000);

  it('a function that times out mid-stream ends it with Sandbox.Timedout, the parts sent kept', async () => {
    const r = await stream('endless', { n: 100, waitMs: 100 });
    expect(r.chunks.length).toBeGreaterThan(2);
    expect(r.chunks.length).toBeLessThan(100);
    expect(r.chunks[0]?.text).toBe('part 0\n');
    expect(r.complete?.ErrorCode).toBe('Sandbox.Timedout');
    expect(r.complete?.ErrorDetails).toMatch(/Task timed out after 1\.00 seconds/);
  }, 20_000);

  it('a custom runtime that posts in streaming mode streams too', async () => {
    const r = await stream('custom', {});
    expect(r.chunks.map((c) => c.text).join('')).toBe('custom one\ncustom two\n');
    expect(r.complete?.ErrorCode).toBeUndefined();
    expect((r.complete?.at ?? 0) - (r.chunks[0]?.at ?? Infinity)).toBeGreaterThan(400);
  });

  it('refuses an Event (Invoke queues those), and answers unknown functions as Invoke does', async () => {
    await expect(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'streamer', InvocationType: 'Event' as 'RequestResponse' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'nobody' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('Invoke of a streaming function', () => {
  it('answers the whole streamed response at once', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'streamer', Payload: Buffer.from(JSON.stringify({ n: 2 })) }));
    expect(out.FunctionError).toBeUndefined();
    expect(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')).toBe('part 0\npart 1\n');
  });

  it('an error in it is the invocation\'s error', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'streamer', Payload: Buffer.from(JSON.stringify({ n: 1, fail: true })) }));
    expect(out.FunctionError).toBeDefined();
    expect(JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8'))).toMatchObject({ errorType: 'Error', errorMessage: 'went wrong after 1 parts' });
  });
});

describe('a function URL in RESPONSE_STREAM mode', () => {
  it('sends the status and headers the function set, then the body as it is written', async () => {
    const made = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'page', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    expect(made.InvokeMode).toBe('RESPONSE_STREAM');
    const r = await fetch(`${made.FunctionUrl ?? ''}hello`);
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toBe('text/html');
    expect(r.headers.get('x-path')).toBe('/hello');
    expect(r.headers.getSetCookie()).toEqual(['seen=1']);
    // The first part is read while the function still waits to write the second.
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    const t0 = performance.now();
    const first = await reader.read();
    const firstAt = performance.now();
    let text = Buffer.from(first.value ?? new Uint8Array()).toString('utf8');
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      text += Buffer.from(next.value).toString('utf8');
    }
    expect(text).toBe('<p>first</p><p>second</p>');
    expect(Buffer.from(first.value ?? new Uint8Array()).toString('utf8')).toBe('<p>first</p>');
    expect(performance.now() - firstAt).toBeGreaterThan(300);
    expect(firstAt - t0).toBeLessThan(performance.now() - firstAt);
  });

  it('holds the function\'s writes while its reader does not read (backpressure), and loses nothing', async () => {
    const made = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'flood', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    const pauseMs = 3000;
    const body = await new Promise<Buffer>((resolve, reject) => {
      get(made.FunctionUrl ?? '', (res) => {
        // Not read for 3 s: only what the sockets and the window between worker and gateway hold
        // may be written meanwhile; the rest waits in the function.
        setTimeout(() => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(Buffer.concat(parts)));
          res.on('error', reject);
        }, pauseMs);
      }).on('error', reject);
    });
    const { intact, tail, writtenMs } = floodReceived(body);
    expect(body.length - tail.length).toBe(FLOOD_BYTES);
    expect(intact).toBe(true);
    // Without backpressure the gateway took it all at once, whatever its reader did: ~0.1 s.
    expect(writtenMs).toBeGreaterThan(pauseMs - 1000);
  }, 60_000);
});
