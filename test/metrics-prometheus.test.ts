// End-to-end: a real Prometheus (the Debian package's `prometheus`) scrapes `fare up` — its metrics
// listener with no credential (--metrics-port), and the gateway's /metrics with the administrator's
// Bearer credential — every second; after invocations of two classes, PromQL over its HTTP API gives
// a 99th-percentile latency per class. Then every component of a cluster (`fare cluster up
// --metrics-port 0`: the gateway, two shards, two workers, each its own process) is scraped, and
// each one's own metrics are queried. Skipped, saying why, where there is no `prometheus` (the
// cluster's part also where there is no `nats-server`).

import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp, type Cluster } from '../src/live/cluster/up.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';

/** The `prometheus` command on PATH (or /usr/bin), or why there is none. */
function findPrometheus(): { ok: true; path: string } | { ok: false; why: string } {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin']) {
    if (dir === '') continue;
    const path = join(dir, 'prometheus');
    try {
      accessSync(path, constants.X_OK);
      return { ok: true, path };
    } catch {
      // not here
    }
  }
  return { ok: false, why: 'no prometheus on PATH (Debian: apt-get install prometheus)' };
}

const prom = findPrometheus();
if (!prom.ok) process.stderr.write(`SKIPPED metrics end-to-end test with Prometheus: ${prom.why}\n`);

const nats = findNatsServer();
if (prom.ok && !nats.ok) process.stderr.write(`SKIPPED Prometheus scraping a cluster: ${nats.why}\n`);

const dirs: string[] = [];
const fares: FareProcess[] = [];
const children: ChildProcess[] = [];
const clusters: Cluster[] = [];
afterAll(async () => {
  for (const c of clusters) await c.close();
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
  for (const f of fares) await stopFare(f);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface VectorSample { metric: Record<string, string>; value: [number, string] }

async function query(base: string, promql: string): Promise<VectorSample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { resultType: string; result: VectorSample[] }; error?: string };
  if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
  return body.data.result;
}

