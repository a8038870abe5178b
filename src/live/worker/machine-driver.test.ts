// The worker's MachineDriver when its carrier may lose messages (`acknowledge`, the cluster): it says
// where a job is (`accepted`), runs a job placed twice once, and answers a gateway's `ask` with what
// it knows — where the job is, how it ended, or that it has no trace of it.

import { describe, expect, it } from 'vitest';
import { Machine } from '../../core/machine/machine.ts';
import { Rng } from '../../core/rng.ts';
import { gatewayAddress, machineAddress, shardAddress, type Message, type PlaceMsg } from '../../core/protocol.ts';
import { machineConfig } from '../../core/testkit/fixtures.ts';
import { heldCoreMs, type MachineReceipt } from '../../core/receipt.ts';
import { invocationCargo, receiptOf } from '../cargo.ts';
import { InProcessBus } from '../transport/in-process.ts';
import { VirtualClock } from '../transport/clock.ts';
import type { InvokeOutcome, InvokeRequest } from '../types.ts';
import { IO_READ_MS, MachineDriver, type Executor } from './machine-driver.ts';

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup() {
  const clock = new VirtualClock();
  const bus = new InProcessBus({ clock, serialize: true });
  const heard: Message[] = [];
  // What the shard hears (a limited function's jobs leaving), and what both heard, in order.
  const shardHeard: Message[] = [];
  const order: string[] = [];
  bus.listen(gatewayAddress(2), (m) => {
    heard.push(m);
    order.push(`gateway ${m.kind}`);
  });
  bus.listen(shardAddress(0), (m) => {
    shardHeard.push(m);
    order.push(`shard ${m.kind}`);
  });
  const finishers = new Map<string, (o: InvokeOutcome) => void>();
  const runs: string[] = [];
  const exec: Executor = {
    run: (req) => new Promise<InvokeOutcome>((resolve) => {
      runs.push(req.requestId);
      finishers.set(req.requestId, (o) => {
        req.onAnswer?.({ status: o.status, payload: o.payload });
        resolve(o);
      });
    }),
    pause: () => {},
    resume: () => {},
  };
  const machine = new Machine(machineConfig({ id: 4, cores: 1 }), new Rng(1).fork('m'));
  const driver = new MachineDriver(machine, exec, bus, clock, undefined, undefined, true);
  driver.start();
  const req = (id: string): InvokeRequest => ({
    fn: { tenant: 't', name: 'f', runtime: 'nodejs', handler: 'index.handler', cls: 'high', codeDir: '/x', version: 1, timeoutMs: 1000, env: {} },
    requestId: id, payload: Buffer.from('{}'), cls: 0,
  });
  const place = (job: number, id: string, capped?: true): PlaceMsg => ({
    kind: 'place', from: shardAddress(0), to: machineAddress(4), job: { id: job, cls: 0, arrival: 0, fn: 0 }, via: 'power-of-k', waited: 0, capped, cargo: invocationCargo(2, req(id)),
  });
  const outcome: InvokeOutcome = { status: 'ok', payload: Buffer.from('"hi"'), durationMs: 1, cpuMs: 1, memGBs: 0, maxMemMB: 1, coldStart: false, initMs: 0, logs: '' };
  const kinds = (): string[] => heard.map((m) => `${m.kind} ${(m as { job: number }).job}`);
  return { bus, heard, shardHeard, order, kinds, runs, finishers, place, outcome };
}

