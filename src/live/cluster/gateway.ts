// `fare gateway`: the HTTP APIs of the cluster (Lambda Invoke API, Fare's REST API), authentication
// and budgets; each invocation goes to its function's shard over the NATS Bus. A function's code is
// put into the cluster's object store before its first job is sent, so any worker can fetch it.
//
// Tenants, credentials, grants and functions, and the billing ledger, are shared by all gateways
// through JetStream (shared-state.ts): any number of gateways can serve, each with its own copy in an
// SQLite file that it rebuilds from JetStream if it starts empty. They must share one master key
// (`--master-key-file`). Async invocations go through the cluster's work queue (async-queue.ts), run by
// any gateway. A context (or invocation credential) of an invocation running on another gateway is
// honoured here too: that gateway is asked over NATS (contexts.ts).

import type { PriceTable } from '../../core/classes.ts';
import { AsyncRunner, concurrencyCapOf, createGateway, schedulerPlatform, type Gateway } from '../gateway/index.ts';
import { TraceRecorder } from '../recorder.ts';
import { SchedulerClient } from '../gateway/scheduler-client.ts';
import { NatsBus } from '../transport/nats.ts';
import { realClock } from '../transport/clock.ts';
import { deployExamples, openDataDir } from '../assembly.ts';
import { DEFAULT_RETENTION_MS, installMasterKey, type Store } from '../store/index.ts';
import { CodeShipper, keptUpload } from './code.ts';
import { codeStore, connectNats, reportStatus, traceOption, type ClusterAddress } from './connect.ts';
import { retireSubject, type RetireNotice } from './control.ts';
import { Heartbeat, Membership } from './membership.ts';
import { SharedState } from './shared-state.ts';
import { SharedQueue } from './async-queue.ts';
import { JobIds } from './job-ids.ts';
import { NatsContextPeers } from './contexts.ts';
import type { GatewayLog } from '../gateway/access-log.ts';
import { Metrics, serveMetrics, type MetricsListener } from '../metrics.ts';
import { tenantSpends } from '../gateway/budget-gate.ts';

/** An async invocation's message not acknowledged for this long (a gateway died running it) goes to another gateway. */
const ASYNC_ACK_WAIT_MS = 10_000;
/** How long a stopping gateway waits for the records of the calls it answered last (ms; at most, and when told to stop at once). */
const SETTLE_ON_STOP_MS = 5_000;
const SETTLE_AT_ONCE_MS = 1_000;
import type { ObjectStore } from '@nats-io/obj';

export interface GatewayProcessOptions extends ClusterAddress {
  /** This gateway's number (0 … 1023): the high part of the job ids it mints. */
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
  /** The cluster's master key (a copy of one gateway's `master.key`): put into an empty data directory. */
  readonly masterKeyFile?: string;
  /** The region named in ARNs (default us-east-1). */
  readonly region?: string;
  readonly warn: (line: string) => void;
  /** The process's logger (pino): each request's access line and each invocation's line. */
  readonly logger?: GatewayLog;
  /** Serve this process's metrics, unauthenticated, on a listener of its own on this port (0: any free port); undefined: none. */
  readonly metricsPort?: number;
  /** Where that listener binds (default 127.0.0.1). */
  readonly metricsHost?: string;
  /**
   * Record the executions this gateway sends in this file for the simulator (`fare sim replay`;
   * recorder.ts): the cluster's policy and shards in the header, and where each ran from its receipt.
   */
  readonly record?: string;
  /** The cluster's policy, for the recording's header (default fare). */
  readonly policy?: string;
  /**
   * Keep invocation records and function logs in this gateway's copy this long (ms; default 7 days,
   * `DEFAULT_RETENTION_MS`): older ones are deleted in the background (store/retention.ts), as by `fare up --retention`.
   */
  readonly retentionMs?: number;
  /** The clock of this gateway's store (default Date.now): its records' times and the retention's cutoff (tests move it on to age records). */
  readonly storeClock?: () => number;
}

