// `npm run bench:cluster` (and the last part of `npm run bench`): the cluster's control plane and its
// cost on the data path, on this machine, through a real nats-server.
//
// 1. Placement decisions per second of one shard (the core, one process): with 1,000 workers on its
//    idle list, and with an empty idle list (power-of-k, k = 2, the answers coming over NATS from
//    1,000 emulated workers in another process).
// 2. Scheduling latency, gateway receives → worker starts the instance, p50/p99, with 2 shards and 8
//    emulated workers (MachineDriver over an Executor that starts nothing) in their own processes,
//    open loop at 1,000 and 5,000 invocations/s: as the cluster runs by default (the workers on the
//    shards' idle lists: gateway → shard → worker) and with power-of-k only (a poll round trip to two
//    workers between). Times from CLOCK_MONOTONIC (process.hrtime), which all processes share.
//    Next to it, the floor: one bare NATS round trip between two processes at the same rate. And
//    the default again with the parts real-time (`--realtime`: the shards, the workers, this process
//    and the NATS server under SCHED_RR; root only), `schedulingRealtime`.
// 3. Instance starts per second the control plane sustains with those emulated workers (closed loop).
// 4. Warm empty-function latency through `fare cluster up` (1 shard, 1 worker; and the same with
//    --realtime, root only) against `fare up`, rounds in rotating order in the same run; throughput
//    with 2 shards × 4 workers against `fare up`.
//
// Writes bench/results/cluster-<time>.json and cluster-latest.json. `--quick`: shorter phases;
// `--only=placement|scheduling|live`: one part, printed only.
// Child modes (used by the bench itself): `--child shards N URL [idle]` and `--child workers N URL [poll-only|idle]`.

import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_PRICE_TABLE } from '../src/core/classes.ts';
import { Rng } from '../src/core/rng.ts';
import { Shard } from '../src/core/shard/shard.ts';
import { Machine } from '../src/core/machine/machine.ts';
import { policyPreset, shardSettings } from '../src/core/presets.ts';
import { gatewayAddress, machineAddress, shardAddress, type Message } from '../src/core/protocol.ts';
import { NatsBus } from '../src/live/transport/nats.ts';
import { realClock } from '../src/live/transport/clock.ts';
import { ShardHost } from '../src/live/shard/shard-host.ts';
import { MachineDriver, type Executor } from '../src/live/worker/machine-driver.ts';
import { SchedulerClient } from '../src/live/gateway/scheduler-client.ts';
import { startNatsServer, type NatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp } from '../src/live/cluster/up.ts';
import { goRealtime } from '../src/live/cluster/realtime.ts';
import { schedSetter } from '../src/live/runtime/priority.ts';
import { invokeOnce, percentile, type Target } from '../src/cli/loadgen.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';
import type { FunctionSpec, InvokeOutcome } from '../src/live/types.ts';
import { ADMIN_KEY, startFare, stopFare } from '../support/fare-process.ts';
import { deployFunction } from './fare-bench.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
/** `--only placement|scheduling|live`: that part alone, printed as JSON (no results file). */
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
if (only !== undefined && !['placement', 'scheduling', 'live'].includes(only)) {
  process.stderr.write(`--only=${only}: use --only=placement, --only=scheduling or --only=live\n`);
  process.exit(2);
}
const nowNs = (): bigint => process.hrtime.bigint();

if (args[0] === '--child') {
  await child(args[1] as string, Number(args[2]), args[3] as string, args[4] === 'poll-only', args[4] === 'idle');
} else {
  await main();
}

