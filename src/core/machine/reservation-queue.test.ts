import { describe, expect, it } from 'vitest';
import { Machine, type MachineDecision, type MachineInput } from './machine.ts';
import { ReservationQueue } from './reservation-queue.ts';
import { Rng } from '../rng.ts';
import type { ShardId } from '../types.ts';
import { job, machineConfig } from '../testkit/fixtures.ts';
import { formatDecisionLine, machineAddress, shardAddress, type ClaimMsg } from '../protocol.ts';

const ME = machineAddress(3);
const machine = (cores: number) => new Machine(machineConfig({ id: 3, cores, policy: 'fcfs' }), new Rng(1).fork('machine/3'));
const reserve = (id: number, shard: ShardId = 0): MachineInput => ({ kind: 'reserve', from: shardAddress(shard), to: ME, job: id });
const taken = (id: number, shard: ShardId = 0): MachineInput => ({ kind: 'taken', from: shardAddress(shard), to: ME, job: id });
const granted = (id: number, shard: ShardId = 0): MachineInput => ({ kind: 'arrive', job: job(id, 2, 0), memMB: 0, shard, via: 'reservation' });
const complete = (id: number): MachineInput => ({ kind: 'complete', job: id, memMB: 0 });

/** Steps `m` and returns its decisions as decision-log lines (without the machine's address). */
function step(m: Machine, input: MachineInput): string[] {
  m.step(0, input);
  const out = m.ready().map((d: MachineDecision) => formatDecisionLine(m.address, d).replace('machine/3 ', ''));
  m.advance();
  return out;
}

describe('Machine with Sparrow’s reservations', () => {
  it('claims the job of the first reservation while a core is free, and no more until it is answered', () => {
    const m = machine(1);
    expect(step(m, reserve(1, 2))).toEqual(['→ shard/2 claim job=1']);
    expect(step(m, reserve(2))).toEqual([]); // its one core waits for the answer about job 1
    expect(step(m, granted(1, 2))).toEqual(['run job=1']);
    expect(step(m, reserve(3))).toEqual([]);
    expect(step(m, complete(1))).toEqual(['→ shard/0 claim job=2']);
    // Job 2 went elsewhere: the core is free again, and the next reservation is claimed at once.
    expect(step(m, taken(2))).toEqual(['→ shard/0 claim job=3']);
    expect(step(m, taken(3))).toEqual([]);
    expect(m.jobs).toBe(0);
  });

  it('keeps its reservations in arrival order, classes ignored, and claims as many as it has free cores', () => {
    const m = machine(2);
    expect(step(m, reserve(1))).toEqual(['→ shard/0 claim job=1']);
    expect(step(m, reserve(2, 1))).toEqual(['→ shard/1 claim job=2']);
    expect(step(m, reserve(3))).toEqual([]);
    expect(step(m, reserve(4))).toEqual([]);
    expect(step(m, granted(2, 1))).toEqual(['run job=2']);
    expect(step(m, taken(1))).toEqual(['→ shard/0 claim job=3']);
    expect(step(m, granted(3))).toEqual(['run job=3']);
    expect(step(m, complete(2))).toEqual(['→ shard/0 claim job=4']);
  });

  it('counts a job placed here without a claim as holding its core', () => {
    const m = machine(1);
    expect(step(m, { kind: 'arrive', job: job(9, 0, 0), memMB: 0 })).toEqual(['run job=9']);
    expect(step(m, reserve(1))).toEqual([]);
    expect(step(m, complete(9))).toEqual(['→ shard/0 claim job=1']);
  });
});

describe('ReservationQueue', () => {
  it('reuses its claim messages once reset, and ignores answers to claims it did not make', () => {
    const q = new ReservationQueue(ME);
    const out: ClaimMsg[] = [];
    q.reserve(0, 1);
    q.reserve(1, 2);
    q.claim(1, out);
    expect(out).toEqual([{ kind: 'claim', from: ME, to: shardAddress(0), job: 1 }]);
    expect([q.waiting, q.claiming]).toEqual([1, 1]);
    expect(q.granted(7)).toBe(false);
    q.taken(8);
    expect(q.claiming).toBe(1);
    expect(q.granted(1)).toBe(true);
    q.reset();
    q.claim(1, out);
    expect(out[1]).toBe(out[0]);
    expect(out[1]).toEqual({ kind: 'claim', from: ME, to: shardAddress(1), job: 2 });
  });
});
