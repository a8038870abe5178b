import { describe, expect, it } from 'vitest';
import { Shard, type ShardConfig, type ShardDecision, type ShardInput } from './shard.ts';
import { Machine, type MachineDecision, type MachineInput } from '../machine/machine.ts';
import { Rng } from '../rng.ts';
import type { MachineId, Millis } from '../types.ts';
import { job, machineConfig, shardConfig } from '../testkit/fixtures.ts';
import { formatDecisionLine, gatewayAddress, machineAddress, shardAddress, type Message } from '../protocol.ts';

const S0 = shardAddress(0);
const sparrow = (over: Partial<ShardConfig> = {}) =>
  new Shard(shardConfig({ machines: 8, k: 2, useIdleList: false, placement: 'reserve', selection: 'fifo', ...over }), new Rng(1).fork('shard/0'));
const arrive = (id: number, at: Millis): ShardInput => ({ kind: 'arrive', from: gatewayAddress(0), to: S0, job: job(id, 0, at) });
const claim = (m: MachineId, id: number): ShardInput => ({ kind: 'claim', from: machineAddress(m), to: S0, job: id });

function take(s: Shard): ShardDecision[] {
  const out = s.ready().map((d) => ({ ...d }));
  s.advance();
  return out;
}

describe('Shard as Sparrow’s scheduler (placement reserve): reservations and late binding', () => {
  it('sends a reservation for each job to k = 2 distinct machines drawn at random, and holds the job', () => {
    const s = sparrow();
    const seen = new Set<MachineId>();
    for (let i = 0; i < 50; i++) {
      s.step(i, arrive(i, i));
      const ds = take(s);
      expect(ds.map((d) => d.kind)).toEqual(['reserve', 'reserve']);
      const to = ds.map((d) => d.to.id);
      expect(new Set(to).size).toBe(2);
      for (const d of ds) expect(d.kind === 'reserve' && d.job).toBe(i);
      for (const m of to) seen.add(m);
    }
    expect(s.reserved).toBe(50);
    expect(s.waiting).toBe(0);
    expect(s.pollsInFlight).toBe(0);
    expect(seen.size).toBe(8);
  });

  it('gives the job to the first machine that claims it, and answers a later claim `taken`', () => {
    const s = sparrow();
    s.step(0, arrive(1, 0));
    const [a, b] = take(s).map((d) => d.to.id) as [MachineId, MachineId];
    s.step(7, claim(b, 1));
    expect(take(s)).toEqual([{ kind: 'place', from: S0, to: machineAddress(b), job: job(1, 0, 0), via: 'reservation', waited: 7, cargo: undefined }]);
    expect(s.reserved).toBe(0);
    s.step(9, claim(a, 1));
    expect(take(s)).toEqual([{ kind: 'taken', from: S0, to: machineAddress(a), job: 1 }]);
  });

  it('reserves on the one machine there is (late binding all the same), and waits for members before reserving', () => {
    const one = sparrow({ machines: 1 });
    one.step(0, arrive(1, 0));
    expect(take(one).map((d) => [d.kind, d.to.id])).toEqual([['reserve', 0]]);
    const dyn = sparrow({ membership: 'dynamic' });
    dyn.step(0, arrive(1, 0));
    expect(take(dyn)).toEqual([]);
    expect(dyn.waiting).toBe(1);
    dyn.step(1, { kind: 'members', machines: [4, 9, 11] });
    const ds = take(dyn);
    expect(ds.map((d) => d.kind)).toEqual(['reserve', 'reserve']);
    for (const d of ds) expect([4, 9, 11]).toContain(d.to.id);
  });

  it('passes a job’s cargo on with its placement, and keeps a job sent again while it is held once', () => {
    const s = sparrow();
    const cargo = { invocation: 'x' };
    s.step(0, { kind: 'arrive', from: gatewayAddress(0), to: S0, job: job(1, 0, 0), cargo });
    const [m] = take(s).map((d) => d.to.id) as [MachineId];
    s.step(1, { kind: 'arrive', from: gatewayAddress(0), to: S0, job: job(1, 0, 0), cargo });
    expect(take(s)).toEqual([]);
    s.step(2, claim(m, 1));
    expect(take(s)).toMatchObject([{ kind: 'place', job: { id: 1 }, cargo }]);
  });
});