export interface GatewayProcess {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly adminCredentialFile: string | undefined;
  readonly examples: readonly string[];
  /** The metrics listener's URL, when `metricsPort` was given (administrators also read the gateway's `/metrics`). */
  readonly metricsUrl: string | undefined;
  /**
   * Stops. With `graceMs`, the calls in flight may finish for up to that long first (sync ones
   * answered, async ones recorded; no new call is taken meanwhile); an async invocation cut is
   * delivered again by the work queue. A call with 0 while a grace runs ends it now. Without: sync
   * calls are cut at once, and the async invocations running are waited for.
   */
  close(graceMs?: number): Promise<void>;
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
  if (o.masterKeyFile !== undefined) installMasterKey(o.masterKeyFile, o.dataDir);
  const nc = await connectNats(o, `fare-gateway-${o.id}`);
  void reportStatus(nc, `fare gateway ${o.id}`, o.warn);
  // The shared state is loaded before the administrator check: the cluster may have one already.
  const late: { shared?: SharedState; gateway?: Gateway } = {};
  let code: ObjectStore;
  let opened: Awaited<ReturnType<typeof openDataDir>>;
  try {
    code = await codeStore(nc, o.prefix, o.replicas);
    opened = await openDataDir(o.dataDir, o.fsync, o.adminKey, async (s) => {
      late.shared = await SharedState.open({
        nc, prefix: o.prefix, replicas: o.replicas, store: s, code, warn: (line) => o.warn(`fare gateway ${o.id}: ${line}`),
        classes: o.prices.classes.length, asyncAckWaitMs: ASYNC_ACK_WAIT_MS,
        // A credential changed elsewhere (revoked, or its tenant deleted) is not remembered here either.
        // Nor a tenant or a function another gateway changed (a tenant gone takes its functions with it).
        changed: (table, pk) => {
          if (table === 'credentials') late.gateway?.context.auth.forget(String(pk[0]));
          else if (table === 'tenants') {
            s.tenants.forget(String(pk[0]));
            s.functions.forget();
          } else if (table === 'functions') s.functions.forget(String(pk[0]), String(pk[1]));
        },
        // A read of that execution's receipt or log entry through this gateway may be waiting for it.
        logEntered: (requestId) => late.gateway?.context.settling.entered(requestId),
      });
    }, { retentionMs: o.retentionMs ?? DEFAULT_RETENTION_MS, deferRetention: true, ...(o.storeClock !== undefined ? { clock: o.storeClock } : {}) });
  } catch (e) {
    late.shared?.close();
    await nc.close();
    throw e;
  }
  const { store, fresh, adminCredentialFile } = opened;
  const shared = late.shared as SharedState;
  // The retention clean-up starts once the ledger has caught up with the cluster's billing stream
  // (store/retention.ts: no record of this copy's own is then counted twice); close stops it.
  void shared.ledgerCaughtUp.then(() => store.retention?.start());
  // The parts started from here on, stopped in order by close — and when the start fails part-way (its
  // port in use): the store (its retention clean-up among it), the shared state and the NATS
  // connection must not keep this process alive after the error is told.
  const parts: {
    listener?: MetricsListener; beat?: Heartbeat; workers?: Membership; shards?: Membership; queue?: SharedQueue; runner?: AsyncRunner;
    gateway?: Gateway; listening?: boolean; recorder?: TraceRecorder | undefined; scheduler?: SchedulerClient; bus?: NatsBus; peers?: NatsContextPeers;
  } = {};
  const stopParts = async (graceMs?: number): Promise<void> => {
    await parts.listener?.close();
    parts.beat?.stop(true);
    parts.workers?.stop();
    parts.shards?.stop();
    await parts.queue?.close();
    // Both drain at once, within the same grace: the gateway takes no new call meanwhile.
    // Without a grace, the runner waits for its invocations and the gateway cuts its connections.
    await Promise.all([parts.runner?.stop(graceMs), parts.listening === true ? parts.gateway?.close(graceMs ?? 0) : undefined]);
    // A call answered just now has its record made when its worker says it is done (its instance
    // parked, ~10 ms later): wait for those before the scheduler stops hearing, or they go unbilled.
    await parts.gateway?.context.settling.settled(graceMs === 0 ? SETTLE_AT_ONCE_MS : SETTLE_ON_STOP_MS);
    await parts.recorder?.close();
    parts.scheduler?.close();
    parts.bus?.close();
    await shared.settle(2000);
    shared.close();
    parts.peers?.stop();
    await nc.drain();
    store.close();
  };
  try {
    const bus = (parts.bus = new NatsBus(nc, { prefix: o.prefix, ...traceOption(), problem: (what) => o.warn(`fare gateway ${o.id}: ${what}`) }));
    const shipper = new CodeShipper(code, (sha) => keptUpload(store, sha));
    // NATS may lose a message when a server or a link fails: jobs not heard of for a while are checked on.
    // Job ids unique across this gateway number's restarts (workers remember recent jobs by id).
    const ids = await JobIds.open(shared.bucket, o.id, (line) => o.warn(`fare gateway ${o.id}: ${line}`));
    const metrics = new Metrics({ prices: o.prices });
    metrics.watchTenants(() => tenantSpends(store, Date.now()));
    const scheduler = (parts.scheduler = new SchedulerClient(bus, realClock, { id: o.id, shards: o.shards, sequence: ids.next, shardChoice: 'by-function', auditMs: Math.max(100, o.memberTimeoutMs / 2), graceMs: 5000, metrics }));
    const platform = schedulerPlatform({
      prices: o.prices, scheduler, tenancy: 'multi',
      fnId: (req) => functionNumber(req.fn.tenant, req.fn.name),
      capOf: concurrencyCapOf(store.functions),
      prepare: (req) => shipper.ensure(req.fn),
      // An accepted async invocation reaches the cluster's queue through the shared state's outbox.
      enqueued: () => {},
      functionChanged: (tenant, name, version) => {
        const notice: RetireNotice = { tenant, name, version };
        nc.publish(retireSubject(o.prefix), JSON.stringify(notice));
      },
    });
    // Contexts of invocations begun on another gateway are asked about there (contexts.ts); this one
    // answers for its own before it begins any (the async queue below, or a request).
    const peers = (parts.peers = new NatsContextPeers(nc, o.prefix, o.id));
    // Machines and cores are left out of the recording's header: its records say where each execution ran.
    const recorder = (parts.recorder = o.record === undefined ? undefined : TraceRecorder.open(o.record, {
      policy: o.policy ?? 'fare', shards: o.shards,
      prices: { classes: o.prices.classes.map((c) => ({ name: c.name, price: c.price })), memoryPrice: o.prices.memoryPrice },
    }));
    const recording = recorder !== undefined ? { recorder } : {};
    const gateway: Gateway = (parts.gateway = createGateway({ store, platform, metrics, settle: () => shared.settle(), contextPeers: peers, ...recording, ...(o.region !== undefined ? { region: o.region } : {}), ...(o.logger !== undefined ? { log: o.logger } : {}) }));
    late.gateway = gateway;
    await peers.answer(gateway.context.contexts);
    const runner = (parts.runner = new AsyncRunner({ store, platform, metrics, contexts: gateway.context.contexts, region: gateway.context.region, expedite: false, onError: (e, inv) => o.warn(`fare gateway ${o.id}: async invocation ${inv.id} of ${inv.tenant}/${inv.function} hit an unexpected error: ${(e as Error).stack ?? String(e)}`), ...recording, ...(o.logger !== undefined ? { log: o.logger } : {}) }));
    // Async invocations are taken from the cluster's queue (not from this store's), by any gateway.
    parts.queue = await SharedQueue.open({
      nc, prefix: o.prefix, classes: o.prices.classes.length, store, runner, quietly: (w) => shared.quietly(w), settle: () => shared.settle(),
      ackWaitMs: ASYNC_ACK_WAIT_MS, warn: (line) => o.warn(`fare gateway ${o.id}: ${line}`),
    });
    // The workers that run this gateway's jobs, and the shards that queue them, as heard from their beats.
    parts.workers = new Membership(nc, o.prefix, 'machine', o.memberTimeoutMs, realClock, (events) => {
      for (const e of events) {
        if (e.kind === 'leave') scheduler.machineLost(e.id, e.why === 'silent' ? `was not heard for ${o.memberTimeoutMs} ms` : e.why === 'left' ? 'stopped' : 'restarted');
      }
    });
    const shards = (parts.shards = new Membership(nc, o.prefix, 'shard', o.memberTimeoutMs, realClock, (_, members) => scheduler.shardsAre(members)));
    parts.beat = new Heartbeat(nc, o.prefix, 'gateway', o.id, o.heartbeatMs);
    // Before taking requests, wait (a little) to hear of the shards.
    for (let waited = 0; shards.members().length < o.shards && waited < 3 * o.heartbeatMs; waited += 50) await new Promise((r) => setTimeout(r, 50));
    // The examples are deployed once per cluster, by its first gateway.
    const examples = fresh && shared.wasEmpty && o.examples ? await deployExamples(store) : [];
    await gateway.listen(o.port, o.host);
    parts.listening = true;
    if (o.metricsPort !== undefined) parts.listener = await serveMetrics(metrics, o.metricsPort, o.metricsHost ?? '127.0.0.1');
    const address = gateway.server.address();
    const port = typeof address === 'object' && address ? address.port : o.port;
    const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
    let closing: Promise<void> | undefined;
    return {
      url, port, store, adminCredentialFile, examples,
      metricsUrl: parts.listener?.url,
      close: (graceMs?: number) => {
        if (closing !== undefined) {
          // A stop under way: a grace of 0 ends its wait now.
          if (graceMs !== undefined && graceMs <= 0) {
            void parts.runner?.stop(0);
            if (parts.listening === true) void parts.gateway?.close(0);
          }
          return closing;
        }
        return (closing = stopParts(graceMs));
      },
    };
  } catch (e) {
    await stopParts();
    throw e;
  }
}
