import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../core/classes.ts';
import { gatewayAddress, machineAddress, shardAddress, type Message } from '../core/protocol.ts';
import { Rng } from '../core/rng.ts';
import { Shard } from '../core/shard/shard.ts';
import { Machine } from '../core/machine/machine.ts';
import { machineConfig } from '../core/testkit/fixtures.ts';
import { MachineDriver, type Executor } from './worker/machine-driver.ts';
import { outcomeCargo, answerCargo, invocationCargo } from './cargo.ts';
import { SchedulerClient } from './gateway/scheduler-client.ts';
import { Metrics, sample, serveMetrics, type InstanceCensus } from './metrics.ts';
import { ShardHost } from './shard/shard-host.ts';
import { InProcessBus } from './transport/in-process.ts';
import { realClock, VirtualClock } from './transport/clock.ts';
import type { FunctionSpec, InvokeOutcome, InvokeRequest } from './types.ts';

const spec = (cls: string): FunctionSpec => ({
  tenant: 'acme', name: `fn-${cls}`, runtime: 'nodejs', handler: 'index.handler', cls,
  codeDir: '/nowhere', version: 1, timeoutMs: 3000, env: {},
});
let n = 0;
const request = (cls: number): InvokeRequest => ({ fn: spec(DEFAULT_PRICE_TABLE.classes[cls]?.name ?? 'low'), requestId: `req-${++n}`, payload: Buffer.from('{}'), cls });
const outcome: InvokeOutcome = { status: 'ok', payload: Buffer.from('{}'), durationMs: 1, cpuMs: 1, memGBs: 0, maxMemMB: 1, coldStart: false, initMs: 0, logs: '' };
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Metrics at the gateway\'s scheduler client', () => {
  it('observes each job\'s waiting time at its start and its latency at its answer, by the class it ran at', async () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    const clock = new VirtualClock();
    const bus = new InProcessBus({ clock, serialize: true });
    const arrived: number[] = [];
    bus.listen(shardAddress(0), (m) => arrived.push((m as Extract<Message, { kind: 'arrive' }>).job.id));
    const client = new SchedulerClient(bus, clock, { id: 0, shards: 1, metrics });
    const tell = (kind: 'started' | 'answered' | 'done', job: number): void => {
      const from = machineAddress(0), to = gatewayAddress(0);
      bus.send(kind === 'started' ? { kind, from, to, job } : kind === 'answered' ? { kind, from, to, job, result: answerCargo(outcome) } : { kind, from, to, job, result: outcomeCargo(outcome) });
    };
    const done = [client.invoke(request(0), 1), client.invoke(request(0), 1), client.invoke(request(3), 2)];
    await settle();
    const [h1, h2, low] = arrived as [number, number, number];
    clock.fireNext(20); // now 20 ms
    tell('started', h1);
    tell('started', h2);
    await settle();
    clock.fireNext(520); // the low job waited half a second
    tell('started', low);
    tell('answered', h1); // 520 ms after arrival
    await settle();
    clock.fireNext(1020);
    tell('done', h1); // answered before: its latency is not observed again
    tell('done', h2); // no answer: its latency is observed at its end
    tell('done', low);
    await Promise.all(done);
    const text = await metrics.text();
    expect(sample(text, 'fare_waiting_seconds_count', { class: 'high' })).toBe(2);
    expect(sample(text, 'fare_waiting_seconds_sum', { class: 'high' })).toBeCloseTo(0.04);
    expect(sample(text, 'fare_waiting_seconds_bucket', { class: 'high', le: '0.025' })).toBe(2);
    expect(sample(text, 'fare_waiting_seconds_count', { class: 'low' })).toBe(1);
    expect(sample(text, 'fare_waiting_seconds_bucket', { class: 'low', le: '0.5' })).toBe(0);
    expect(sample(text, 'fare_waiting_seconds_bucket', { class: 'low', le: '1' })).toBe(1);
    expect(sample(text, 'fare_latency_seconds_count', { class: 'high' })).toBe(2);
    expect(sample(text, 'fare_latency_seconds_sum', { class: 'high' })).toBeCloseTo(0.52 + 1.02);
    expect(sample(text, 'fare_latency_seconds_count', { class: 'low' })).toBe(1);
    // Every class has its series from the start (a zero to take rates from).
    expect(sample(text, 'fare_latency_seconds_count', { class: 'middle' })).toBe(0);
    expect(sample(text, 'fare_latency_seconds_bucket', { class: 'middle', le: '900' })).toBe(0);
    client.close();
  });
});

