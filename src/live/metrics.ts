// Prometheus metrics of one Fare process (prom-client): the metric families, one `Metrics` object per
// process handed to its parts through their options (the gateway's scheduler client and billing, the
// shard host, the worker's machine driver and pool), and the listener that serves them. Label sets are
// bounded: class names from the price table, tenant ids, shard and machine numbers, a few fixed words;
// never an invocation's id. What is cheaper to read than to follow (queue lengths, instances, memory,
// tenants' spend) is read at each scrape from sources the parts register (`watch…`).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PriceTable } from '../core/classes.ts';
import type { IdleEntry } from '../core/shard/idle-list.ts';

/** Seconds, from 1 ms to 15 min (Lambda's longest timeout): waiting times and latencies. */
export const SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900];

/** Where an instance is, for the `fare_instances` gauge. */
export type InstanceState = 'running' | 'frozen' | 'idle' | 'swapped';

/** A worker's instances, grouped by their function's class and where they are. */
export interface InstanceCensus {
  readonly cls: string;
  readonly state: InstanceState;
  readonly count: number;
  /** Their resident memory (bytes). */
  readonly residentBytes: number;
  /** Their memory in swap (bytes; read for swapped-out instances only). */
  readonly swappedBytes: number;
}

/** What a shard host registers (`watchShard`): the core Shard's queues, and its idle list where it keeps one. */
export interface ShardSource {
  waitingIn(cls: number): number;
  idleEntries?(): readonly IdleEntry[];
}

/** The parts this process runs, as read now (`Metrics.parts()`): for the dashboard, as structured data. */
export interface PartsNow {
  /** Class names, in price-table order (the index of each queue length). */
  readonly classes: readonly string[];
  readonly shards: readonly {
    readonly id: number;
    /** Jobs waiting per class (index: class). */
    readonly queued: readonly number[];
    /** Its idle list (machines, free memory, jobs), or null when the shard keeps none. */
    readonly idle: readonly IdleEntry[] | null;
  }[];
  readonly workers: readonly { readonly machine: number; readonly instances: readonly InstanceCensus[] }[];
}

/** A tenant's month so far, for the per-tenant gauges. */
export interface TenantSpend {
  readonly tenant: string;
  readonly spentMicroCents: number;
  /** null: no budget. */
  readonly budgetMicroCents: number | null;
}

/** Where an admission decision was made: when an invocation was accepted, or when a queued Event was claimed to run. */
export type AdmissionPoint = 'accept' | 'claim';

/** A worker's stem cells of one runtime now. */
export interface StemCount {
  readonly runtime: string;
  readonly ready: number;
  readonly starting: number;
}

export interface MetricsOptions {
  readonly prices: PriceTable;
  /** Node's own process metrics (CPU, memory, event loop, GC; prom-client's defaults). Default true. */
  readonly processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly names: readonly string[];
  private readonly shards: { id: number; source: ShardSource }[] = [];
  private readonly answeredListeners: ((cls: number, seconds: number) => void)[] = [];
  private readonly workers: { machine: number; census: () => readonly InstanceCensus[] }[] = [];
  private readonly spends: (() => readonly TenantSpend[])[] = [];
  private readonly stemSources: { machine: number; read: () => readonly StemCount[] }[] = [];

  private readonly arrivals: Counter<'shard' | 'class'>;
  private readonly waiting: Histogram<'class'>;
  private readonly latency: Histogram<'class'>;
  private readonly preemptions: Counter<'machine' | 'class'>;
  private readonly preemptionsCaused: Counter<'machine' | 'class'>;
  private readonly ioWaits: Counter<'machine' | 'class'>;
  private readonly swaps: Counter<'machine' | 'class' | 'direction'>;
  private readonly coldStarts: Counter<'class'>;
  private readonly invocations: Counter<'class' | 'status'>;
  private readonly cpu: Counter<'class'>;
  private readonly spend: Counter<'class'>;
  private readonly throttledCount: Counter<'tenant' | 'at'>;
  private readonly concurrencyRefusedCount: Counter<'tenant' | 'at'>;
  private readonly degradedCount: Counter<'tenant' | 'at'>;

  private readonly scrapeHooks: (() => Promise<void>)[] = [];

