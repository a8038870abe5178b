// Fare on one machine (`fare up`): the gateway, one scheduler shard and one worker in one process,
// all state in one SQLite file under the data directory. The shard and the machine scheduler are the
// policy core's `Shard` and `Machine` driven in real time; instances are real processes.

import { DEFAULT_PRICE_TABLE, type PriceTable } from '../core/classes.ts';
import { Rng } from '../core/rng.ts';
import { Shard } from '../core/shard/shard.ts';
import { LIVE_WITHIN_DEFAULT, policyPreset } from '../core/presets.ts';
import { AsyncRunner, concurrencyCapOf, createGateway, schedulerPlatform, type Gateway } from './gateway/index.ts';
import type { GatewayLog } from './gateway/access-log.ts';
import { isolatesTenants } from './runtime/capabilities.ts';
import { DEFAULT_RETENTION_MS, type Store } from './store/index.ts';
import { deployExamples, openDataDir, prepareHost } from './assembly.ts';
import { ShardHost } from './shard/shard-host.ts';
import { SchedulerClient } from './gateway/scheduler-client.ts';
import { InProcessBus, undeliverable } from './transport/in-process.ts';
import { realClock } from './transport/clock.ts';
import { describeIoWaits, describeWithin } from './assembly.ts';
import type { InvokeRequest } from './types.ts';
import { TraceRecorder } from './recorder.ts';
import { startWorkerThread, type WorkerThread } from './worker/on-thread.ts';
import { startLocalWorker } from './worker/local-worker.ts';
import { writeFileSync } from 'node:fs';
import type { WithinClass } from '../core/machine/run-queue.ts';
import { Metrics, serveMetrics, type MetricsListener } from './metrics.ts';
import { tenantSpends } from './gateway/budget-gate.ts';


export { ADMIN_CREDENTIAL_FILE, defaultCores, deployDir } from './assembly.ts';

export type LivePolicy = 'fare' | 'hermod' | 'fifo';

export interface UpOptions {
  readonly dataDir: string;
  readonly host: string;
  /** 0 picks a free port (see `Running.port`). */
  readonly port: number;
  readonly policy: LivePolicy;
  /** Cores the machine scheduler hands out to functions (default: the machine's, less one kept for Fare itself; see `defaultCores`). */
  readonly cores?: number;
  /** `<access key id>:<secret>` for the admin credential (FARE_ADMIN_KEY); otherwise one is made and shown once. */
  readonly adminKey?: string;
  /** Deploy the examples on an empty data directory (default true). */
  readonly examples?: boolean;
  /** SCHED_FIFO by class instead of SCHED_IDLE for the cheapest class only. */
  readonly strictPriorities?: boolean;
  /** Order within a class under the fare policy (default: the preset's, las). */
  readonly within?: WithinClass | undefined;
  readonly prices?: PriceTable;
  /** fsync every commit (survives power loss, not only a crash of Fare); slower. */
  readonly fsync?: boolean;
  /** Keep invocation records and function logs this long (ms; default 7 days: `DEFAULT_RETENTION_MS`, store/retention.ts). */
  readonly retentionMs?: number;
  /**
   * Serve several tenants even where the machine cannot keep them apart (no instance sandbox): they
   * can then read and signal each other's instances. Without it, such a machine serves one tenant
   * besides the administrators' own.
   */
  readonly insecureSingleTenant?: boolean;
  /** Manage this much memory (MB) instead of the machine's (see MemoryOptions.memoryMB). */
  readonly memoryMB?: number;
  /** Swap out idle instances, then the lowest classes' preempted ones, under memory pressure (default true where possible). */
  readonly swapping?: boolean;
  /** The region named in every ARN and given to functions as AWS_REGION (default `us-east-1`). */
  readonly region?: string;
  readonly log?: (line: string) => void;
  /** The process's logger (a pino logger): each request's access line and each invocation's line. */
  readonly logger?: GatewayLog;
  /**
   * Serve the metrics, unauthenticated, on a listener of their own on this port (0: any free port),
   * for a Prometheus on this host or a trusted network; undefined: none (the gateway's `/metrics`
   * still answers administrators).
   */
  readonly metricsPort?: number;
  /** Where that listener binds (default 127.0.0.1: this host only; the metrics show every tenant's spend). */
  readonly metricsHost?: string;
  /** Security events worth an operator's attention (default: a line on stderr). */
  readonly warn?: (line: string) => void;
  /** Record the traffic in this file for the simulator (`fare sim replay FILE`; recorder.ts). */
  readonly record?: string;
  /** Keep stem cells, runtimes started ahead for cold starts (default true where the machine allows them; runtime/stem-cells.ts). */
  readonly stemCells?: boolean;
  /**
   * Run worker 0 (the machine scheduler and its instances) on a thread of its own (worker/on-thread.ts):
   * about twice the calls per second under concurrent load, ≈ 0.25 ms more per call at one at a time.
   */
  readonly workerThread?: boolean;
}