describe('Metrics at the shard host', () => {
  it('counts arrivals by shard and class, and reads the shard\'s queues at each scrape', async () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    const clock = realClock;
    const bus = new InProcessBus({ clock });
    // No machine answers: one poll in flight at a time, so the other jobs wait in the multi-queue.
    for (let m = 0; m < 2; m++) bus.listen(machineAddress(m), () => {});
    const shard = new Shard({ id: 2, prices: DEFAULT_PRICE_TABLE, selection: 'price-wait', machines: 2, k: 2, useIdleList: false, maxOutstandingPolls: 1, pollTimeoutMs: 60_000 }, new Rng(0, 'metrics-test'));
    const host = new ShardHost(shard, bus, clock, undefined, metrics);
    const arrive = (id: number, cls: number): void => {
      bus.send({ kind: 'arrive', from: gatewayAddress(0), to: shardAddress(2), job: { id, cls, arrival: 0, fn: id }, cargo: invocationCargo(0, request(cls)) });
    };
    arrive(1, 3);
    arrive(2, 3);
    arrive(3, 3);
    arrive(4, 0);
    for (let i = 0; i < 5; i++) await settle();
    const text = await metrics.text();
    expect(sample(text, 'fare_arrivals_total', { shard: '2', class: 'low' })).toBe(3);
    expect(sample(text, 'fare_arrivals_total', { shard: '2', class: 'high' })).toBe(1);
    expect(sample(text, 'fare_arrivals_total', { shard: '2', class: 'middle' })).toBe(0);
    const queued = ['high', 'middle', 'standard', 'low'].map((c) => sample(text, 'fare_queue_length', { shard: '2', class: c }) ?? NaN);
    expect(queued.reduce((a, b) => a + b, 0)).toBe(3); // one job is bound to the poll in flight
    expect(queued).toEqual([0, 1, 2, 3].map((c) => shard.waitingIn(c)));
    expect(queued).toEqual([1, 0, 0, 2]);
    // This shard keeps no idle list: none is reported (rather than an empty one).
    expect(metrics.parts().shards).toEqual([{ id: 2, queued: [1, 0, 0, 2], idle: null }]);
    expect(sample(text, 'fare_idle_list_machines', { shard: '2' })).toBeUndefined();
    host.close();
  });

  it('reads the idle list of a shard that keeps one', () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    const bus = new InProcessBus({ clock: realClock });
    const shard = new Shard({ id: 1, prices: DEFAULT_PRICE_TABLE, selection: 'price-wait', machines: 2, k: 2, useIdleList: true, maxOutstandingPolls: 1, pollTimeoutMs: 60_000 }, new Rng(0, 'metrics-test'));
    const host = new ShardHost(shard, bus, realClock, undefined, metrics);
    expect(metrics.parts().shards).toEqual([{ id: 1, queued: [0, 0, 0, 0], idle: [] }]);
    host.close();
  });
});

describe('Metrics at the worker\'s machine scheduler', () => {
  it('counts a preemption as suffered by the frozen job\'s class and caused by the class that took its core', async () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    const clock = new VirtualClock();
    const bus = new InProcessBus({ clock });
    bus.listen(gatewayAddress(0), () => {});
    const paused: string[] = [];
    const exec: Executor = { run: () => new Promise<InvokeOutcome>(() => {}), pause: (id) => paused.push(id), resume: () => {} };
    const driver = new MachineDriver(new Machine(machineConfig({ id: 7, cores: 1 }), new Rng(1).fork('m')), exec, bus, clock, undefined, undefined, false, metrics);
    metrics.watchWorker(7, () => []);
    driver.start();
    const place = (id: number, cls: number): void => {
      const req = request(cls);
      bus.send({ kind: 'place', from: shardAddress(0), to: machineAddress(7), job: { id, cls, arrival: 0, fn: id }, via: 'power-of-k', waited: 0, cargo: invocationCargo(0, req) });
    };
    place(1, 3);
    await settle();
    place(2, 0);
    await settle();
    expect(paused).toHaveLength(1);
    const text = await metrics.text();
    expect(sample(text, 'fare_preemptions_total', { machine: '7', class: 'low' })).toBe(1);
    expect(sample(text, 'fare_preemptions_total', { machine: '7', class: 'high' })).toBe(0);
    expect(sample(text, 'fare_preemptions_caused_total', { machine: '7', class: 'high' })).toBe(1);
    expect(sample(text, 'fare_preemptions_caused_total', { machine: '7', class: 'low' })).toBe(0);
    driver.close();
  });
});