/** A child process: `shards` (ShardHosts) or `workers` (emulated), on their own NATS connection. */
async function child(kind: string, n: number, url: string, pollOnly: boolean, idle: boolean): Promise<void> {
  const nc = await connect({ servers: url });
  if (kind === 'echo') {
    // The floor: a bare NATS message answered by another process, nothing of Fare's in between.
    nc.subscribe('bench.ping', { callback: (_e, m) => nc.publish('bench.pong', m.data) });
    await nc.flush();
    process.send?.('ready');
    return;
  }
  const bus = new NatsBus(nc, { prefix: 'bench' });
  const preset = policyPreset('fare', { idleList: idle });
  if (kind === 'shards') {
    for (let i = 0; i < n; i++) {
      const s = new Shard({ id: i, prices: DEFAULT_PRICE_TABLE, ...shardSettings(preset, { k: 2 }), machines: Number(process.env.BENCH_MACHINES ?? 8), maxOutstandingPolls: 4096, pollTimeoutMs: 1000 }, new Rng(i, `bench/shard/${i}`));
      new ShardHost(s, bus, realClock);
    }
  } else if (pollOnly) {
    // Emulated workers that only answer polls (a load from 0 to 3) and count placements.
    let placed = 0;
    for (let i = 0; i < n; i++) {
      const me = machineAddress(i);
      bus.listen(me, (m: Message) => {
        if (m.kind === 'poll') bus.send({ kind: 'poll-answer', from: me, to: m.from, poll: m.poll, jobs: (m.poll + i) & 3 });
        else if (m.kind === 'place') placed++;
      });
    }
    setInterval(() => process.send?.({ placed }), 200).unref();
  } else {
    // Emulated workers: the real machine scheduler and worker driver over an Executor that starts
    // nothing; the outcome carries when the instance would have started.
    for (let i = 0; i < n; i++) {
      const exec: Executor = {
        run: (req) => {
          const startedNs = nowNs();
          const o: InvokeOutcome = { status: 'ok', payload: Buffer.from(String(startedNs)), durationMs: 0, cpuMs: 0, memGBs: 0, maxMemMB: 0, coldStart: false, initMs: 0, logs: '' };
          req.onAnswer?.({ status: 'ok', payload: o.payload });
          return Promise.resolve(o);
        },
        pause: () => {},
        resume: () => {},
      };
      // With idle lists: 64 GB each, joining the emptiest of the 2 shards' lists with the worker's marks.
      const memoryMB = idle ? 65_536 : Infinity;
      const dispatcher = idle ? { shards: 2, k: 2, joinFreeMB: memoryMB / 2, leaveFreeMB: memoryMB / 4, updateDeltaMB: memoryMB / 10, pollTimeoutMs: 200 } : undefined;
      const m = new Machine({ id: i, cores: 64, policy: preset.machine, classes: DEFAULT_PRICE_TABLE.classes.length, memoryMB, swap: { enabled: false, targetFraction: 0.95 }, dispatcher }, new Rng(i, `bench/machine/${i}`));
      new MachineDriver(m, exec, bus, realClock, undefined, undefined, true).start();
    }
  }
  await nc.flush();
  if (process.env.BENCH_REALTIME === '1') {
    // As `fare shard --realtime` / `fare worker --realtime` run, once their threads exist.
    const r = await goRealtime(DEFAULT_PRICE_TABLE.classes.length);
    if (!r.ok) throw new Error(r.line);
  }
  process.send?.('ready');
}

/**
 * Runs `phase` with the NATS server and this process (the gateway) under the parts' real-time
 * priority, as `fare cluster up --realtime` runs them (the phase's children raise themselves), and
 * puts both back after; or says why it could not (not root).
 */
async function realtimePhase(server: NatsServer, phase: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const classes = DEFAULT_PRICE_TABLE.classes.length;
  const pid = server.child.pid as number;
  const nats = await goRealtime(classes, pid, false);
  if (!nats.ok) return { skipped: nats.line };
  const self = await goRealtime(classes);
  try {
    if (!self.ok) return { skipped: self.line };
    return { ...(await phase()), scheduling: self.line };
  } finally {
    const sched = schedSetter();
    for (const p of [pid, process.pid]) for (const t of readdirSync(`/proc/${p}/task`)) sched?.(Number(t), 'normal', 0);
  }
}

