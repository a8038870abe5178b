// Stem cells on a cluster's workers (`fare worker`, src/live/worker/stem-upkeep.ts), as on `fare up`
// (stem-cells.test.ts): the worker says it keeps them, counts them in its metrics (fare_stem_cells),
// serves a function's first call from one, and kills those not taken when it stops; `fare cluster up
// --no-stem-cells` turns them off, and every cold start launches its runtime; a worker whose start fails
// after its stem cells were started (its metrics port in use) stops them and exits. Real processes: a
// nats-server, a shard, a worker and a gateway, each its own `fare` process.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { findNatsServer, startNatsCluster } from '../src/live/cluster/nats-server.ts';
import { clusterUp } from '../src/live/cluster/up.ts';
import { sample } from '../src/live/metrics.ts';
import { ADMIN_KEY, startFareCluster } from '../support/fare-process.ts';
import { exitCodeWithin } from '../support/wait.ts';
import { cannotAttack, zipOf } from './security/harness.ts';

const nats = findNatsServer();
// Stem cells need the instance sandbox (root, its helper), as on fare up.
const skip = !nats.ok ? nats.why : cannotAttack();
if (skip !== null) process.stderr.write(`SKIPPED the cluster's stem cell tests: ${skip}\n`);

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Probe {
  readonly stem: boolean;
  readonly greeting: string | null;
}

/** Deploys the probe (security/functions/stem-probe), then calls it once and returns what it says of its birth. */
async function deployAndCall(url: string, name: string): Promise<Probe> {
  const put = await fetch(`${url}/v1/functions/${name}`, {
    method: 'PUT', headers: { ...AUTH, 'Content-Type': 'application/json' },
    body: JSON.stringify({ class: 'standard', runtime: 'nodejs', handler: 'index.handler', timeoutMs: 30_000, env: { GREETING: `hello from ${name}` }, zipBase64: zipOf('stem-probe').toString('base64') }),
  });
  expect(put.status, await put.text()).toBeLessThan(300);
  const r = await fetch(`${url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', headers: AUTH, body: '{}' });
  const text = await r.text();
  expect(r.status, text).toBe(200);
  return JSON.parse(text) as Probe;
}

/** Stem cells of nodejs on worker 0, by state, from its metrics. */
async function stemCells(metricsUrl: string, state: 'ready' | 'starting'): Promise<number | undefined> {
  return sample(await (await fetch(metricsUrl)).text(), 'fare_stem_cells', { machine: '0', runtime: 'nodejs', state });
}

/** Processes that began as a stem cell (FARE_STEM=1 in the environment they were started with) below `root`. */
function stemProcessesUnder(root: number): number[] {
  const parentOf = (pid: number): number => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return 0;
    }
  };
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!env.split('\0').includes('FARE_STEM=1')) continue;
    for (let p = parentOf(pid); p > 1; p = parentOf(p)) {
      if (p === root) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(skip !== null)("a cluster's stem cells", () => {
  it('a worker keeps them as fare up does: says so, counts them, serves a cold start from one, and kills the rest when it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-stem-'));
    dirs.push(dir);
    const lines: string[] = [];
    const cluster = await clusterUp({
      dataDir: dir, shards: 1, workers: 1, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1,
      insecureSingleTenant: false, bin: BIN, heartbeatMs: 100, memberTimeoutMs: 1000, metricsPort: 0,
      env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, log: (l) => lines.push(l),
    });
    const worker = cluster.parts.find((p) => p.name === 'worker-0');
    let closed = false;
    try {
      expect(worker?.output()).toMatch(/stem cells: nodejs, python — runtimes started ahead/);
      const metricsUrl = /worker-0: up \(pid \d+\), metrics at (\S+)/.exec(lines.join('\n'))?.[1] ?? 'no metrics line for worker-0';
      // The worker adjusts them every second: one is ready soon after the start.
      while (((await stemCells(metricsUrl, 'ready')) ?? 0) === 0) await new Promise((r) => setTimeout(r, 50));
      const probe = await deployAndCall(cluster.url, 'probe');
      expect(probe).toEqual(expect.objectContaining({ stem: true, greeting: 'hello from probe' }));
      // The cell taken is refilled (1 + those taken in the last 10 s: two of them now).
      const workerPid = worker?.child.pid ?? 0;
      while (stemProcessesUnder(workerPid).length < 2) await new Promise((r) => setTimeout(r, 50));
      const cells = stemProcessesUnder(workerPid);
      closed = true;
      await cluster.close();
      // The worker stopped on SIGTERM by itself (not killed 10 s later), and no stem cell outlived it.
      expect(worker?.child.signalCode).toBeNull();
      expect(worker?.child.exitCode).toBe(0);
      // Killed as the worker stopped (their exit is seen a moment later).
      for (const until = Date.now() + 5000; cells.some(alive) && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
      expect(cells.filter(alive)).toEqual([]);
    } finally {
      if (!closed) await cluster.close();
    }
  });

  it('fare cluster up --no-stem-cells: the workers keep none, and a cold start launches its runtime', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-nostem-'));
    dirs.push(dir);
    const { child, url, output } = await startFareCluster(['--shards', '1', '--workers', '1', '--port', '0', '--metrics-port', '0', '--no-stem-cells', '--data-dir', dir], { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY });
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    try {
      const metricsUrl = /worker-0: up \(pid \d+\), metrics at (\S+)/.exec(output())?.[1] ?? 'no metrics line for worker-0';
      const probe = await deployAndCall(url, 'plain');
      expect(probe).toEqual(expect.objectContaining({ stem: false, greeting: 'hello from plain' }));
      const text = await (await fetch(metricsUrl)).text();
      const instances = ['running', 'frozen', 'idle', 'swapped'].map((state) => sample(text, 'fare_instances', { machine: '0', class: 'standard', state }) ?? 0);
      expect(instances.reduce((x, y) => x + y, 0)).toBe(1); // the worker's metrics…
      expect(await stemCells(metricsUrl, 'ready')).toBeUndefined(); // …and no stem cells among them
      expect(await stemCells(metricsUrl, 'starting')).toBeUndefined();
    } finally {
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

  it('a worker whose start fails part-way (its metrics port in use) stops its stem cells and exits at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-stemfail-'));
    dirs.push(dir);
    const [server] = await startNatsCluster(join(dir, 'nats'), 1);
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
    const address = busy.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const child = spawn(process.execPath, [BIN, 'worker', '--id', '0', '--nats', server?.url ?? '', '--cores', '1', '--metrics-port', String(port), '--data-dir', join(dir, 'worker')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      // Its stem cells are started before the metrics listener: they are why it would stay up.
      const cells = new Set<number>();
      const watching = setInterval(() => {
        for (const pid of stemProcessesUnder(child.pid ?? 0)) cells.add(pid);
      }, 10);
      const code = await exitCodeWithin(child, 30_000);
      clearInterval(watching);
      expect(code, out).toBe(2);
      expect(out).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use .*FARE_E_PORT_IN_USE`));
      for (const until = Date.now() + 5000; [...cells].some(alive) && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
      expect([...cells].filter(alive)).toEqual([]);
    } finally {
      busy.close();
      await server?.stop();
    }
  });
});
