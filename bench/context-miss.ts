// What a context costs a gateway of a cluster when its invocation runs on another gateway: the
// question over NATS (cluster/contexts.ts), against a local hit. Two FareContexts, each with its own
// NATS connection to one local nats-server, as two gateways have; one begins an invocation, the
// other is asked about it `n` times in a row. Also: the answer "not running" (the invocation has
// ended) and no such gateway (NATS's no-responders). Prints the median and the 99th percentile.
//
// `node --import tsx bench/context-miss.ts [n]` (needs nats-server, as the cluster tests do).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { NatsContextPeers } from '../src/live/cluster/contexts.ts';
import { startNatsServer } from '../src/live/cluster/nats-server.ts';
import { FareContexts, type ContextCheck } from '../src/live/gateway/fare-context.ts';

const n = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'fare-context-miss-'));
const server = await startNatsServer({ dir, name: 'n0' });
const key = Buffer.alloc(32, 1);
const gateways = await Promise.all([0, 1].map(async (id) => {
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  const peers = new NatsContextPeers(nc, 'bench', id);
  const contexts = new FareContexts(key, peers);
  await peers.answer(contexts);
  return { nc, contexts };
}));
const [g0, g1] = gateways as [(typeof gateways)[number], (typeof gateways)[number]];

const now = Date.now();
const inv = { requestId: 'r', tenant: 'acme', function: 'f', cls: 0, deadline: now + 3_600_000 };
const running = g0.contexts.begin(inv);
const ended = g0.contexts.begin(inv);
ended.end();
// A token of gateway 7, which is not there: the same key, another number in its nonce.
const absent = new FareContexts(key, { self: 7, ask: () => Promise.resolve(undefined) }).begin(inv);

async function time(what: string, ask: () => ContextCheck | Promise<ContextCheck>, expect: ContextCheck['ok']): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < n + 100; i++) {
    const t = performance.now();
    const r = await ask();
    const dt = performance.now() - t;
    if (r.ok !== expect) throw new Error(`${what}: ${JSON.stringify(r)}`);
    if (i >= 100) ms.push(dt);
  }
  ms.sort((x, y) => x - y);
  const at = (p: number): string => (ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0).toFixed(3);
  process.stdout.write(`${what.padEnd(44)} median ${at(0.5)} ms   p99 ${at(0.99)} ms   (n = ${n})\n`);
}

await time('local hit (the gateway that began it)', () => g0.contexts.find(running.token, 'acme', now), true);
await time('miss, running on the other gateway', () => g1.contexts.find(running.token, 'acme', now), true);
await time('miss, ended on the other gateway', () => g1.contexts.find(ended.token, 'acme', now), false);
await time('miss, its gateway is not there', () => g1.contexts.find(absent.token, 'acme', now), false);

for (const g of gateways) await g.nc.drain();
await server.stop();
rmSync(dir, { recursive: true, force: true });