  constructor(opts: MetricsOptions) {
    this.names = opts.prices.classes.map((c) => c.name);
    const registers = [this.registry];
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    // The gauges read at scrape see the sources through these (their `this` is the gauge).
    const { names, shards, workers, spends } = this;
    const nameOf = (c: number): string => names[c] ?? String(c);
    this.arrivals = new Counter({ name: 'fare_arrivals_total', help: 'Jobs that arrived at a scheduler shard, by shard and price class (a job sent again after a lost message counts again).', labelNames: ['shard', 'class'], registers });
    new Gauge({
      name: 'fare_queue_length', help: 'Jobs waiting in a shard\'s multi-queue, by shard and price class (read at scrape).', labelNames: ['shard', 'class'], registers,
      collect() {
        this.reset();
        for (const s of shards) for (let c = 0; c < names.length; c++) this.set({ shard: String(s.id), class: nameOf(c) }, s.source.waitingIn(c));
      },
    });
    new Gauge({
      name: 'fare_idle_list_machines', help: 'Machines on a shard\'s idle list (read at scrape; shards that keep no idle list are not listed).', labelNames: ['shard'], registers,
      collect() {
        this.reset();
        for (const s of shards) {
          const idle = s.source.idleEntries?.();
          if (idle !== undefined) this.set({ shard: String(s.id) }, idle.length);
        }
      },
    });
    new Gauge({
      name: 'fare_idle_list_free_memory_bytes', help: 'Free memory a machine on a shard\'s idle list reported (bytes), by shard and machine (read at scrape).', labelNames: ['shard', 'machine'], registers,
      collect() {
        this.reset();
        for (const s of shards) for (const e of s.source.idleEntries?.() ?? []) this.set({ shard: String(s.id), machine: String(e.machine) }, e.freeMB * 1024 * 1024);
      },
    });
    this.waiting = new Histogram({ name: 'fare_waiting_seconds', help: 'Time from a job\'s arrival to its start on a worker (seconds), by the class it ran at; measured by the gateway.', labelNames: ['class'], buckets: [...SECONDS_BUCKETS], registers });
    this.latency = new Histogram({ name: 'fare_latency_seconds', help: 'End-to-end time from a job\'s arrival to its function\'s answer (seconds; to its outcome when there was no answer), by the class it ran at; measured by the gateway.', labelNames: ['class'], buckets: [...SECONDS_BUCKETS], registers });
    this.preemptions = new Counter({ name: 'fare_preemptions_total', help: 'Preemptions suffered: running jobs frozen for another, by machine and the preempted job\'s class.', labelNames: ['machine', 'class'], registers });
    this.preemptionsCaused = new Counter({ name: 'fare_preemptions_caused_total', help: 'Preemptions caused, by machine and the class of the job that took the core.', labelNames: ['machine', 'class'], registers });
    this.ioWaits = new Counter({ name: 'fare_io_waits_total', help: 'Cores given up by running jobs seen waiting on I/O (asleep, next to no CPU), by machine and class.', labelNames: ['machine', 'class'], registers });
    this.swaps = new Counter({ name: 'fare_swaps_total', help: 'Class-based swapping of preempted jobs\' instances, by machine, class and direction (out, in).', labelNames: ['machine', 'class', 'direction'], registers });
    this.coldStarts = new Counter({ name: 'fare_cold_starts_total', help: 'Invocations that started a new instance, by the class they ran at (from billed outcomes).', labelNames: ['class'], registers });
    this.invocations = new Counter({ name: 'fare_invocations_total', help: 'Invocations billed (sync, and each async attempt), by the class they ran at and status (ok, error).', labelNames: ['class', 'status'], registers });
    this.cpu = new Counter({ name: 'fare_cpu_seconds_total', help: 'CPU-seconds billed, by the class they were billed at (from billing records as they are written).', labelNames: ['class'], registers });
    this.spend = new Counter({ name: 'fare_spend_microcents_total', help: 'Money billed (µ¢: CPU at the class price plus memory), by class (from billing records as they are written).', labelNames: ['class'], registers });
    this.concurrencyRefusedCount = new Counter({ name: 'fare_concurrency_refused_total', help: 'Invocations refused because their function was at its concurrency limit (reserved concurrency), by tenant and where (accept: answered 429; claim: a queued Event left waiting).', labelNames: ['tenant', 'at'], registers });
    this.throttledCount = new Counter({ name: 'fare_throttled_total', help: 'Invocations refused for their tenant\'s budget, by tenant and where (accept: answered 429; claim: a queued Event left waiting).', labelNames: ['tenant', 'at'], registers });
    this.degradedCount = new Counter({ name: 'fare_degraded_total', help: 'Invocations lowered to the cheapest class by their tenant\'s budget (over-budget: degrade), by tenant and where (accept, claim).', labelNames: ['tenant', 'at'], registers });
    const census = (pick: (r: InstanceCensus) => number) => function (this: Gauge<'machine' | 'class' | 'state'>): void {
      this.reset();
      for (const w of workers) {
        for (const state of ['running', 'frozen', 'idle', 'swapped'] as const) for (const cls of names) this.set({ machine: String(w.machine), class: cls, state }, 0);
        for (const r of w.census()) this.inc({ machine: String(w.machine), class: r.cls, state: r.state }, pick(r));
      }
    };
    new Gauge({ name: 'fare_instances', help: 'Instances on a worker, by machine, their function\'s class and state (running, frozen: preempted, idle: warm between invocations, swapped: memory in swap).', labelNames: ['machine', 'class', 'state'], registers, collect: census((r) => r.count) });
    new Gauge({ name: 'fare_memory_resident_bytes', help: 'Resident memory of a worker\'s instances (bytes), by machine, class and state.', labelNames: ['machine', 'class', 'state'], registers, collect: census((r) => r.residentBytes) });
    new Gauge({ name: 'fare_memory_swapped_bytes', help: 'Memory of a worker\'s swapped-out instances in swap (bytes), by machine, class and state.', labelNames: ['machine', 'class', 'state'], registers, collect: census((r) => r.swappedBytes) });
    const stemSources = this.stemSources;
    new Gauge({
      name: 'fare_stem_cells', help: 'Stem cells on a worker (runtimes started ahead for cold starts), by machine, runtime and state (ready, starting).', labelNames: ['machine', 'runtime', 'state'], registers,
      collect(this: Gauge<'machine' | 'runtime' | 'state'>): void {
        this.reset();
        for (const w of stemSources) {
          for (const r of w.read()) {
            this.set({ machine: String(w.machine), runtime: r.runtime, state: 'ready' }, r.ready);
            this.set({ machine: String(w.machine), runtime: r.runtime, state: 'starting' }, r.starting);
          }
        }
      },
    });
    const tenants = (pick: (t: TenantSpend) => number | null) => function (this: Gauge<'tenant'>): void {
      this.reset();
      for (const read of spends) {
        for (const t of read()) {
          const v = pick(t);
          if (v !== null) this.set({ tenant: t.tenant }, v);
        }
      }
    };
    new Gauge({ name: 'fare_tenant_spend_microcents', help: 'A tenant\'s spend billed this month (µ¢; read from the store at scrape).', labelNames: ['tenant'], registers, collect: tenants((t) => t.spentMicroCents) });
    new Gauge({ name: 'fare_tenant_budget_microcents', help: 'A tenant\'s monthly budget (µ¢; tenants without a budget are not listed).', labelNames: ['tenant'], registers, collect: tenants((t) => t.budgetMicroCents) });
    // Every class's series from the start, so rates and quantiles have a zero to start from.
    for (const cls of this.names) {
      this.waiting.zero({ class: cls });
      this.latency.zero({ class: cls });
      this.coldStarts.inc({ class: cls }, 0);
      this.cpu.inc({ class: cls }, 0);
      this.spend.inc({ class: cls }, 0);
    }
  }

