// The cluster's commands as a user runs them: `fare cluster up` prints its endpoint, serves, and stops
// everything it started on Ctrl-C — in a terminal, Ctrl-C reaches it alone and it stops its parts in
// order, letting calls in flight finish; a second Ctrl-C stops them at once; its terminal closing
// stops them as well, and a kill -9 of it leaves none running; mistakes in the parts' options are
// told plainly.

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startFareCluster } from '../support/fare-process.ts';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';
import { sample } from '../src/live/metrics.ts';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED fare cluster up (CLI): ${nats.why}\n`);

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function fare(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Whether something accepts connections at `url`'s host and port. */
function listening(url: URL): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(Number(url.port), url.hostname);
    sock.once('connect', () => {
      sock.destroy();
      done(true);
    });
    sock.once('error', () => done(false));
  });
}

/** util-linux's script, which runs a command in a terminal of its own (a pty), or undefined. */
const script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
if (script === undefined) process.stderr.write('SKIPPED fare cluster up in a closing terminal: util-linux script is not installed (apt-get install bsdutils)\n');

/** The pids of the parts fare cluster up said were up (`part`: only that one's), in its output `text`. */
const partPids = (text: string, part = ''): number[] => [...text.matchAll(new RegExp(`${part}: up \\(pid (\\d+)\\)`, 'g'))].map((m) => Number(m[1]));
/** Where its one NATS server listens, as an http URL (for `listening`). */
const natsUrlOf = (text: string): URL => new URL((/nats: 1 server\(s\) at (nats:\/\/\S+)/.exec(text)?.[1] ?? '').replace('nats:', 'http:'));

/** Waits until none of `pids` runs, or fails saying which still do. */
async function gone(pids: readonly number[], ms: number): Promise<void> {
  const alive = (): number[] => pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  const deadline = Date.now() + ms;
  while (alive().length > 0) {
    if (Date.now() > deadline) throw new Error(`still running after ${ms} ms: pid(s) ${alive().join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Deploys `sleeper` (it waits `ms` of its event, then answers "woke") to the cluster in `dir`
 * serving at `url`, as its admin; returns the admin's auth header.
 */
async function deploySleeper(dir: string, url: string): Promise<Record<string, string>> {
  const cred = /FARE_KEY=(\S+)/.exec(readFileSync(join(dir, 'gateway', 'admin-credential'), 'utf8'))?.[1] ?? '';
  const auth = { Authorization: `Bearer ${cred}` };
  const code = join(dir, 'sleeper');
  mkdirSync(code);
  writeFileSync(join(code, 'index.js'), 'exports.handler = async (e) => { await new Promise((r) => setTimeout(r, e.ms)); return "woke"; };\n');
  const put = await fetch(`${url}/v1/functions/sleeper?runtime=nodejs&handler=index.handler&class=high&timeoutMs=60000`, { method: 'PUT', headers: { ...auth, 'Content-Type': 'application/zip' }, body: zipDirectory(code) });
  expect(put.status, await put.text()).toBeLessThan(300);
  return auth;
}

/** A failed test must not leave fare cluster up (in a process group of its own) running: two Ctrl-Cs stop it at once. */
async function stopAtOnce(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((done) => child.once('exit', done));
  process.kill(-(child.pid as number), 'SIGINT');
  await new Promise((r) => setTimeout(r, 300));
  process.kill(-(child.pid as number), 'SIGINT');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

describe('the cluster commands', () => {
  it('tell what is wrong with their options, and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['shard'], /fare shard needs --id N/],
      [['worker', '--id', '1', '--nats', 'localhost:4222'], /--nats localhost:4222 is not a NATS server URL: give nats:\/\/HOST:PORT/],
      [['gateway'], /fare gateway needs --shards S/],
      [['worker', '--id', '1', '--idle-lists', '2'], /--idle-lists 2 is now --shards 2: idle lists are on by default \(--no-idle-lists turns them off\)/],
      [['worker', '--id', '1', '--shards', '0'], /--shards/],
      [['shard', '--id', '0', '--replicas', '2'], /--replicas 2 is not valid: use 1 .* or 3/],
      [['shard', '--id', '0', '--heartbeat-ms', '1000', '--member-timeout-ms', '1500'], /must be at least twice --heartbeat-ms/],
      [['cluster', 'down'], /fare cluster down is not a command: use fare cluster up/],
      [['cluster', 'up', '--nats-cluster', '2'], /--nats-cluster 2 is not valid: use 1 .* or 3/],
      [['cluster', 'up', '--within-class', 'lifo'], /--within-class lifo is not known: use fcfs, las, sef, ps/],
      [['cluster', 'up', '--policy', 'hermod', '--within-class', 'fcfs'], /--within-class fcfs is Fare's order within a class: it goes with --policy fare, not hermod/],
      [['worker', '--id', '1', '--endpoint', 'gateway:8080'], /--endpoint gateway:8080 is not a gateway address: give http\(s\):\/\/HOST:PORT/],
      [['gateway', '--shards', '1', '--region', 'Mars'], /--region Mars is not a region name/],
      [['shard', '--id', '0', '--metrics-port', 'x'], /--metrics-port x is not a port: give a whole number from 0 to 65535/],
      // --retention as fare up takes it, with its messages.
      [['gateway', '--shards', '1', '--retention', '10s'], /--retention 10s is too short: give at least 1m/],
      [['cluster', 'up', '--retention', '7 days'], /--retention 7 days is not a duration: give a number and a unit, s, m, h or d/],
      // --shutdown-grace as fare up and fare gateway take it.
      [['worker', '--id', '1', '--shutdown-grace', 'soon'], /--shutdown-grace soon is not a duration/],
      [['cluster', 'up', '--shutdown-grace', '1h'], /--shutdown-grace 1h is too long: give at most 15m/],
    ];
    for (const [args, message] of cases) {
      const r = await fare(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    }
  });

  it.skipIf(!nats.ok)('fare cluster up: prints the endpoint, serves, and stops every part on Ctrl-C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-cli-'));
    dirs.push(dir);
    const { child, url, output } = await startFareCluster(['--shards', '1', '--workers', '1', '--port', '0', '--metrics-port', '0', '--data-dir', dir, ...(isolatesTenants(capabilities()) ? [] : ['--insecure-single-tenant'])]);
    const cred = /FARE_KEY=(\S+)/.exec(readFileSync(join(dir, 'gateway', 'admin-credential'), 'utf8'))?.[1] ?? '';
    const r = await fetch(`${url}/2015-03-31/functions/page-view/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${cred}` }, body: '{"user":"ada"}' });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Welcome, ada');
    // What the parts log is printed by fare cluster up as it comes: JSON lines here (not a terminal),
    // each naming its part — the gateway's line for this invocation among them.
    const requestId = r.headers.get('x-amzn-requestid');
    const logged = async (): Promise<Record<string, unknown> | undefined> => {
      for (let i = 0; i < 50; i++) {
        const lines = output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
        const line = lines.find((l) => l.kind === 'invocation' && l.id === requestId);
        if (line !== undefined) return line;
        await new Promise((res) => setTimeout(res, 100));
      }
      return undefined;
    };
    expect(await logged()).toMatchObject({ part: 'gateway', partId: 0, function: 'page-view', status: 'ok', msg: 'invocation' });
    // Every part serves its metrics (--metrics-port 0: each on a free port, said in its line): the
    // shard counted the arrival, the worker has the instance, the gateway observed the latency.
    const metricsOf = (part: string): string => new RegExp(`${part}: up \\(pid \\d+\\), metrics at (http://\\S+)`).exec(output())?.[1] ?? `no metrics line for ${part}`;
    const shardText = await (await fetch(metricsOf('shard-0'))).text();
    expect(sample(shardText, 'fare_arrivals_total', { shard: '0', class: 'high' })).toBe(1);
    const workerText = await (await fetch(metricsOf('worker-0'))).text();
    const highInstances = ['running', 'frozen', 'idle', 'swapped'].map((state) => sample(workerText, 'fare_instances', { machine: '0', class: 'high', state }) ?? 0);
    expect(highInstances.reduce((a, b) => a + b, 0)).toBe(1);
    const gatewayText = await (await fetch(metricsOf('gateway'))).text();
    expect(sample(gatewayText, 'fare_latency_seconds_count', { class: 'high' })).toBe(1);
    // The gateway's own port answers administrators too.
    expect((await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${cred}` } })).status).toBe(200);
    const pids = partPids(output());
    expect(pids).toHaveLength(3); // shard, worker, gateway
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // Every part it started is gone, and so is its nats-server (nothing listens at its address).
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    const natsUrl = natsUrlOf(output());
    expect(await listening(natsUrl)).toBe(false);
  }, 120_000);

  it.skipIf(!nats.ok)('fare cluster up in a terminal: Ctrl-C lets a call in flight go on, a second Ctrl-C stops every part at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-cli-'));
    dirs.push(dir);
    // In a process group of its own, as a terminal runs it: its Ctrl-C signals the whole group.
    const { child, url, output } = await startFareCluster(['--shards', '1', '--workers', '1', '--port', '0', '--data-dir', dir, '--no-stem-cells', ...(isolatesTenants(capabilities()) ? [] : ['--insecure-single-tenant'])], undefined, undefined, true);
    const ctrlC = (): void => {
      process.kill(-(child.pid as number), 'SIGINT');
    };
    try {
      const auth = await deploySleeper(dir, url);
      // A call that would hold the first stop: the gateway and the worker let it finish (for up to the grace, 30 s by default).
      const call = fetch(`${url}/2015-03-31/functions/sleeper/invocations`, { method: 'POST', headers: auth, body: JSON.stringify({ ms: 45_000 }) }).then((r) => r.status, () => 0);
      const pids = partPids(output());
      // Time for it to start (a cold start of a few hundred ms at most).
      await new Promise((r) => setTimeout(r, 2000));
      const natsUrl = natsUrlOf(output());
      const exited = new Promise<number | null>((done) => child.once('exit', done));
      const t0 = Date.now();
      ctrlC();
      await new Promise((r) => setTimeout(r, 1500));
      // The parts heard it from fare cluster up alone (their own process groups): the worker drains
      // the call and the gateway waits for its answer — neither was cut (the shard, with nothing to
      // wait for, may be gone).
      expect(child.exitCode, 'the first Ctrl-C waits for the call in flight').toBeNull();
      expect(output()).toContain('(again to stop at once)');
      for (const part of ['worker-0', 'gateway']) {
        const pid = Number(new RegExp(`${part}: up \\(pid (\\d+)\\)`).exec(output())?.[1]);
        expect(() => process.kill(pid, 0), `${part} (pid ${pid}) stopped at the first Ctrl-C`).not.toThrow();
      }
      // NATS too, which the parts need while they drain (it stops after them).
      expect(await listening(natsUrl)).toBe(true);
      ctrlC();
      expect(await exited).toBe(0);
      // Well before the 30 s the first stop gives its parts (and the 45 s the call wanted).
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(output()).toContain('Fare cluster is stopping now, without waiting.');
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
      // The caller is told (its connection is cut, or it is answered with an error), never left hanging.
      expect(await call).not.toBe(200);
    } finally {
      await stopAtOnce(child);
    }
  }, 120_000);

  it.skipIf(!nats.ok)('fare cluster up --shutdown-grace 20s: Ctrl-C lets a 12 s call finish and be answered, then every part and NATS stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-cli-'));
    dirs.push(dir);
    const { child, url, output } = await startFareCluster(['--shards', '1', '--workers', '1', '--port', '0', '--data-dir', dir, '--no-stem-cells', '--shutdown-grace', '20s', ...(isolatesTenants(capabilities()) ? [] : ['--insecure-single-tenant'])], undefined, undefined, true);
    try {
      const auth = await deploySleeper(dir, url);
      // Longer than what fare cluster up gave its parts before (the gateway 8 s, each part 10 s), within the grace asked for.
      const call = fetch(`${url}/2015-03-31/functions/sleeper/invocations`, { method: 'POST', headers: auth, body: JSON.stringify({ ms: 12_000 }) })
        .then(async (r) => ({ status: r.status, body: await r.text() }), (e: Error) => ({ status: 0, body: e.message }));
      const pids = partPids(output());
      await new Promise((r) => setTimeout(r, 1500));
      const natsUrl = natsUrlOf(output());
      const exited = new Promise<number | null>((done) => child.once('exit', done));
      process.kill(-(child.pid as number), 'SIGINT');
      expect(await call).toEqual({ status: 200, body: '"woke"' });
      expect(await exited).toBe(0);
      expect(output()).toContain('each for up to 20s');
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
      expect(await listening(natsUrl)).toBe(false);
    } finally {
      await stopAtOnce(child);
    }
  }, 120_000);

  it.skipIf(!nats.ok)('fare cluster up killed (kill -9): every part and its NATS server stop too, nothing left listening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-cli-'));
    dirs.push(dir);
    const { child, url, output } = await startFareCluster(['--shards', '1', '--workers', '1', '--port', '0', '--data-dir', dir, '--no-stem-cells', ...(isolatesTenants(capabilities()) ? [] : ['--insecure-single-tenant'])], undefined, undefined, true);
    const pids = partPids(output());
    expect(pids).toHaveLength(3);
    const natsUrl = natsUrlOf(output());
    try {
      process.kill(child.pid as number, 'SIGKILL');
      // Its parts hear it through their stdin (its end closed with it), NATS from the kernel (a
      // parent-death signal): they stopped in a few seconds (they ran on for ever, port held, before).
      await gone(pids, 20_000);
      expect(await listening(natsUrl)).toBe(false);
      expect(await listening(new URL(url))).toBe(false);
    } finally {
      for (const pid of pids) killQuietly(pid);
    }
  }, 120_000);

  it.skipIf(!nats.ok || script === undefined)('fare cluster up in a terminal that closes (SIGHUP): it stops every part, then NATS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-cli-'));
    dirs.push(dir);
    // A real terminal: util-linux's script gives the command a pty; killing script closes its master
    // side, and the kernel hangs up the command's session (SIGHUP), as when a terminal window closes.
    const command = [process.execPath, BIN, 'cluster', 'up', '--shards', '1', '--workers', '1', '--port', '0', '--data-dir', dir, '--no-stem-cells', ...(isolatesTenants(capabilities()) ? [] : ['--insecure-single-tenant'])];
    const term = spawn(script as string, ['-qfec', command.map((a) => `'${a}'`).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    let pids: number[] = [];
    term.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    term.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    try {
      const deadline = Date.now() + 60_000;
      while (!/Fare cluster is up: (http:\/\/\S+)/.test(out)) {
        if (Date.now() > deadline || term.exitCode !== null) throw new Error(`fare cluster up did not start in its terminal:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const url = new URL(/Fare cluster is up: (http:\/\/\S+)/.exec(out)?.[1] as string);
      pids = partPids(out);
      const cluster = Number(/^\s*(\d+)/.exec(execFileSync('ps', ['-o', 'pid=', '--ppid', String(term.pid)], { encoding: 'utf8' }))?.[1]);
      expect(pids).toHaveLength(3);
      const natsUrl = natsUrlOf(out);
      process.kill(term.pid as number, 'SIGKILL');
      await gone([cluster, ...pids], 20_000);
      expect(await listening(natsUrl)).toBe(false);
      expect(await listening(url)).toBe(false);
    } finally {
      killQuietly(-(term.pid as number));
      for (const pid of pids) killQuietly(pid);
    }
  }, 120_000);
  it.skipIf(!nats.ok)('fare cluster up starts a part that crashed again: a worker killed with kill -9 is back, and serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-cli-'));
    dirs.push(dir);
    const { child, url, output } = await startFareCluster(['--shards', '1', '--workers', '1', '--port', '0', '--data-dir', dir, '--no-stem-cells', ...(isolatesTenants(capabilities()) ? [] : ['--insecure-single-tenant'])], undefined, undefined, true);
    const pids = (): number[] => partPids(output(), 'worker-0');
    try {
      const cred = /FARE_KEY=(\S+)/.exec(readFileSync(join(dir, 'gateway', 'admin-credential'), 'utf8'))?.[1] ?? '';
      const call = async (): Promise<number> => (await fetch(`${url}/2015-03-31/functions/page-view/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${cred}` }, body: '{"user":"ada"}' })).status;
      expect(await call()).toBe(200);
      const [first] = pids();
      process.kill(first as number, 'SIGKILL');
      for (let i = 0; i < 300 && pids().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect(output()).toMatch(/worker-0: exited \(SIGKILL\); starting it again in 1 s/);
      expect(pids(), output()).toHaveLength(2);
      // The new worker serves (the shard hears it within its membership timeout; calls meanwhile may wait for it).
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = await call();
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
      const exited = new Promise<number | null>((done) => child.once('exit', done));
      process.kill(child.pid as number, 'SIGINT');
      expect(await exited).toBe(0);
      await gone(pids(), 10_000);
    } finally {
      killQuietly(-(child.pid as number));
      for (const pid of pids()) killQuietly(pid);
    }
  }, 120_000);
  it.skipIf(!nats.ok)('fare cluster up whose gateway cannot start (its port in use) says why, exits 2, and leaves nothing running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-cluster-cli-'));
    dirs.push(dir);
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await fare('cluster', 'up', '--shards', '1', '--workers', '1', '--port', String(port), '--data-dir', dir, '--no-stem-cells', ...(isolatesTenants(capabilities()) ? [] : ['--insecure-single-tenant']));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`fare: gateway exited \\(2\\) before it was ready: port ${port} on 127.0.0.1 is in use .*\\(FARE_E_PORT_IN_USE\\)`));
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /); // no stack trace
      const pids = partPids(r.stdout);
      expect(pids.length).toBeGreaterThan(0); // the shard and the worker had started
      await gone(pids, 10_000);
      const natsUrl = natsUrlOf(r.stdout);
      expect(await listening(natsUrl)).toBe(false);
    } finally {
      taken.close();
    }
  }, 120_000);
});
