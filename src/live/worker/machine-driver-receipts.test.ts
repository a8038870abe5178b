// The machine's part of each job's receipt, as the MachineDriver builds it while it carries out the
// machine scheduler's decisions: when the job started, each stretch it waited on the machine with the
// core time each class got meanwhile, each preemption (when, for how long, by which class), in the
// machine's clock. Driven in virtual time on a one-core machine with three classes.

import { describe, expect, it } from 'vitest';
import { Machine } from '../../core/machine/machine.ts';
import { Rng } from '../../core/rng.ts';
import { gatewayAddress, machineAddress, shardAddress, type Message, type PlaceMsg } from '../../core/protocol.ts';
import { machineConfig } from '../../core/testkit/fixtures.ts';
import { checkReceipt, heldCoreMs, type MachineReceipt, type Receipt } from '../../core/receipt.ts';
import { invocationCargo, receiptOf } from '../cargo.ts';
import { InProcessBus } from '../transport/in-process.ts';
import { VirtualClock } from '../transport/clock.ts';
import type { InvokeOutcome, InvokeRequest } from '../types.ts';
import { MachineDriver, type Executor } from './machine-driver.ts';

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(cores = 1) {
  const clock = new VirtualClock();
  const bus = new InProcessBus({ clock, serialize: true });
  const heard: Message[] = [];
  bus.listen(gatewayAddress(2), (m) => heard.push(m));
  const finishers = new Map<string, () => void>();
  const answerers = new Map<string, () => void>();
  const paused: string[] = [];
  const outcome: InvokeOutcome = { status: 'ok', payload: Buffer.from('"hi"'), durationMs: 1, cpuMs: 1, memGBs: 0, maxMemMB: 1, coldStart: false, initMs: 0, logs: '' };
  const exec: Executor = {
    run: (req) => new Promise<InvokeOutcome>((resolve) => {
      let answered = false;
      const answer = (): void => {
        if (!answered) req.onAnswer?.({ status: 'ok', payload: outcome.payload });
        answered = true;
      };
      answerers.set(req.requestId, answer);
      finishers.set(req.requestId, () => {
        answer();
        resolve(outcome);
      });
    }),
    pause: (id) => paused.push(id),
    resume: () => {},
  };
  const machine = new Machine(machineConfig({ id: 4, cores, classes: 3 }), new Rng(1).fork('m'));
  const driver = new MachineDriver(machine, exec, bus, clock);
  driver.start();
  const req = (id: string, cls: number): InvokeRequest => ({
    fn: { tenant: 't', name: 'f', runtime: 'nodejs', handler: 'index.handler', cls: String(cls), codeDir: '/x', version: 1, timeoutMs: 1000, env: {} },
    requestId: id, payload: Buffer.from('{}'), cls,
  });
  const place = (job: number, id: string, cls: number, at: number): PlaceMsg => ({
    kind: 'place', from: shardAddress(1), to: machineAddress(4), job: { id: job, cls, arrival: at, fn: 0 }, via: 'idle-list', waited: 0.25, cargo: invocationCargo(2, req(id, cls)),
  });
  /** Moves virtual time to `t` (firing what is due) and lets the messages and steps it causes run. */
  const at = async (t: number): Promise<void> => {
    while (clock.fireNext(t)) await settle();
    await settle();
  };
  const finish = async (id: string): Promise<void> => {
    finishers.get(id)?.();
    await settle();
    await settle();
  };
 /** The function answers (its instance is measured a moment longer: `finish` ends it). */
  const answer = async (id: string): Promise<void> => {
    answerers.get(id)?.();
    await settle();
    await settle();
  };
  const receiptOfJob = (job: number): MachineReceipt | undefined => {
    const done = heard.find((m) => m.kind === 'done' && m.job === job);
    return done?.kind === 'done' ? receiptOf(done.result) : undefined;
  };
  return { bus, at, finish, answer, place, receiptOfJob, paused };
}

/** A whole receipt around a machine's part, for the tenant's check. */
const receipt = (cls: number, machine: MachineReceipt): Receipt => ({
  v: 1, requestId: 'r', attempt: 1, type: 'sync', tenant: 't', function: 'f', functionVersion: 1, status: 'ok',
  class: { index: cls, name: String(cls), ownIndex: cls, ownName: String(cls), why: 'own' },
  classes: ['0', '1', '2'], gateway: 2, acceptedAt: 0, sentAt: 0, startedMs: 0, answeredMs: 0, doneMs: 0, machine,
  price: { cpuPerSecond: 1, memoryPerGBSecond: 0 }, cpuMs: 1, memGBs: 0, maxMemMB: 1, coldStart: false, costMicroCents: 0,
});

