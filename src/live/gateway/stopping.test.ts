// Stopping a gateway with a grace (Gateway.close(graceMs)), over a fake platform and real sockets:
// answers under way finish and close their connections, no new connection is taken, a request that
// still comes on an open connection is answered 503 FARE_E_SHUTTING_DOWN, and a grace can be cut
// short. (test/graceful-stop.test.ts stops a real `fare up` with SIGTERM.)

import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
/** Invocations held by the platform until released, by their payload. */
let held: Map<string, () => void>;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  expect((await h.deploy(acme, 'web')).status).toBe(201);
  held = new Map();
  h.platform.respond = async (req) => {
    const key = req.payload.toString('utf8');
    if (key.includes('stream')) void req.onChunk?.(Buffer.from('first part'), 'text/plain');
    if (key.includes('hold')) await new Promise<void>((resolve) => held.set(key, resolve));
    return key.includes('stream')
      ? outcome({ payload: Buffer.alloc(0), streamed: { chunks: 1, bytes: 10, contentType: 'text/plain' } })
      : outcome({ payload: Buffer.from('{"done":true}') });
  };
});
afterEach(async () => {
  for (const release of held.values()) release();
  await h.close();
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

/** A raw keep-alive connection to the gateway, and everything it has received so far. */
async function rawConnection(): Promise<{ socket: Socket; received: () => string }> {
  const [host, port] = h.host.split(':') as [string, string];
  const socket = connect(Number(port), host);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let text = '';
  socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
  socket.on('error', () => undefined);
  return { socket, received: () => text };
}

function request(method: string, path: string, body: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${h.host}`, 'Connection: keep-alive', `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries({ ...h.bearer(acme), 'Content-Type': 'application/json', ...headers }).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

describe('Gateway.close with a grace', () => {
  it('lets the answer under way finish (closing its connection behind it), takes no new connection, and resolves once it has', async () => {
    const call = h.invoke(acme, 'web', '"hold-1"');
    await until(() => held.has('"hold-1"'));
    let closed = false;
    const closing = h.gateway.close(10_000).then(() => (closed = true));
    expect(h.gateway.inFlight).toBe(1);
    await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    held.get('"hold-1"')?.();
    const r = await call;
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('{"done":true}');
    expect(r.headers.get('connection')).toBe('close');
    await closing;
    expect(h.gateway.inFlight).toBe(0);
  });

  it('answers a request that comes on an open connection meanwhile with 503 FARE_E_SHUTTING_DOWN, and closes that connection', async () => {
    // One call is held for the whole test, so the gateway keeps draining.
    const other = h.invoke(acme, 'web', '"hold-other"').then((r) => r.status, () => 0);
    await until(() => held.has('"hold-other"'));
    // A keep-alive connection whose answer had begun (its head sent) before the stop began.
    const a = await rawConnection();
    a.socket.write(request('POST', '/2021-11-15/functions/web/response-streaming-invocations', '"stream-hold-a"'));
    await until(() => a.received().includes('200 OK') && held.has('"stream-hold-a"'));
    const closing = h.gateway.close(10_000);
    held.get('"stream-hold-a"')?.();
    await until(() => a.received().includes('\r\n0\r\n\r\n')); // its answer ended; the connection stays open
    const before = a.received().length;
    a.socket.write(request('GET', '/healthz', ''));
    await until(() => a.received().length > before && a.received().slice(before).includes('\r\n\r\n{'));
    const second = a.received().slice(before);
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    expect(second).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(second).toContain('FARE_E_SHUTTING_DOWN');
    await until(() => a.socket.readableEnded || a.socket.destroyed);
    held.get('"hold-other"')?.();
    expect(await other).toBe(200);
    await closing;
  });

  it('a close with 0 while the grace runs cuts the connections left now', async () => {
    const call = h.invoke(acme, 'web', '"hold-2"').then(() => 'answered', () => 'cut');
    await until(() => held.has('"hold-2"'));
    const closing = h.gateway.close(60_000);
    await new Promise((r) => setTimeout(r, 100));
    void h.gateway.close(0);
    expect(await call).toBe('cut');
    await closing;
  });
});