describe('MachineDriver over a carrier that may lose messages', () => {
  it('says started for a job that starts at once, accepted for one that waits; a job placed twice runs once (the second placement is answered with where it is)', async () => {
    const h = setup();
    h.bus.send(h.place(10, 'a'));
    h.bus.send(h.place(11, 'b'));
    await settle();
    expect(h.kinds()).toEqual(['started 10', 'accepted 11']);
    h.heard.length = 0;
    h.bus.send(h.place(10, 'a'));
    h.bus.send(h.place(11, 'b'));
    await settle();
    expect(h.runs).toEqual(['a']);
    expect(h.kinds()).toEqual(['started 10', 'accepted 11']);
  });

  it('a job placed `capped` tells its shard it has left, once, before its answer goes to the gateway; others say nothing to the shard', async () => {
    const h = setup();
    h.bus.send(h.place(10, 'a', true));
    h.bus.send(h.place(11, 'b'));
    await settle();
    h.finishers.get('a')?.(h.outcome);
    await settle();
    h.finishers.get('b')?.(h.outcome);
    await settle();
    expect(h.shardHeard).toEqual([{ kind: 'left', from: machineAddress(4), to: shardAddress(0), job: 10 }]);
    expect(h.order.filter((o) => o !== 'gateway started' && o !== 'gateway accepted').slice(0, 3)).toEqual(['shard left', 'gateway answered', 'gateway done']);
    // Placed again after it left (its shard counted it again): it runs no more, and the shard hears it has left.
    h.bus.send(h.place(10, 'a', true));
    await settle();
    expect(h.runs).toEqual(['a', 'b']);
    expect(h.shardHeard.map((m) => `${m.kind} ${(m as { job: number }).job}`)).toEqual(['left 10', 'left 10']);
  });

  it('answers an ask: where the job is, how it ended (its answer and outcome again), or that it knows nothing of it', async () => {
    const h = setup();
    h.bus.send(h.place(10, 'a'));
    await settle();
    h.heard.length = 0;
    const ask = (job: number): void => h.bus.send({ kind: 'ask', from: gatewayAddress(2), to: machineAddress(4), job });
    ask(10);
    await settle();
    expect(h.kinds()).toEqual(['started 10']);
    h.finishers.get('a')?.(h.outcome);
    await settle();
    h.heard.length = 0;
    ask(10);
    ask(99);
    await settle();
    expect(h.kinds()).toEqual(['answered 10', 'done 10', 'unknown 99']);
    // Placed again after it ended (its `done` was lost): not run again, its outcome said again.
    h.heard.length = 0;
    h.bus.send(h.place(10, 'a'));
    await settle();
    expect(h.runs).toEqual(['a']);
    expect(h.kinds()).toEqual(['answered 10', 'done 10']);
  });
});