describe.skipIf(!prom.ok)('Prometheus scraping fare up', () => {
  it('scrapes both /metrics endpoints and gives a p99 latency per class', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-prom-'));
    dirs.push(dir);
    const fare = await startFare(join(dir, 'fare'), ['--metrics-port', '0']);
    fares.push(fare);
    const metricsUrl = await until('the metrics line of fare up', 10_000, () => Promise.resolve(/Metrics \(Prometheus\):\s+(http:\/\/\S+\/metrics) \(no credential\)/.exec(fare.output())?.[1]));
    // The listener answers with no credential; the gateway's /metrics wants an administrator's.
    expect((await fetch(metricsUrl)).status).toBe(200);
    expect((await fetch(`${fare.url}/metrics`)).status).toBe(401);
    const target = (u: string): string => new URL(u).host;
    const { base, log } = await startPrometheus(dir, [
      { name: 'fare', targets: [target(metricsUrl)] },
      { name: 'fare-gateway', targets: [target(fare.url)], bearer: ADMIN_KEY },
    ]);
    try {
      // Both targets scraped once before any invocation: the histograms' zeros are the rates' start.
      await until('both targets to be up', 20_000, async () => {
        const up = await query(base, 'up == 1');
        return new Set(up.map((s) => s.metric.job)).size === 2 ? true : undefined;
      });
      for (let i = 0; i < 6; i++) {
        const high = await api(fare.url, 'POST', '/2015-03-31/functions/page-view/invocations', { user: `u${i}` });
        expect(high.status).toBe(200);
        const middle = await api(fare.url, 'POST', '/2015-03-31/functions/profile-view/invocations', { user: `u${i}` });
        expect(middle.status).toBe(200);
      }
      const p99 = await until('a p99 latency per class', 30_000, async () => {
        const r = await query(base, 'histogram_quantile(0.99, sum by (le, class) (rate(fare_latency_seconds_bucket{job="fare"}[1m])))');
        const byClass = new Map(r.filter((s) => Number.isFinite(Number(s.value[1]))).map((s) => [s.metric.class, Number(s.value[1])]));
        return byClass.has('high') && byClass.has('middle') ? byClass : undefined;
      });
      process.stderr.write(`p99 latency by class, from Prometheus: ${[...p99].map(([c, v]) => `${c} ${(v * 1000).toFixed(1)} ms`).join(', ')}\n`);
      for (const cls of ['high', 'middle']) expect(p99.get(cls)).toBeGreaterThan(0);
      // The gateway's endpoint (scraped with the admin's credential) has the same process's counters.
      const billed = await until('billed invocations of both classes', 20_000, async () => {
        const r = await query(base, 'sum by (class) (fare_invocations_total{job="fare-gateway"})');
        const m = new Map(r.map((s) => [s.metric.class, Number(s.value[1])]));
        return (m.get('high') ?? 0) >= 6 && (m.get('middle') ?? 0) >= 6 ? m : undefined;
      });
      expect(billed.get('low') ?? 0).toBe(0);
      // Each job's waiting time, observed once as it started (the listener's target may be scraped a moment later).
      await until('six waiting times of the high class', 20_000, async () => {
        const waits = await query(base, 'sum by (class) (fare_waiting_seconds_count{job="fare"})');
        return new Map(waits.map((s) => [s.metric.class, Number(s.value[1])])).get('high') === 6 ? true : undefined;
      });
      // The worker's instances (warm, between invocations) and their memory, read from its pool at each scrape.
      const instances = await query(base, 'sum by (class) (fare_instances{job="fare"})');
      expect(Number(instances.find((s) => s.metric.class === 'high')?.value[1])).toBeGreaterThanOrEqual(1);
      const resident = await query(base, 'sum(fare_memory_resident_bytes{job="fare"})');
      expect(Number(resident[0]?.value[1])).toBeGreaterThan(0);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- prometheus:\n${log()}\n--- fare up:\n${fare.output()}`);
    }
  }, 120_000);
});

/** A Prometheus on a free port scraping `jobs` (name → targets, and a Bearer credential) every second; resolves when it is ready. */
async function startPrometheus(dir: string, jobs: readonly { name: string; targets: readonly string[]; bearer?: string }[]): Promise<{ base: string; log: () => string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const lines = ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:'];
  for (const j of jobs) {
    lines.push(`  - job_name: ${j.name}`);
    if (j.bearer !== undefined) lines.push('    authorization:', '      type: Bearer', `      credentials: '${j.bearer}'`);
    lines.push('    static_configs:', `      - targets: [${j.targets.map((t) => `'${t}'`).join(', ')}]`);
  }
  writeFileSync(join(dir, 'prometheus.yml'), `${lines.join('\n')}\n`);
  let log = '';
  const p = spawn((prom as { path: string }).path, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  p.stdout.on('data', (c: Buffer) => (log += c.toString()));
  p.stderr.on('data', (c: Buffer) => (log += c.toString()));
  await until('Prometheus to be ready', 20_000, async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined));
  return { base, log: () => log };
}

describe.skipIf(!prom.ok || !nats.ok)('Prometheus scraping every component of a cluster', () => {
  it('scrapes the gateway, each shard and each worker on their own listeners, each with its own metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-prom-cluster-'));
    dirs.push(dir);
    const cluster = await clusterUp({
      dataDir: dir, shards: 2, workers: 2, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1, metricsPort: 0,
      insecureSingleTenant: !isolatesTenants(capabilities()), bin: join(import.meta.dirname, '..', 'bin', 'fare.js'), heartbeatMs: 100, memberTimeoutMs: 1000,
      env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY },
    });
    clusters.push(cluster);
    // Each part says where its listener is.
    const listener = (name: string): string => {
      const out = cluster.parts.find((x) => x.name === name)?.output() ?? '';
      const m = /[Mm]etrics: (http:\/\/\S+\/metrics)/.exec(out);
      if (m === null) throw new Error(`${name} printed no metrics listener:\n${out}`);
      return new URL(m[1] as string).host;
    };
    const parts = ['gateway', 'shard-0', 'shard-1', 'worker-0', 'worker-1'];
    const { base, log } = await startPrometheus(dir, parts.map((name) => ({ name, targets: [listener(name)] })));
    try {
      await until('every component to be up', 30_000, async () => {
        const up = await query(base, 'up == 1');
        return new Set(up.map((x) => x.metric.job)).size === parts.length ? true : undefined;
      });
      for (let i = 0; i < 8; i++) {
        const r = await api(cluster.url, 'POST', '/2015-03-31/functions/page-view/invocations', { user: `u${i}` });
        expect(r.status).toBe(200);
      }
      // The gateway: latency per class; the shards: arrivals (by function, so both, or at least one, saw them); the workers: instances.
      await until('the gateway\'s latency count', 20_000, async () => {
        const r = await query(base, 'sum(fare_latency_seconds_count{job="gateway",class="high"})');
        return Number(r[0]?.value[1]) >= 8 ? true : undefined;
      });
      await until('the shards\' arrivals', 20_000, async () => {
        const r = await query(base, 'sum(fare_arrivals_total{job=~"shard-.",class="high"})');
        return Number(r[0]?.value[1]) >= 8 ? true : undefined;
      });
      const queues = await query(base, 'count by (job) (fare_queue_length)');
      expect(queues.map((x) => x.metric.job).sort()).toEqual(['shard-0', 'shard-1']);
      await until('the workers\' instances', 20_000, async () => {
        const r = await query(base, 'sum(fare_instances{job=~"worker-.",class="high"})');
        return Number(r[0]?.value[1]) >= 1 ? true : undefined;
      });
      const preemptions = await query(base, 'count by (job) (fare_preemptions_total)');
      expect(preemptions.map((x) => x.metric.job).sort()).toEqual(['worker-0', 'worker-1']);
      // Each is a process of its own: Node's own metrics, per component.
      const cpu = await query(base, 'count by (job) (process_cpu_seconds_total)');
      expect(cpu.map((x) => x.metric.job).sort()).toEqual([...parts].sort());
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- prometheus:\n${log()}`);
    }
  }, 180_000);
});
