// InvokeWithResponseStream at the gateway, over a fake platform, read through AWS's SDK: the event
// stream's parts and completion, errors before and after the first part, and a stream whose parts
// did not all arrive. (test/response-streaming.test.ts runs real streaming functions on `fare up`.)

import { InvokeWithResponseStreamCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createServer, request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { ResponseEventStream } from './lambda-stream.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let lambda: LambdaClient;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  lambda = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: acme.accessKeyId, secretAccessKey: acme.secret }, maxAttempts: 1 });
  expect((await h.deploy(acme, 'web')).status).toBe(201);
});
afterEach(async () => {
  lambda.destroy();
  await h.close();
});

async function read(payload = '{}'): Promise<{ parts: string[]; complete: Record<string, unknown> | undefined; headers: Record<string, unknown> }> {
  const out = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'web', Payload: Buffer.from(payload) }));
  const parts: string[] = [];
  let complete: Record<string, unknown> | undefined;
  for await (const e of out.EventStream ?? []) {
    if (e.PayloadChunk?.Payload !== undefined) parts.push(Buffer.from(e.PayloadChunk.Payload).toString('utf8'));
    if (e.InvokeComplete !== undefined) complete = { ...e.InvokeComplete };
  }
  return { parts, complete, headers: { ExecutedVersion: out.ExecutedVersion, StatusCode: out.StatusCode, ResponseStreamContentType: out.ResponseStreamContentType } };
}

describe('InvokeWithResponseStream', () => {
  it('asks the platform to stream, and sends each part as an event, then InvokeComplete', async () => {
    h.platform.respond = (req) => {
      expect(req.stream).toBe(true);
      for (const p of ['a', 'bc', 'def']) void req.onChunk?.(Buffer.from(p), 'text/plain');
      return outcome({ payload: Buffer.alloc(0), streamed: { chunks: 3, bytes: 6, contentType: 'text/plain' } });
    };
    const r = await read();
    expect(r.parts).toEqual(['a', 'bc', 'def']);
    expect(r.complete).toEqual({});
    expect(r.headers).toEqual({ ExecutedVersion: '$LATEST', StatusCode: 200, ResponseStreamContentType: 'application/vnd.amazon.eventstream' });
  });

  it('an answer that was not streamed is one part; a failed one is the completion\'s error', async () => {
    h.platform.respond = () => outcome({ payload: Buffer.from('{"whole":true}') });
    expect((await read()).parts).toEqual(['{"whole":true}']);
    h.platform.respond = () => outcome({ status: 'error', functionError: 'Unhandled', errorType: 'TypeError', payload: Buffer.from('{"errorType":"TypeError","errorMessage":"x is not a function"}') });
    const r = await read();
    expect(r.parts).toEqual([]);
    expect(r.complete).toEqual({ ErrorCode: 'TypeError', ErrorDetails: 'x is not a function' });
  });

  it('parts that did not all reach the gateway end the stream with Fare.StreamIncomplete', async () => {
    h.platform.respond = (req) => {
      void req.onChunk?.(Buffer.from('first'), 'text/plain');
      return outcome({ payload: Buffer.alloc(0), streamed: { chunks: 2, bytes: 11, contentType: 'text/plain' } });
    };
    const r = await read();
    expect(r.parts).toEqual(['first']);
    expect(r.complete).toMatchObject({ ErrorCode: 'Fare.StreamIncomplete' });
    expect(String(r.complete?.ErrorDetails)).toMatch(/^1 of the 2 chunks/);
  });

  it('a platform failure before the first part is an error answer; after it, the completion says so', async () => {
    h.platform.respond = () => Promise.reject(new Error('worker lost'));
    await expect(read()).rejects.toMatchObject({ name: 'ServiceException' });
    h.platform.respond = (req) => {
      void req.onChunk?.(Buffer.from('half'), 'text/plain');
      return Promise.reject(new Error('worker lost'));
    };
    const r = await read();
    expect(r.parts).toEqual(['half']);
    expect(r.complete).toMatchObject({ ErrorCode: 'ServiceException' });
    expect(String(r.complete?.ErrorDetails)).toMatch(/worker lost/);
  });

  it('refuses Event, and checks the payload as Invoke does', async () => {
    await expect(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'web', InvocationType: 'Event' as 'RequestResponse' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(read('not json')).rejects.toMatchObject({ name: 'InvalidRequestContentException' });
    expect(h.platform.invoked).toHaveLength(0);
  });
});

describe('ResponseEventStream backpressure', () => {
  it('hands back a promise while its client has not read what was written, settled once it has', async () => {
    let held: Promise<void> | undefined;
    let written = 0;
    const server = createServer((_req, res) => {
      const s = new ResponseEventStream(res, {});
      // The client reads nothing yet: the sockets fill, and then the response holds what is written.
      while (held === undefined && written < 64 * 1024 * 1024) {
        held = s.chunk(Buffer.alloc(64 * 1024, 1));
        written += 64 * 1024;
      }
      void held?.then(() => s.complete({}));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const body = await new Promise<number>((resolve, reject) => {
        request({ port, host: '127.0.0.1' }, (res) => {
          setTimeout(() => {
            let n = 0;
            res.on('data', (c: Buffer) => (n += c.length));
            res.on('end', () => resolve(n));
          }, 200);
        }).on('error', reject).end();
      });
      expect(held).toBeDefined();
      expect(written).toBeLessThan(64 * 1024 * 1024);
      // Every chunk written came through, then the completion (it waited for the promise).
      expect(body).toBeGreaterThan(written);
    } finally {
      server.close();
    }
  });
});