describe('MachineDriver and I/O waits', () => {
  /** One core, two jobs of one class; the executor says what CPU time each has used (ms). */
  function twoJobs() {
    const clock = new VirtualClock();
    const bus = new InProcessBus({ clock, serialize: true });
    /** What the gateway heard: `done` messages' receipts by job (started, preempted: not asserted). */
    const receipts = new Map<number, MachineReceipt | undefined>();
    bus.listen(gatewayAddress(2), (m) => {
      if (m.kind === 'done') receipts.set(m.job, receiptOf(m.result));
    });
    const cpu = new Map<string, number>();
    const finishers = new Map<string, () => void>();
    /** Whether a job's processes sleep on I/O (absent: they do). */
    const sleeps = new Map<string, boolean>();
    const log: string[] = [];
    const exec: Executor = {
      run: (req) => {
        log.push(`run ${req.requestId}`);
        return new Promise<InvokeOutcome>((resolve) => finishers.set(req.requestId, () => {
          req.onAnswer?.({ status: 'ok', payload: Buffer.from('null') });
          resolve({ status: 'ok', payload: Buffer.from('null'), durationMs: 1, cpuMs: 1, memGBs: 0, maxMemMB: 1, coldStart: false, initMs: 0, logs: '' });
        }));
      },
      pause: (id) => void log.push(`pause ${id}`),
      resume: (id) => void log.push(`resume ${id}`),
      cpuMs: (id) => cpu.get(id),
      sleepsOnIo: (id) => sleeps.get(id) ?? true,
      ioWait: (id, waiting) => void log.push(`${waiting ? 'lower' : 'restore'} ${id}`),
    };
    const machine = new Machine(machineConfig({ id: 4, cores: 1 }), new Rng(1).fork('m'));
    const driver = new MachineDriver(machine, exec, bus, clock);
    driver.start();
    const fn = { tenant: 't', name: 'f', runtime: 'nodejs' as const, handler: 'index.handler', cls: 'high', codeDir: '/x', version: 1, timeoutMs: 1000, env: {} };
    const place = (job: number, id: string): void => bus.send({
      kind: 'place', from: shardAddress(0), to: machineAddress(4), job: { id: job, cls: 0, arrival: 0, fn: job }, via: 'power-of-k', waited: 0,
      cargo: invocationCargo(2, { fn: { ...fn, name: `f${job}` }, requestId: id, payload: Buffer.from('{}'), cls: 0 }),
    });
    /** Moves virtual time on to `t`, firing the timers due (the worker's readings among them). */
    const until = async (t: number): Promise<void> => {
      for (;;) {
        await settle();
        if (!clock.fireNext(t)) break;
      }
      await settle();
    };
    /** Places job 10 (`a`, which runs) and 11 (`b`, which waits), and lets the machine start. */
    const placeBoth = async (): Promise<void> => {
      place(10, 'a');
      place(11, 'b');
      await until(0);
    };
    return { clock, cpu, sleeps, log, place, placeBoth, until, finishers, receipts };
  }

  it('a job that uses next to no CPU on its core gives the core up; once it computes again it asks for one back', async () => {
    const h = twoJobs();
    await h.placeBoth();
    expect(h.log).toEqual(['run a']);
    h.cpu.set('a', 5);
    h.cpu.set('b', 0.001);
    // The first reading is where `a` stands; by the second it has used nothing more: it waits on I/O.
    await h.until(IO_READ_MS);
    expect(h.log).toEqual(['run a']);
    await h.until(2 * IO_READ_MS);
    // Its kernel priority drops while it waits (it must not take CPU from `b` when it wakes).
    expect(h.log).toEqual(['run a', 'lower a', 'run b']);
    // `a` computes again (its answer came): it asks for a core, and waits for it behind `b`, stopped.
    h.cpu.set('a', 5 + IO_READ_MS);
    h.cpu.set('b', 0.001 + IO_READ_MS);
    await h.until(3 * IO_READ_MS);
    expect(h.log.slice(3)).toEqual(['pause a']);
    // Its priority comes back when it has a core again, not while it waits for one: `b` waits on I/O in turn.
    await h.until(4 * IO_READ_MS);
    expect(h.log.slice(4)).toEqual(['lower b', 'restore a', 'resume a']);
  });

  it('a waiting job that wakes but gets no CPU (its priority lowered, another job computing) asks for its core back', async () => {
    const h = twoJobs();
    await h.placeBoth();
    h.cpu.set('a', 5);
    await h.until(2 * IO_READ_MS);
    expect(h.log).toEqual(['run a', 'lower a', 'run b']);
    h.cpu.set('b', 2 * IO_READ_MS);
    // Runnable, not asleep, and still no CPU used: not an I/O wait any more.
    h.sleeps.set('a', false);
    await h.until(3 * IO_READ_MS);
    expect(h.log.slice(3)).toEqual(['pause a']);
  });

  it('a job that computes keeps its core, as does one too briefly on it to judge', async () => {
    const h = twoJobs();
    await h.placeBoth();
    for (let i = 1; i <= 8; i++) {
      h.cpu.set('a', i * IO_READ_MS * 0.5);
      await h.until(i * IO_READ_MS);
    }
    expect(h.log).toEqual(['run a']);
  });

  it('a job that uses little CPU but does not sleep on I/O (it waits for a core, or stalls on memory) keeps its core', async () => {
    const h = twoJobs();
    await h.placeBoth();
    h.cpu.set('a', 5);
    h.sleeps.set('a', false);
    for (let i = 1; i <= 6; i++) await h.until(i * IO_READ_MS);
    expect(h.log).toEqual(['run a']);
    // Once it sleeps (its page-in done, it awaits a socket), it gives the core up at the next reading.
    h.sleeps.set('a', true);
    await h.until(7 * IO_READ_MS);
    expect(h.log).toEqual(['run a', 'lower a', 'run b']);
  });

  it('its receipt counts the time it gave its core up on I/O apart from time waiting for its own calls, and not as time on the core', async () => {
    const h = twoJobs();
    h.place(10, 'a');
    await h.until(0);
    h.cpu.set('a', 5);
    // Blocked at the second reading (50 ms), computing again by the fifth (125 ms): 75 ms on I/O.
    await h.until(4 * IO_READ_MS);
    h.cpu.set('a', 5 + IO_READ_MS);
    await h.until(5 * IO_READ_MS);
    h.finishers.get('a')?.();
    await h.until(5 * IO_READ_MS);
    const r = h.receipts.get(10);
    expect(r).toMatchObject({ ioWaitMs: 3 * IO_READ_MS, blockedMs: 0, startedMs: 0, answeredMs: 5 * IO_READ_MS });
    expect(heldCoreMs(r as MachineReceipt)).toBe(2 * IO_READ_MS);
  });
});
