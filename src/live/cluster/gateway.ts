// `fare gateway`: the HTTP APIs of the cluster (Lambda Invoke API, Fare's REST API), authentication
// and budgets; each invocation goes to its function's shard over the NATS Bus. A function's code is
// put into the cluster's object store before its first job is sent, so any worker can fetch it.
//
// This first cluster gateway keeps tenants, functions, the async queue and billing in its own SQLite
// file, as `fare up` does: run one gateway per cluster. Keeping that state in JetStream, so that any
// number of stateless gateways can serve, is the next step (see the cluster's README).

import type { PriceTable } from '../../core/classes.ts';
import { AsyncRunner, createGateway, schedulerPlatform, type Gateway } from '../gateway/index.ts';
import { SchedulerClient } from '../gateway/scheduler-client.ts';
import { NatsBus } from '../transport/nats.ts';
import { realClock } from '../transport/clock.ts';
import { deployExamples, openDataDir } from '../assembly.ts';
import type { Store } from '../store/index.ts';
import { CodeShipper } from './code.ts';
import { codeStore, connectNats, reportStatus, traceOption, type ClusterAddress } from './connect.ts';
import { retireSubject, type RetireNotice } from './control.ts';
import { Heartbeat, Membership } from './membership.ts';

export interface GatewayProcessOptions extends ClusterAddress {
  /** This gateway's number (0 … 2^20 − 1): job ids carry it, so workers know whom to answer. */
  readonly id: number;
  readonly shards: number;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly prices: PriceTable;
  readonly replicas: number;
  readonly adminKey?: string;
  readonly examples: boolean;
  readonly fsync: boolean;
  readonly warn: (line: string) => void;
}

export interface GatewayProcess {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly adminCredentialFile: string | undefined;
  readonly examples: readonly string[];
  close(): Promise<void>;
}

/** A function's number for shard selection: the same from every gateway (FNV-1a of tenant/name). */
export function functionNumber(tenant: string, name: string): number {
  let h = 0x811c9dc5;
  const s = `${tenant}/${name}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 1;
}

export async function startGateway(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const { store, fresh, adminCredentialFile } = await openDataDir(o.dataDir, o.fsync, o.adminKey);
  const nc = await connectNats(o, `fare-gateway-${o.id}`);
  const bus = new NatsBus(nc, { prefix: o.prefix, ...traceOption(), problem: (what) => o.warn(`fare gateway ${o.id}: ${what}`) });
  void reportStatus(nc, `fare gateway ${o.id}`, o.warn);
  const shipper = new CodeShipper(await codeStore(nc, o.prefix, o.replicas));
  // NATS may lose a message when a server or a link fails: jobs not heard of for a while are checked on.
  const scheduler = new SchedulerClient(bus, realClock, { id: o.id, shards: o.shards, shardChoice: 'by-function', auditMs: Math.max(100, o.memberTimeoutMs / 2), graceMs: 5000 });
  const late: { runner?: AsyncRunner } = {};
  const platform = schedulerPlatform({
    prices: o.prices, scheduler, tenancy: 'multi',
    fnId: (req) => functionNumber(req.fn.tenant, req.fn.name),
    prepare: (req) => shipper.ensure(req.fn),
    enqueued: () => late.runner?.wake(),
    functionChanged: (tenant, name, version) => {
      const notice: RetireNotice = { tenant, name, version };
      nc.publish(retireSubject(o.prefix), JSON.stringify(notice));
    },
  });
  const gateway: Gateway = createGateway({ store, platform });
  const runner = new AsyncRunner({ store, platform, contexts: gateway.context.contexts });
  late.runner = runner;
  // The workers that run this gateway's jobs, and the shards that queue them, as heard from their beats.
  const workers = new Membership(nc, o.prefix, 'machine', o.memberTimeoutMs, realClock, (events) => {
    for (const e of events) {
      if (e.kind === 'leave') scheduler.machineLost(e.id, e.why === 'silent' ? `was not heard for ${o.memberTimeoutMs} ms` : e.why === 'left' ? 'stopped' : 'restarted');
    }
  });
  const shards = new Membership(nc, o.prefix, 'shard', o.memberTimeoutMs, realClock, (_, members) => scheduler.shardsAre(members));
  const beat = new Heartbeat(nc, o.prefix, 'gateway', o.id, o.heartbeatMs);
  // Before taking requests, wait (a little) to hear of the shards.
  for (let waited = 0; shards.members().length < o.shards && waited < 3 * o.heartbeatMs; waited += 50) await new Promise((r) => setTimeout(r, 50));
  const examples = fresh && o.examples ? await deployExamples(store) : [];
  await gateway.listen(o.port, o.host);
  const address = gateway.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
  runner.wake();
  let closing: Promise<void> | undefined;
  return {
    url, port, store, adminCredentialFile, examples,
    close: () => (closing ??= (async () => {
      beat.stop(true);
      workers.stop();
      shards.stop();
      await runner.stop();
      await gateway.close();
      scheduler.close();
      bus.close();
      await nc.drain();
      store.close();
    })()),
  };
}