function spawnChild(kind: string, n: number, url: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ReturnType<typeof fork>> {
  const c = fork(new URL(import.meta.url).pathname, ['--child', kind, String(n), url, ...extra], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env } });
  return new Promise((done, fail) => {
    c.once('message', (m) => (m === 'ready' ? done(c) : fail(new Error(JSON.stringify(m)))));
    c.once('exit', (code) => fail(new Error(`bench child ${kind} exited (${String(code)})`)));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fare-bench-cluster-'));
  const results: Record<string, unknown> = { quick };
  let server: NatsServer | undefined;
  try {
    server = await startNatsServer({ dir, name: 'bench' });
    if (only === undefined || only === 'placement') results.placement = await placementRate(server.url);
    if (only === undefined || only === 'scheduling') {
      results.scheduling = await schedulingLatency(server.url, true);
      const url = server.url;
      results.schedulingRealtime = await realtimePhase(server, () => schedulingLatency(url, true, true));
      results.schedulingPowerOfK = await schedulingLatency(server.url, false);
    }
    await server.stop();
    server = undefined;
    if (only === undefined || only === 'live') results.live = await liveComparison(dir);
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const text = `${JSON.stringify(results, null, 2)}\n`;
  if (only !== undefined) {
    // One part alone: printed, not written over the whole run's results.
    process.stdout.write(text);
    return;
  }
  writeFileSync(join(out, `cluster-${stamp}.json`), text);
  writeFileSync(join(out, 'cluster-latest.json'), text);
  process.stdout.write(`${table(results)}\nwrote bench/results/cluster-${stamp}.json\n`);
}

/** 1. Placements per second of one shard: idle list (core only), and power-of-k over NATS. */
async function placementRate(url: string): Promise<Record<string, unknown>> {
  const preset = policyPreset('fare', { idleList: true });
  const machines = 1000;
  const s = new Shard({ id: 0, prices: DEFAULT_PRICE_TABLE, selection: preset.selection, machines, k: 2, useIdleList: true, maxOutstandingPolls: 64 }, new Rng(1, 'bench/idle'));
  const from = gatewayAddress(0), to = shardAddress(0);
  for (let m = 0; m < machines; m++) s.step(0, { kind: 'idle-join', from: machineAddress(m), to, freeMB: 4096, jobs: 0 });
  s.advance();
  const n = quick ? 200_000 : 1_000_000;
  const rates: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      s.step(i, { kind: 'arrive', from, to, job: { id: i, cls: i & 3, arrival: i, fn: i } });
      // The machine's update a moment later (its jobs go back down), as a dispatcher would send.
      const d = s.ready()[0];
      s.advance();
      if (d?.kind === 'place') s.step(i, { kind: 'idle-update', from: d.to, to, freeMB: 4096, jobs: 0 });
      s.advance();
    }
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  const idleList = { machines, decisionsPerSec: percentile(rates, 0.5), note: 'core Shard, one process; each placement followed by the machine\'s idle-list update' };

  // Power-of-k over NATS: the shard here, 1,000 emulated workers answering polls in another process.
  const workers = await spawnChild('workers', machines, url, ['poll-only']);
  let placed = 0;
  workers.on('message', (m) => {
    if (typeof m === 'object' && m !== null && 'placed' in m) placed = (m as { placed: number }).placed;
  });
  const nc = await connect({ servers: url });
  const bus = new NatsBus(nc, { prefix: 'bench' });
  const shard = new Shard({ id: 0, prices: DEFAULT_PRICE_TABLE, selection: preset.selection, machines, k: 2, useIdleList: false, maxOutstandingPolls: 512, pollTimeoutMs: 1000 }, new Rng(2, 'bench/pok'));
  new ShardHost(shard, bus, realClock);
  const seconds = quick ? 2 : 5;
  const stopAt = performance.now() + seconds * 1000;
  let sent = 0;
  // Keep the shard's queue fed (arrivals in bursts, a bounded backlog).
  while (performance.now() < stopAt) {
    for (let i = 0; i < 200; i++) bus.send({ kind: 'arrive', from: gatewayAddress(0), to: shardAddress(0), job: { id: sent++, cls: sent & 3, arrival: 0, fn: sent } });
    await nc.flush();
    while (sent - placed > 4000 && performance.now() < stopAt) await new Promise((r) => setTimeout(r, 5));
  }
  const placed0 = placed;
  await new Promise((r) => setTimeout(r, 400));
  workers.kill();
  await nc.close();
  const powerOfK = { machines, k: 2, seconds, decisionsPerSec: placed0 / seconds, note: 'shard in this process, 1,000 emulated workers answering polls in another, over one nats-server' };
  return { idleList, powerOfK };
}

/**
 * The floor under the scheduling latency on this machine: one NATS round trip between two processes
 * (a message out, its echo back) at 1,000/s, open loop, as the latency runs are paced. A job's
 * path crosses NATS at least twice (gateway → shard → worker), four times when the shard polls.
 */
async function natsRoundTrip(url: string): Promise<Record<string, unknown>> {
  const echo = await spawnChild('echo', 1, url);
  const nc = await connect({ servers: url });
  const sent = new Map<number, bigint>();
  const lat: number[] = [];
  nc.subscribe('bench.pong', {
    callback: (_e, m) => {
      const t = sent.get(Number(m.string()));
      if (t !== undefined) lat.push(Number(nowNs() - t) / 1e6);
    },
  });
  await nc.flush();
  const total = quick ? 2000 : 5000;
  const t0 = performance.now();
  for (let k = 0; k < total; k++) {
    const wait = t0 + k - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sent.set(k, nowNs());
    nc.publish('bench.ping', String(k));
  }
  await new Promise((r) => setTimeout(r, 300));
  await nc.close();
  echo.kill();
  return { perSec: 1000, messages: lat.length, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
}

/**
 * 2 and 3. Gateway → instance start latency, and starts per second, with emulated workers: on the
 * shards' idle lists (`idle`, the cluster's default) or placed by power-of-k only; `realtime`: the
 * shards and workers under the parts' real-time priority (`--realtime`; see realtimePhase).
 */
async function schedulingLatency(url: string, idle: boolean, realtime = false): Promise<Record<string, unknown>> {
  const floor = idle ? undefined : await natsRoundTrip(url);
  const mode = idle ? ['idle'] : [];
  const rt = realtime ? { BENCH_REALTIME: '1' } : {};
  const shards = await spawnChild('shards', 2, url, mode, { BENCH_MACHINES: '8', ...rt });
  const workers = await spawnChild('workers', 8, url, mode, rt);
  const nc: NatsConnection = await connect({ servers: url });
  const bus = new NatsBus(nc, { prefix: 'bench' });
  const gw = new SchedulerClient(bus, realClock, { id: 0, shards: 2, shardChoice: 'by-function' });
  const fn = (i: number): FunctionSpec => ({ tenant: 't', name: `f${i & 15}`, runtime: 'nodejs', handler: 'index.handler', cls: 'high', codeDir: '/x', version: 1, timeoutMs: 30_000, env: {} });
  const one = async (i: number): Promise<number> => {
    const sentNs = nowNs();
    const o = await gw.invoke({ fn: fn(i), requestId: `r${i}`, payload: Buffer.alloc(0), cls: i & 3 }, i & 15);
    return Number(BigInt(o.payload.toString()) - sentNs) / 1e6;
  };
  // Warm-up.
  for (let i = 0; i < 2000; i++) await one(i);
  const out: Record<string, unknown> = {};
  let id = 10_000;
  for (const rate of [1000, 5000]) {
    const seconds = quick ? 2 : 5;
    const lat: number[] = [];
    const pending: Promise<void>[] = [];
    const t0 = performance.now();
    const total = rate * seconds;
    for (let k = 0; k < total; k++) {
      const due = t0 + (k * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      pending.push(one(id++).then((ms) => void lat.push(ms)));
    }
    await Promise.all(pending);
    const achieved = total / ((performance.now() - t0) / 1000);
    out[`open${rate}`] = { offeredPerSec: rate, achievedPerSec: Math.round(achieved), p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), calls: lat.length };
  }
  // Closed loop: as many starts per second as the control plane sustains.
  const conc = 256, seconds = quick ? 2 : 5;
  let done = 0;
  const stopAt = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (performance.now() < stopAt) {
      await one(id++);
      done++;
    }
  }));
  if (floor !== undefined) out.natsRoundTrip = floor;
  out.startsPerSec = { concurrency: conc, seconds, perSec: Math.round(done / seconds), note: '2 shards and 8 emulated workers, each group its own process; the gateway in this one' };
  gw.close();
  await nc.close();
  shards.kill();
  workers.kill();
  return out;
}