export interface Running {
  readonly url: string;
  readonly port: number;
  readonly policy: LivePolicy;
  /**
   * Where the admin credential created by this start was written (0600, in the data dir), so it is
   * never printed to a stream that may be logged; undefined when none was created.
   */
  readonly adminCredentialFile: string | undefined;
  /** Paths of the data dir that were readable by other users and were made private at start. */
  readonly tightened: readonly string[];
  readonly capabilities: readonly string[];
  readonly examples: readonly string[];
  readonly store: Store;
  /** The process's metrics (also on the gateway's `/metrics` for administrators). */
  readonly metrics: Metrics;
  /** The metrics listener's `…/metrics` URL, when `metricsPort` was given. */
  readonly metricsUrl: string | undefined;
  /**
   * Stops every part. With `graceMs`, first lets the calls in flight finish for up to that long
   * (sync ones answered, async ones recorded; the gateway takes no new call meanwhile): what is still
   * running then is cut, and an async invocation cut so runs again at the next start. A call with
   * 0 while a grace runs ends it now. Without: sync calls are cut at once, and the async
   * invocations running are waited for.
   */
  close(graceMs?: number): Promise<void>;
  /** Calls being answered and async invocations running (what a graceful stop waits for). */
  inFlight(): { readonly requests: number; readonly async: number };
}

/** Worker 0, on the main thread or on its own (`workerThread`), as the rest of `fare up` uses it. */
interface WorkerPart {
  readonly capacityMB: number;
  retire(tenant: string, name: string, version: number | null): void;
  endpoint(url: string): void;
  stopStems(): Promise<void>;
  /** Closes the instances (calls still running are cut). */
  stop(): Promise<void>;
  close(): void;
}

