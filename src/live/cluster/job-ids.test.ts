// Job ids across restarts, against a real nats-server: each start of a gateway number gets its own
// block; a block running out moves on to the one reserved meanwhile; concurrent starts never share.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNatsServer, startNatsCluster, type NatsServer } from './nats-server.ts';
import { BLOCK, JobIds } from './job-ids.ts';

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED job id tests: ${nats.why}\n`);

describe.skipIf(!nats.ok)('JobIds', () => {
  let dir = '';
  let servers: NatsServer[] = [];
  let nc: NatsConnection;
  let kv: KV;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-jobids-'));
    servers = await startNatsCluster(dir, 1);
    nc = await connect({ servers: (servers[0] as NatsServer).url });
    kv = await new Kvm(nc).create('jobids-test');
  }, 30_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a restarted gateway number starts in a block of its own; other numbers count apart', async () => {
    const first = await JobIds.open(kv, 7, () => {});
    expect([first.next(), first.next(), first.next()]).toEqual([1, 2, 3]);
    const again = await JobIds.open(kv, 7, () => {});
    expect(again.next()).toBe(BLOCK);
    const other = await JobIds.open(kv, 8, () => {});
    expect(other.next()).toBe(1);
  });

  it('concurrent starts of one number each get a different block', async () => {
    const starts = await Promise.all(Array.from({ length: 6 }, () => JobIds.open(kv, 3, () => {})));
    const firsts = starts.map((s) => s.next());
    expect(new Set(firsts).size).toBe(6);
    for (const f of firsts) expect(f === 1 || f % BLOCK === 0).toBe(true);
  });

  it('a block used up moves on to the block reserved while it ran (past blocks others took meanwhile)', async () => {
    const ids = await JobIds.open(kv, 11, () => {});
    const other = await JobIds.open(kv, 11, () => {}); // takes block 1
    let last = 0;
    for (let i = 1; i < BLOCK / 2 + 2; i++) last = ids.next();
    expect(last).toBe(BLOCK / 2 + 1);
    await new Promise((r) => setTimeout(r, 200)); // the spare block's reservation answers
    let n = last;
    while (n < BLOCK - 1) n = ids.next();
    expect(ids.next()).toBe(2 * BLOCK); // block 2: block 1 is the other start's
    expect(other.next()).toBe(BLOCK);
  }, 30_000);
});