/** 4. Warm latency through the cluster against fare up, alternating; throughput 2 × 4 against fare up. */
async function liveComparison(dir: string): Promise<Record<string, unknown>> {
  const calls = quick ? 500 : 2000;
  const rounds = quick ? 3 : 5;
  const upDir = join(dir, 'up');
  const fare = await startFare(upDir, ['--no-examples']);
  const insecure = !isolatesTenants(capabilities());
  const env = { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY };
  const small = await clusterUp({ dataDir: join(dir, 'c1'), shards: 1, workers: 1, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1, insecureSingleTenant: insecure, bin: join(import.meta.dirname, '..', 'bin', 'fare.js'), env });
  // The same cluster with its parts and NATS server real-time (`--realtime`; root only).
  const root = process.getuid?.() === 0;
  const smallRt = root ? await clusterUp({ dataDir: join(dir, 'c1rt'), shards: 1, workers: 1, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1, insecureSingleTenant: insecure, bin: join(import.meta.dirname, '..', 'bin', 'fare.js'), env, realtime: true }) : undefined;
  const targets: Record<string, Target> = { up: { url: fare.url, key: ADMIN_KEY }, cluster: { url: small.url, key: ADMIN_KEY }, ...(smallRt !== undefined ? { clusterRealtime: { url: smallRt.url, key: ADMIN_KEY } } : {}) };
  const names = Object.keys(targets);
  const out: Record<string, unknown> = {};
  try {
    for (const t of Object.values(targets)) {
      await deployFunction(t.url, 'empty', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' });
      for (let i = 0; i < 300; i++) await invokeOnce(t, 'empty', '{}');
    }
    const p50: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []])), p99: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      // Each round in another order (a rotation), so that no target always goes first.
      for (const name of names.map((_, i) => names[(i + r) % names.length] as string)) {
        const lat: number[] = [];
        for (let i = 0; i < calls; i++) lat.push((await invokeOnce(targets[name] as Target, 'empty', '{}')).ms);
        p50[name]?.push(percentile(lat, 0.5));
        p99[name]?.push(percentile(lat, 0.99));
      }
    }
    const med = (xs: number[] | undefined): number => percentile(xs ?? [], 0.5);
    out.warm = {
      calls, rounds,
      up: { p50Ms: med(p50.up), p99Ms: med(p99.up) },
      cluster: { p50Ms: med(p50.cluster), p99Ms: med(p99.cluster) },
      addedP50Ms: med(p50.cluster) - med(p50.up),
      ...(smallRt !== undefined
        ? { clusterRealtime: { p50Ms: med(p50.clusterRealtime), p99Ms: med(p99.clusterRealtime) }, addedP50MsRealtime: med(p50.clusterRealtime) - med(p50.up) }
        : { clusterRealtime: { skipped: 'needs root to run the parts under SCHED_RR' } }),
    };
  } finally {
    await small.close();
    await smallRt?.close();
  }
  const big = await clusterUp({ dataDir: join(dir, 'c2'), shards: 2, workers: 4, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1, insecureSingleTenant: insecure, bin: join(import.meta.dirname, '..', 'bin', 'fare.js'), env });
  try {
    const t: Target = { url: big.url, key: ADMIN_KEY };
    await deployFunction(t.url, 'empty', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' });
    for (let i = 0; i < 300; i++) await invokeOnce(t, 'empty', '{}');
    const throughput = async (x: Target): Promise<number> => {
      const seconds = quick ? 3 : 8, conc = 16;
      let done = 0;
      const stopAt = performance.now() + seconds * 1000;
      await Promise.all(Array.from({ length: conc }, async () => {
        while (performance.now() < stopAt) if ((await invokeOnce(x, 'empty', '{}')).ok) done++;
      }));
      return done / seconds;
    };
    const up1 = await throughput(targets.up as Target);
    const c = await throughput(t);
    const up2 = await throughput(targets.up as Target);
    const upMean = (up1 + up2) / 2;
    out.throughput = { concurrency: 16, upPerSec: Math.round(upMean), cluster2x4PerSec: Math.round(c), ratio: c / upMean, note: 'fare up before and after the cluster run, averaged; all on this 2-core machine' };
  } finally {
    await big.close();
    await stopFare(fare);
  }
  return out;
}