export async function up(opts: UpOptions): Promise<Running> {
  const log = opts.log ?? (() => {});
  const warn = opts.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const prices = opts.prices ?? DEFAULT_PRICE_TABLE;
  // A recording that cannot be written fails the start before anything else (the file system's error).
  if (opts.record !== undefined) writeFileSync(opts.record, '');
  const { store, fresh, adminCredentialFile } = await openDataDir(opts.dataDir, opts.fsync ?? false, opts.adminKey, undefined, { retentionMs: opts.retentionMs ?? DEFAULT_RETENTION_MS });
  const host = await prepareHost(opts.cores, { launcher: opts.workerThread !== true });
  const { caps, nice, cores } = host;
  const capLines = [...host.lines];
  let tenantsLine: string | undefined;
  const tenancy = isolatesTenants(caps) || opts.insecureSingleTenant === true ? 'multi' : 'single';
  if (!isolatesTenants(caps)) {
    const served = store.tenants.list().filter((t) => t.id !== 'admin');
    tenantsLine = tenancy === 'single'
      ? 'tenants: ONE besides admin, as this machine cannot isolate them (--insecure-single-tenant to serve more, unsafely)'
      : 'tenants: several, WITHOUT isolation between them (--insecure-single-tenant): they can read each other\'s data';
    if (tenancy === 'single' && served.length > 1) {
      store.close();
      throw Object.assign(new Error(
        `FARE_E_SINGLE_TENANT: this machine cannot keep tenants apart (${caps.sandbox.why}), and the data dir holds ${served.length} tenants besides admin (${served.map((t) => t.id).join(', ')}): ` +
        'run Fare as root on Linux with a C compiler for its sandbox helper, or start with --insecure-single-tenant to serve them anyway (they could then read each other\'s data)'), { code: 'FARE_E_SINGLE_TENANT' });
    }
  }
  if (tenantsLine !== undefined) capLines.push(tenantsLine);
  capLines.push(...host.after);
  const root = new Rng(0, 'live');
  const policy = opts.policy;
  const preset = policyPreset(policy, { idleList: false, within: opts.within ?? (policy === 'fare' ? LIVE_WITHIN_DEFAULT : undefined) });
  if (preset.machine === 'priority') capLines.push(describeWithin(preset.within));
  capLines.push(describeIoWaits(preset.classAware && (opts.strictPriorities === true || nice)));

  // One set of metrics for the process's parts (metrics.ts).
  const metrics = new Metrics({ prices });
  metrics.watchTenants(() => tenantSpends(store, Date.now()));
  // The gateway, shard 0 and worker 0 as the parts of a cluster of one, talking only through the Bus.
  // Once the parts stop, one by one, a message for one already gone (the worker answering the
  // gateway about a call its stop cut) is lost, as it would be on a network; before, it is a bug.
  // With --worker-thread, the worker's messages cross to its thread (worker/on-thread.ts).
  let partsStopping = false;
  let thread: WorkerThread | undefined;
  const bus = new InProcessBus({
    clock: realClock,
    undeliverable: (m) => {
      if (thread !== undefined && m.to.part === 'machine') thread.send(m);
      else if (!partsStopping) throw undeliverable(m);
    },
  });
  // Every function is told the region and where Fare answers (known once the gateway listens), so the
  // AWS SDK inside it calls Fare with the invocation's own credentials and no set-up.
  const region = opts.region ?? 'us-east-1';
  const reach: { endpoint?: string } = {};
  let wp: WorkerPart;
  if (opts.workerThread === true) {
    // A worker that cannot start fails the start: what was opened so far is closed, so that the
    // error is told and the process ends.
    thread = await startWorkerThread({
      cores, prices, machine: preset.machine, within: preset.within, classAware: preset.classAware, strictPriorities: opts.strictPriorities === true, canRaise: nice,
      stemCells: opts.stemCells !== false, region,
      ...(opts.memoryMB !== undefined ? { memoryMB: opts.memoryMB } : {}), ...(opts.swapping !== undefined ? { swapping: opts.swapping } : {}),
      ...(host.cpuset !== undefined ? { cpuset: { procsFile: host.cpuset.procsFile, cpus: host.cpuset.cpus } } : {}),
    }, (m) => bus.sendOwned(m), metrics, warn).catch((e: unknown) => {
      host.cpuset?.close();
      store.close();
      throw e;
    });
    capLines.push(...thread.report, 'worker: on a thread of its own (--worker-thread): the gateway and shard, and the machine scheduler with its instances, each have a core\'s worth of event loop');
    const t = thread;
    wp = {
      capacityMB: t.capacityMB, retire: (tenant, name, version) => t.retire(tenant, name, version), endpoint: (url) => t.setEndpoint(url),
      stopStems: () => t.stopStems(), stop: () => t.stop(), close: () => {},
    };
  } else {
    const w = await startLocalWorker({
      cores, prices, machine: preset.machine, within: preset.within, classAware: preset.classAware, strictPriorities: opts.strictPriorities === true, canRaise: nice,
      stemCells: opts.stemCells !== false, region, endpoint: () => reach.endpoint, warn, metrics,
      ...(opts.memoryMB !== undefined ? { memoryMB: opts.memoryMB } : {}), ...(opts.swapping !== undefined ? { swapping: opts.swapping } : {}),
      ...(host.cpuset !== undefined ? { cpuset: { procsFile: host.cpuset.procsFile, cpus: host.cpuset.cpus } } : {}),
    }, bus);
    capLines.push(...w.report);
    wp = {
      capacityMB: w.capacityMB, retire: (tenant, name, version) => w.retire(tenant, name, version), endpoint: () => {},
      stopStems: () => w.stopStems(), stop: () => w.closeInstances(), close: () => w.close(),
    };
  }
  const shard = new Shard({ id: 0, prices, selection: preset.selection, machines: 1, k: 1, useIdleList: preset.idleList, maxOutstandingPolls: 1024 }, root.fork('shard/0'));
  const shardHost = new ShardHost(shard, bus, realClock, undefined, metrics);
  const scheduler = new SchedulerClient(bus, realClock, { id: 0, shards: 1, metrics });
  const fnIds = new Map<string, number>();
  const fnId = (req: InvokeRequest): number => {
    const key = `${req.fn.tenant}/${req.fn.name}`;
    let id = fnIds.get(key);
    if (id === undefined) fnIds.set(key, (id = fnIds.size));
    return id;
  };

  const late: { runner?: AsyncRunner } = {};
  const platform = schedulerPlatform({
    prices, scheduler, fnId, tenancy, capOf: concurrencyCapOf(store.functions),
    enqueued: () => late.runner?.wake(),
    functionChanged: (tenant, name, version) => wp.retire(tenant, name, version),
  });
  const recorder = opts.record === undefined ? undefined : TraceRecorder.open(opts.record, {
    policy, ...(preset.machine === 'priority' ? { within: preset.within } : {}), cores, machines: 1,
    ...(Number.isFinite(wp.capacityMB) ? { memoryMB: wp.capacityMB } : {}),
    prices: { classes: prices.classes.map((c) => ({ name: c.name, price: c.price })), memoryPrice: prices.memoryPrice },
  });
  const recording = recorder !== undefined ? { recorder } : {};
  const gateway: Gateway = createGateway({ store, platform, metrics, region, ...recording, ...(opts.logger !== undefined ? { log: opts.logger } : {}) });
  const runner = new AsyncRunner({ store, platform, metrics, contexts: gateway.context.contexts, region: gateway.context.region, onError: (e, inv) => warn(`fare: async invocation ${inv.id} of ${inv.tenant}/${inv.function} hit an unexpected error and waits for a restart to run again: ${(e as Error).stack ?? String(e)}`), ...recording, ...(opts.logger !== undefined ? { log: opts.logger } : {}) });
  late.runner = runner;

  const examples = fresh && opts.examples !== false ? await deployExamples(store) : [];

  let metricsListener: MetricsListener | undefined;
  let listening = false;
  /** Stops every part, in order (also when the start fails from here on). */
  const stopParts = async (graceMs?: number): Promise<void> => {
    // Both drain at once, within the same grace: the gateway takes no new call meanwhile. Without
    // one, the runner waits for its invocations and the gateway cuts its connections (as always).
    await Promise.all([runner.stop(graceMs), listening ? gateway.close(graceMs ?? 0) : undefined]);
    await metricsListener?.close();
    await wp.stopStems();
    partsStopping = true;
    // A call answered just now is still measured (its tail, until its instance parks): closing the
    // instances ends it, and its line follows — only then is the recording closed.
    await wp.stop();
    await recorder?.close();
    host.cpuset?.close();
    scheduler.close();
    shardHost.close();
    wp.close();
    store.close();
  };
  try {
    await gateway.listen(opts.port, opts.host);
    listening = true;
  } catch (e) {
    // A port in use: the parts started so far (the stem cells' processes among them) must not keep
    // this process alive after the error is told.
    await stopParts();
    throw e;
  }
  const address = gateway.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  // Functions reach a wildcard address through the loopback one.
  const local = opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host === '::' ? '::1' : opts.host;
  reach.endpoint = `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
  if (opts.metricsPort !== undefined) {
    try {
      metricsListener = await serveMetrics(metrics, opts.metricsPort, opts.metricsHost ?? '127.0.0.1');
    } catch (e) {
      await stopParts();
      throw e;
    }
  }
  runner.wake();
  wp.endpoint(reach.endpoint);
  log(`Fare is up on ${url} (policy ${policy}, ${cores} cores, data in ${opts.dataDir})`);

  let closing: Promise<void> | undefined;
  return {
    url, port, policy, store, metrics,
    metricsUrl: metricsListener?.url,
    adminCredentialFile,
    tightened: store.tightened,
    capabilities: capLines,
    examples,
    close: (graceMs?: number) => {
      if (closing !== undefined) {
        // A stop under way: a grace of 0 ends its wait now.
        if (graceMs !== undefined && graceMs <= 0) {
          void runner.stop(0);
          if (listening) void gateway.close(0);
        }
        return closing;
      }
      return (closing = (async () => {
        await stopParts(graceMs);
      })());
    },
    inFlight: () => ({ requests: gateway.inFlight, async: runner.inFlight }),
  };
}