  /** The name of class `cls` (its index in the price table). */
  name(cls: number): string {
    return this.names[cls] ?? String(cls);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric now (after the `beforeScrape` hooks). */
  async text(): Promise<string> {
    if (this.scrapeHooks.length > 0) await Promise.all(this.scrapeHooks.map((f) => f()));
    return this.registry.metrics();
  }

  /**
   * Runs `hook` before each scrape (`text()`): a source read at scrape that lives elsewhere (a
   * worker on its own thread) brings its figures up to date.
   */
  beforeScrape(hook: () => Promise<void>): void {
    this.scrapeHooks.push(hook);
  }

  // ---- sources read at scrape ----

  /** A shard's queues (the core Shard's `waitingIn`) and idle list (its `idleEntries`). */
  watchShard(id: number, shard: ShardSource): void {
    this.shards.push({ id, source: shard });
    for (let c = 0; c < this.names.length; c++) this.arrivals.inc({ shard: String(id), class: this.name(c) }, 0);
  }

  /** A worker's instances (the pool's census). */
  watchWorker(machine: number, census: () => readonly InstanceCensus[]): void {
    this.workers.push({ machine, census });
    for (const cls of this.names) {
      this.preemptions.inc({ machine: String(machine), class: cls }, 0);
      this.preemptionsCaused.inc({ machine: String(machine), class: cls }, 0);
      this.ioWaits.inc({ machine: String(machine), class: cls }, 0);
    }
  }

  /** A worker's stem cells (runtime/stem-cells.ts `stats()`). */
  watchStemCells(machine: number, read: () => readonly StemCount[]): void {
    this.stemSources.push({ machine, read });
  }

  /** Tenants' spend this month and budgets (a gateway's store). */
  watchTenants(read: () => readonly TenantSpend[]): void {
    this.spends.push(read);
  }

  /** The shards' queues and idle lists and the workers' instances now, as data (what the gauges read at scrape). */
  parts(): PartsNow {
    return {
      classes: this.names,
      shards: this.shards.map((s) => ({
        id: s.id,
        queued: this.names.map((_, c) => s.source.waitingIn(c)),
        idle: s.source.idleEntries === undefined ? null : [...s.source.idleEntries()],
      })),
      workers: this.workers.map((w) => ({ machine: w.machine, instances: [...w.census()] })),
    };
  }

  /** Calls `listener` at each `answered` (class, seconds), until the returned function is called. */
  onAnswered(listener: (cls: number, seconds: number) => void): () => void {
    this.answeredListeners.push(listener);
    return () => {
      const i = this.answeredListeners.indexOf(listener);
      if (i >= 0) this.answeredListeners.splice(i, 1);
    };
  }

  // ---- events ----

  arrived(shard: number, cls: number): void {
    this.arrivals.inc({ shard: String(shard), class: this.name(cls) });
  }

  /** A job started `seconds` after it arrived. */
  started(cls: number, seconds: number): void {
    this.waiting.observe({ class: this.name(cls) }, seconds);
  }

  /** A job answered (or ended without an answer) `seconds` after it arrived. */
  answered(cls: number, seconds: number): void {
    this.latency.observe({ class: this.name(cls) }, seconds);
    for (const l of this.answeredListeners) l(cls, seconds);
  }

  /** Jobs of class `cls` frozen on `machine` for a job of class `by` (undefined: not known). */
  preempted(machine: number, cls: number, by: number | undefined): void {
    this.preemptions.inc({ machine: String(machine), class: this.name(cls) });
    if (by !== undefined) this.preemptionsCaused.inc({ machine: String(machine), class: this.name(by) });
  }

  /** A job of class `cls` on `machine` gave its core up: it waits on I/O. */
  ioWaited(machine: number, cls: number): void {
    this.ioWaits.inc({ machine: String(machine), class: this.name(cls) });
  }

  swapped(machine: number, cls: number, direction: 'out' | 'in'): void {
    this.swaps.inc({ machine: String(machine), class: this.name(cls), direction });
  }

  /** A billing record was written: class name, CPU (ms), cost (µ¢), and whether the invocation cold-started. */
  billed(cls: string, cpuMs: number, costMicroCents: number, coldStart: boolean, status: 'ok' | 'error'): void {
    this.invocations.inc({ class: cls, status });
    this.cpu.inc({ class: cls }, cpuMs / 1000);
    this.spend.inc({ class: cls }, costMicroCents);
    if (coldStart) this.coldStarts.inc({ class: cls });
  }

  throttled(tenant: string, at: AdmissionPoint): void {
    this.throttledCount.inc({ tenant, at });
  }

  /** An invocation was refused because its function was at its concurrency limit. */
  concurrencyRefused(tenant: string, at: AdmissionPoint): void {
    this.concurrencyRefusedCount.inc({ tenant, at });
  }

  degraded(tenant: string, at: AdmissionPoint): void {
    this.degradedCount.inc({ tenant, at });
  }
}

/** The value of one sample in exposition text (exactly these labels, in any order), or undefined: for tests and tools. */
export function sample(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) have.set(p[1] as string, p[2] as string);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v) && have.size === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

/** A listener of its own that answers `GET /metrics` (and nothing else), unauthenticated: bind it where only the scraper reaches. */
export interface MetricsListener {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function serveMetrics(metrics: Metrics, port: number, host = '127.0.0.1'): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('only GET /metrics here\n');
      return;
    }
    metrics.text().then((text) => {
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (e: unknown) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`metrics failed: ${(e as Error).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    port: a.port,
    url: `http://${h}:${a.port}/metrics`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