function table(r: Record<string, unknown>): string {
  const p = r.placement as { idleList: { decisionsPerSec: number }; powerOfK: { decisionsPerSec: number } };
  type Sched = Record<string, { p50Ms?: number; p99Ms?: number; achievedPerSec?: number; perSec?: number }>;
  const s = r.scheduling as Sched;
  const k = r.schedulingPowerOfK as Sched;
  const real = r.schedulingRealtime as Sched;
  const rt = k.natsRoundTrip;
  const l = r.live as { warm: { up: { p50Ms: number; p99Ms: number }; cluster: { p50Ms: number; p99Ms: number }; addedP50Ms: number; clusterRealtime: { p50Ms?: number; p99Ms?: number }; addedP50MsRealtime?: number }; throughput: { upPerSec: number; cluster2x4PerSec: number; ratio: number } };
  const f = (x: number | undefined, d = 2): string => (x === undefined ? '-' : x.toFixed(d));
  return [
    'case                                             measured            target',
    `placements/s, one shard, 1,000 on idle list      ${Math.round(p.idleList.decisionsPerSec).toLocaleString('en-US').padEnd(20)}≥ 100,000`,
    `placements/s, one shard, power-of-k over NATS    ${Math.round(p.powerOfK.decisionsPerSec).toLocaleString('en-US').padEnd(20)}`,
    `scheduling latency at 1,000/s p50 / p99 (ms)     ${f(s.open1000?.p50Ms)} / ${f(s.open1000?.p99Ms)}`.padEnd(68) + 'p99 ≤ 2',
    `  parts and NATS real-time (--realtime)          ${f(real.open1000?.p50Ms)} / ${f(real.open1000?.p99Ms)}`.padEnd(68) + 'p99 ≤ 2',
    `  power-of-k only (no idle lists)                ${f(k.open1000?.p50Ms)} / ${f(k.open1000?.p99Ms)}`,
    `  floor: one NATS round trip p50 / p99 (ms)      ${f(rt?.p50Ms)} / ${f(rt?.p99Ms)}`,
    `scheduling latency at 5,000/s p50 / p99 (ms)     ${f(s.open5000?.p50Ms)} / ${f(s.open5000?.p99Ms)} (achieved ${s.open5000?.achievedPerSec ?? '-'}/s)`,
    `  parts and NATS real-time (--realtime)          ${f(real.open5000?.p50Ms)} / ${f(real.open5000?.p99Ms)} (achieved ${real.open5000?.achievedPerSec ?? '-'}/s)`,
    `  power-of-k only (no idle lists)                ${f(k.open5000?.p50Ms)} / ${f(k.open5000?.p99Ms)} (achieved ${k.open5000?.achievedPerSec ?? '-'}/s)`,
    `instance starts/s, emulated workers              ${String(s.startsPerSec?.perSec ?? '-').padEnd(20)}≥ 2,500`,
    `  parts and NATS real-time (--realtime)          ${String(real.startsPerSec?.perSec ?? '-')}`,
    `  power-of-k only (no idle lists)                ${String(k.startsPerSec?.perSec ?? '-')}`,
    `warm p50 fare up / cluster (ms)                  ${f(l.warm.up.p50Ms, 3)} / ${f(l.warm.cluster.p50Ms, 3)}  (added ${f(l.warm.addedP50Ms, 3)})`.padEnd(68) + 'added ≤ 0.5',
    `  cluster real-time (--realtime) p50 (ms)        ${f(l.warm.clusterRealtime.p50Ms, 3)}  (added ${f(l.warm.addedP50MsRealtime, 3)})`.padEnd(68) + 'added ≤ 0.5',
    `warm p99 fare up / cluster (ms)                  ${f(l.warm.up.p99Ms, 3)} / ${f(l.warm.cluster.p99Ms, 3)}`,
    `  cluster real-time (--realtime) p99 (ms)        ${f(l.warm.clusterRealtime.p99Ms, 3)}`,
    `throughput 2×4 cluster / fare up (inv/s)         ${l.throughput.cluster2x4PerSec} / ${l.throughput.upPerSec} = ${f(l.throughput.ratio)}`,
  ].join('\n');
}