describe('MachineDriver receipts', () => {
  it('a low job preempted by a high one and held behind a middle one: its waits name the classes that ran, and its preemption the class that caused it', async () => {
    const h = setup();
    h.bus.send(h.place(20, 'low', 2, 0));
    await h.at(0);
    await h.at(10);
    h.bus.send(h.place(21, 'high', 0, 10));
    h.bus.send(h.place(22, 'mid', 1, 10));
    await h.at(10);
    expect(h.paused).toEqual(['low']);
    await h.at(30);
    await h.finish('high');
    await h.at(50);
    await h.finish('mid');
    await h.at(60);
    await h.finish('low');

    const high = h.receiptOfJob(21);
    expect(high).toMatchObject({ machine: 4, cores: 1, shard: 1, placement: 'idle-list', shardWaitMs: 0.25, startedMs: 0, answeredMs: 20, waits: [], preemptions: [], blockedMs: 0 });

    const mid = h.receiptOfJob(22);
    expect(mid?.startedMs).toBe(20);
    expect(mid?.waits).toEqual([{ fromMs: 0, toMs: 20, after: 'placed', ran: [{ cls: 0, coreMs: 20 }] }]);

    const low = h.receiptOfJob(20);
    expect(low?.startedMs).toBe(0);
    expect(low?.preemptions).toEqual([{ atMs: 10, forMs: 40, byClass: 0 }]);
    expect(low?.waits).toEqual([{ fromMs: 10, toMs: 50, after: 'preempted', ran: [{ cls: 0, coreMs: 20 }, { cls: 1, coreMs: 20 }] }]);
    expect(low?.doneMs).toBe(60);

    // Every one passes the tenant's check: only higher classes ran while each waited.
    for (const [cls, r] of [[0, high], [1, mid], [2, low]] as const) expect(checkReceipt(receipt(cls, r as MachineReceipt)).ok).toBe(true);
    // The check is not blind: the low job's receipt, claimed for a middle-class job, shows the middle class's time… as its own class's, which is allowed; claimed for the top class, it fails.
    const v = checkReceipt(receipt(0, low as MachineReceipt));
    expect(v.ok).toBe(false);
    expect(v.lowerClassCoreMs).toBe(20);
    expect(v.findings.map((f) => f.kind)).toEqual(['lower-class-ran']);
  });

  it('a job preempted as it answered (its answer already on its way) waits no more once the answer comes: what runs while it is measured is not in its waits', async () => {
    const h = setup();
    h.bus.send(h.place(40, 'mid', 1, 0));
    await h.at(0);
    await h.at(10);
    h.bus.send(h.place(41, 'high', 0, 10));
    h.bus.send(h.place(42, 'low', 2, 10));
    await h.at(10);
    await h.at(15);
    await h.answer('mid');
    await h.at(20);
    await h.finish('high');
    await h.at(30);
    await h.finish('mid');
    await h.at(40);
    await h.finish('low');
    const mid = h.receiptOfJob(40);
    expect(mid?.answeredMs).toBe(15);
    expect(mid?.doneMs).toBe(30);
    expect(mid?.waits).toEqual([{ fromMs: 10, toMs: 15, after: 'preempted', ran: [{ cls: 0, coreMs: 5 }] }]);
    expect(mid?.preemptions).toEqual([{ atMs: 10, forMs: 5, byClass: 0 }]);
    expect(checkReceipt(receipt(1, mid as MachineReceipt)).ok).toBe(true);
    // The low job ran from 20 (the high one's end) while the middle one was being measured.
    expect(h.receiptOfJob(42)?.startedMs).toBe(10);
  });

  it('keeps at most 64 waits and preemptions: later ones are merged into the last, with their times and core-ms summed', async () => {
    const h = setup();
    h.bus.send(h.place(50, 'low', 2, 0));
    await h.at(0);
    for (let i = 0; i < 70; i++) {
      await h.at(10 * i + 1);
      h.bus.send(h.place(100 + i, `h${i}`, 0, 10 * i + 1));
      await h.at(10 * i + 1);
      await h.at(10 * i + 5);
      await h.finish(`h${i}`);
    }
    await h.at(800);
    await h.finish('low');
    const low = h.receiptOfJob(50) as MachineReceipt;
    expect(low.waits).toHaveLength(64);
    expect(low.preemptions).toHaveLength(64);
    const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
    expect(sum(low.preemptions.map((p) => p.forMs))).toBeCloseTo(280, 6);
    expect(sum(low.waits.map((w) => w.ran.find((t) => t.cls === 0)?.coreMs ?? 0))).toBeCloseTo(280, 6);
    expect(low.waits.at(-1)).toMatchObject({ fromMs: 631, toMs: 695, after: 'preempted' });
    expect(checkReceipt(receipt(2, low)).ok).toBe(true);
  });

  it('a job that starts at once on a free core has no waits; one that waits behind its own class records only its class', async () => {
    const h = setup();
    h.bus.send(h.place(30, 'a', 1, 0));
    h.bus.send(h.place(31, 'b', 1, 0));
    await h.at(0);
    await h.at(7);
    await h.finish('a');
    await h.at(9);
    await h.finish('b');
    expect(h.receiptOfJob(30)?.waits).toEqual([]);
    expect(h.receiptOfJob(31)?.waits).toEqual([{ fromMs: 0, toMs: 7, after: 'placed', ran: [{ cls: 1, coreMs: 7 }] }]);
  });

  it('a job blocked (waiting on a call, or on I/O) when it answers is blocked until its answer, not until its measurement ends: the core time it held stays what it was', async () => {
    const h = setup();
    h.bus.send(h.place(50, 'caller', 1, 0));
    await h.at(0);
    await h.at(30);
    // Its gateway says it waits for a call it made; the answer comes while it is still blocked.
    h.bus.send({ kind: 'block', from: gatewayAddress(2), to: machineAddress(4), job: 50 });
    await h.at(30);
    await h.at(100);
    await h.answer('caller');
    // Measured long after its answer (an instance slow to park, on a loaded machine).
    await h.at(400);
    await h.finish('caller');
    const r = h.receiptOfJob(50) as MachineReceipt;
    expect(r).toMatchObject({ startedMs: 0, answeredMs: 100, doneMs: 400, blockedMs: 70 });
    expect(heldCoreMs(r)).toBe(30);
  });
});
