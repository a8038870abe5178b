import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientErrorOf } from './http.ts';
import { startHarness, type Harness } from './testing.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

/** Sends `data` on a fresh connection and resolves with everything the server wrote until it closed. */
function raw(data: string): Promise<{ status: number; headers: string; body: unknown }> {
  const [host = '', port = ''] = h.host.split(':');
  return new Promise((done, fail) => {
    const s = connect(Number(port), host, () => s.write(data));
    let out = '';
    s.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const end = out.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(out.slice(0, end));
      if (end >= 0 && length !== null && out.length >= end + 4 + Number(length[1])) s.end();
    });
    s.on('close', () => {
      const end = out.indexOf('\r\n\r\n');
      const text = out.slice(end + 4);
      done({ status: Number(out.slice(9, 12)), headers: out.slice(0, end), body: text === '' ? '' : (JSON.parse(text) as unknown) });
    });
    s.on('error', fail);
  });
}

const errorBody = (code: string): unknown => ({ error: { code, message: expect.any(String) as unknown }, Type: 'User', Message: expect.any(String) as unknown });

describe('answers node:http writes by itself carry a JSON body in both shapes', () => {
  it('400 for a request that is not HTTP', async () => {
    const r = await raw('GARBAGE\r\n\r\n');
    expect(r.status).toBe(400);
    expect(r.body).toEqual(errorBody('FARE_E_BAD_HTTP'));
    expect(r.headers).toMatch(/X-Amzn-ErrorType: InvalidRequestContentException/);
  });

  it('400 for ambiguous framing (Content-Length and chunked)', async () => {
    const r = await raw('POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect([r.status, r.body]).toEqual([400, errorBody('FARE_E_BAD_HTTP')]);
  });

  it('431 for headers too large', async () => {
    const r = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect([r.status, r.body]).toEqual([431, errorBody('FARE_E_HEADERS_TOO_LARGE')]);
    expect(r.headers).toMatch(/X-Amzn-ErrorType: RequestTooLargeException/);
  });

  it('417 for an Expect other than 100-continue, 405 for CONNECT', async () => {
    const e = await raw('POST /v1/functions HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    expect([e.status, e.body]).toEqual([417, errorBody('FARE_E_INVALID_REQUEST')]);
    const c = await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect([c.status, c.body]).toEqual([405, errorBody('FARE_E_METHOD_NOT_ALLOWED')]);
  });

  it('408 when the headers do not arrive in time', () => {
    expect(clientErrorOf('ERR_HTTP_REQUEST_TIMEOUT')).toMatchObject({ status: 408, code: 'FARE_E_REQUEST_TIMEOUT' });
  });
});