describe('Metrics of a worker and of billing', () => {
  it('reads instances and memory from the census, and counts preemptions, billing and budget decisions', async () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    let census: InstanceCensus[] = [{ cls: 'low', state: 'frozen', count: 2, residentBytes: 4096, swappedBytes: 0 }];
    metrics.watchWorker(1, () => census);
    metrics.watchTenants(() => [{ tenant: 'acme', spentMicroCents: 12.5, budgetMicroCents: 1000 }, { tenant: 'admin', spentMicroCents: 0, budgetMicroCents: null }]);
    metrics.preempted(1, 3, 0);
    metrics.preempted(1, 3, 0);
    metrics.preempted(1, 2, undefined);
    metrics.ioWaited(1, 1);
    metrics.billed('high', 1500, 3.25, true, 'ok');
    metrics.billed('high', 500, 1, false, 'error');
    metrics.throttled('acme', 'accept');
    metrics.degraded('acme', 'claim');
    let text = await metrics.text();
    expect(sample(text, 'fare_instances', { machine: '1', class: 'low', state: 'frozen' })).toBe(2);
    expect(sample(text, 'fare_instances', { machine: '1', class: 'high', state: 'running' })).toBe(0);
    expect(sample(text, 'fare_memory_resident_bytes', { machine: '1', class: 'low', state: 'frozen' })).toBe(4096);
    expect(sample(text, 'fare_preemptions_total', { machine: '1', class: 'low' })).toBe(2);
    expect(sample(text, 'fare_preemptions_total', { machine: '1', class: 'standard' })).toBe(1);
    expect(sample(text, 'fare_preemptions_caused_total', { machine: '1', class: 'high' })).toBe(2);
    expect(sample(text, 'fare_io_waits_total', { machine: '1', class: 'middle' })).toBe(1);
    expect(sample(text, 'fare_io_waits_total', { machine: '1', class: 'low' })).toBe(0);
    expect(sample(text, 'fare_invocations_total', { class: 'high', status: 'ok' })).toBe(1);
    expect(sample(text, 'fare_cpu_seconds_total', { class: 'high' })).toBe(2);
    expect(sample(text, 'fare_spend_microcents_total', { class: 'high' })).toBe(4.25);
    expect(sample(text, 'fare_cold_starts_total', { class: 'high' })).toBe(1);
    expect(sample(text, 'fare_cold_starts_total', { class: 'low' })).toBe(0);
    expect(sample(text, 'fare_throttled_total', { tenant: 'acme', at: 'accept' })).toBe(1);
    expect(sample(text, 'fare_degraded_total', { tenant: 'acme', at: 'claim' })).toBe(1);
    expect(sample(text, 'fare_tenant_spend_microcents', { tenant: 'acme' })).toBe(12.5);
    expect(sample(text, 'fare_tenant_budget_microcents', { tenant: 'acme' })).toBe(1000);
    expect(sample(text, 'fare_tenant_budget_microcents', { tenant: 'admin' })).toBeUndefined();
    // Read again at the next scrape: an instance gone is gone from the gauge.
    census = [{ cls: 'low', state: 'swapped', count: 1, residentBytes: 0, swappedBytes: 1 << 20 }];
    text = await metrics.text();
    expect(sample(text, 'fare_instances', { machine: '1', class: 'low', state: 'frozen' })).toBe(0);
    expect(sample(text, 'fare_memory_swapped_bytes', { machine: '1', class: 'low', state: 'swapped' })).toBe(1 << 20);
  });
});

describe('the metrics listener', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closing.splice(0)) await c();
  });

  it('answers GET /metrics in Prometheus\'s text format, with the process\'s default metrics, and nothing else', async () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE });
    const l = await serveMetrics(metrics, 0);
    closing.push(() => l.close());
    expect(l.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(l.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# HELP fare_latency_seconds /m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await fetch(l.url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(l.url, { method: 'POST' })).status).toBe(404);
  });
});

describe('Metrics for the dashboard', () => {
  it('reads shards\' queues and idle lists and workers\' instances as data, and gauges the idle lists', async () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    metrics.watchShard(0, { waitingIn: (c) => c + 1, idleEntries: () => [{ machine: 3, freeMB: 512, jobs: 1 }] });
    metrics.watchShard(1, { waitingIn: () => 0 });
    metrics.watchWorker(3, () => [{ cls: 'high', state: 'running', count: 1, residentBytes: 100, swappedBytes: 0 }]);
    const parts = metrics.parts();
    expect(parts.classes).toEqual(['high', 'middle', 'standard', 'low']);
    expect(parts.shards).toEqual([{ id: 0, queued: [1, 2, 3, 4], idle: [{ machine: 3, freeMB: 512, jobs: 1 }] }, { id: 1, queued: [0, 0, 0, 0], idle: null }]);
    expect(parts.workers).toEqual([{ machine: 3, instances: [{ cls: 'high', state: 'running', count: 1, residentBytes: 100, swappedBytes: 0 }] }]);
    const text = await metrics.text();
    expect(sample(text, 'fare_idle_list_machines', { shard: '0' })).toBe(1);
    expect(sample(text, 'fare_idle_list_machines', { shard: '1' })).toBeUndefined();
    expect(sample(text, 'fare_idle_list_free_memory_bytes', { shard: '0', machine: '3' })).toBe(512 * 1024 * 1024);
  });

  it('tells listeners of each answered job until they leave', () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    const heard: [number, number][] = [];
    const leave = metrics.onAnswered((cls, s) => heard.push([cls, s]));
    metrics.answered(0, 0.01);
    leave();
    metrics.answered(1, 0.02);
    expect(heard).toEqual([[0, 0.01]]);
  });
});
