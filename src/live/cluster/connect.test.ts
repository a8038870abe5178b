// connectNats against a real nats-server: nats.js's table of requests in flight is a ChurnMap (so a
// request's objects are not kept through the scavenges; src/core/util/churn-map.ts), and requests
// are answered through it as before. Fails if a new nats.js moves that table: then look again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { ChurnMap } from '../../core/util/churn-map.ts';
import { connectNats } from './connect.ts';
import { findNatsServer, startNatsServer, type NatsServer } from './nats-server.ts';

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED connectNats tests: ${nats.why}\n`);

describe.skipIf(!nats.ok)('connectNats', () => {
  let dir = '';
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-connect-'));
    server = await startNatsServer({ dir, name: 'connect-test' });
    nc = await connectNats({ servers: [server.url], prefix: 't', heartbeatMs: 1000, memberTimeoutMs: 3000 }, 'test');
  });
  afterAll(async () => {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the requests in flight in a ChurnMap, and answers them all through it', async () => {
    const reqs = (nc as unknown as { protocol: { muxSubscriptions: { reqs: unknown } } }).protocol.muxSubscriptions.reqs;
    expect(reqs).toBeInstanceOf(ChurnMap);
    nc.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => nc.request('echo', `n${i}`, { timeout: 5000 }).then((m) => m.string())));
    expect(answers).toEqual(Array.from({ length: 300 }, (_, i) => `n${i}`));
    for (let i = 0; i < 300; i++) expect((await nc.request('echo', `s${i}`, { timeout: 5000 })).string()).toBe(`s${i}`);
    expect((reqs as ChurnMap<unknown, unknown>).size).toBe(0);
  });
});