/**
 * A shard and machines wired by hand: each message is delivered at once, in the order sent (the
 * simulator's zero-latency mailbox; a `place` reaches its machine as the driver's `arrive`), and every
 * decision is a line of the story.
 */
class Cluster {
  readonly lines: string[] = [];
  private readonly mail: Message[] = [];

  constructor(readonly shard: Shard, readonly machines: Machine[]) {}

  /** Steps part `to` with `input` at `now`, then delivers what follows until nothing is left. */
  step(now: Millis, to: 'shard' | MachineId, input: ShardInput | MachineInput): void {
    this.stepOne(now, to, input);
    for (let m = this.mail.shift(); m !== undefined; m = this.mail.shift()) {
      if (m.kind === 'place') this.stepOne(now, m.to.id, { kind: 'arrive', job: m.job, memMB: 0, shard: m.from.id, via: m.via });
      else this.stepOne(now, m.to.part === 'shard' ? 'shard' : m.to.id, m as ShardInput | MachineInput);
    }
  }

  private stepOne(now: Millis, to: 'shard' | MachineId, input: ShardInput | MachineInput): void {
    let ds: readonly (ShardDecision | MachineDecision)[];
    let who: Shard | Machine;
    if (to === 'shard') {
      who = this.shard;
      this.shard.step(now, input as ShardInput);
      ds = this.shard.ready();
    } else {
      const m = this.machines[to] as Machine;
      who = m;
      m.step(now, input as MachineInput);
      ds = m.ready();
    }
    for (const d of ds) {
      this.lines.push(`t=${now} ${formatDecisionLine(who.address, d)}`);
      // Messages are copied: their objects are reused after `advance()`.
      if ('to' in d) this.mail.push(d.kind === 'place' ? { ...d, job: { ...d.job } } : { ...d });
    }
    who.advance();
  }
}

describe('Sparrow story (golden trace): one shard, two one-core machines', () => {
  it('runs each job on the machine that reaches its reservation first; the other hears it is taken and moves on', () => {
    const machines = [0, 1].map((id) => new Machine(machineConfig({ id, policy: 'fcfs' }), new Rng(1).fork(`machine/${id}`)));
    const c = new Cluster(sparrow({ machines: 2 }), machines);
    c.step(0, 'shard', arrive(1, 0));
    c.step(1, 'shard', arrive(2, 1));
    c.step(2, 'shard', arrive(3, 2));
    c.step(5, 0, { kind: 'complete', job: 2, memMB: 0 });
    c.step(8, 1, { kind: 'complete', job: 1, memMB: 0 });
    expect(c.lines).toEqual([
      // Both machines idle: each claims job 1 at once; machine 1 (reserved first) claims first.
      't=0 shard/0 → machine/1 reserve job=1',
      't=0 shard/0 → machine/0 reserve job=1',
      't=0 machine/1 → shard/0 claim job=1',
      't=0 machine/0 → shard/0 claim job=1',
      't=0 shard/0 → machine/1 place job=1 via=reservation waited=0',
      't=0 shard/0 → machine/0 taken job=1',
      't=0 machine/1 run job=1',
      // Machine 1 is busy: its reservation for job 2 waits; idle machine 0 claims and runs it.
      't=1 shard/0 → machine/1 reserve job=2',
      't=1 shard/0 → machine/0 reserve job=2',
      't=1 machine/0 → shard/0 claim job=2',
      't=1 shard/0 → machine/0 place job=2 via=reservation waited=0',
      't=1 machine/0 run job=2',
      // Both busy: job 3 waits in both queues (behind job 2's reservation on machine 1).
      't=2 shard/0 → machine/1 reserve job=3',
      't=2 shard/0 → machine/0 reserve job=3',
      // Machine 0 frees first: job 3 is its.
      't=5 machine/0 → shard/0 claim job=3',
      't=5 shard/0 → machine/0 place job=3 via=reservation waited=3',
      't=5 machine/0 run job=3',
      // Machine 1 frees: both its reservations are for jobs that have gone; it moves on through them.
      't=8 machine/1 → shard/0 claim job=2',
      't=8 shard/0 → machine/1 taken job=2',
      't=8 machine/1 → shard/0 claim job=3',
      't=8 shard/0 → machine/1 taken job=3',
    ]);
  });
});
