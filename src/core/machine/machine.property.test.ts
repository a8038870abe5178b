// Invariants of the machine scheduler on random small workloads, run to completion by the test kit's
// executor (virtual time, known runtimes) on a Machine with c cores.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Machine, type MachineDecision, type MachineInput } from './machine.ts';
import type { MachinePolicy } from './run-queue.ts';
import { Rng } from '../rng.ts';
import { machineAddress, shardAddress } from '../protocol.ts';
import { execute, machineTarget, type ExecJob, type ExecResult } from '../testkit/executor.ts';
import { classInversions, fcfsViolations, idleWhileWaiting, lostOrMiscounted } from '../testkit/invariants.ts';
import { machineConfig } from '../testkit/fixtures.ts';

const jobsArb = fc
  .array(
    fc.record({ arrival: fc.integer({ min: 0, max: 20 }), cls: fc.integer({ min: 0, max: 3 }), runtime: fc.integer({ min: 1, max: 8 }) }),
    { minLength: 1, maxLength: 12 },
  )
  .map((js): ExecJob[] => js.map((j, i) => ({ id: i + 1, ...j })));
const coresArb = fc.integer({ min: 1, max: 3 });

function run(policy: MachinePolicy, cores: number, jobs: readonly ExecJob[]): ExecResult {
  return execute(machineTarget(new Machine(machineConfig({ policy, cores }), new Rng('prop'))), jobs);
}

/** Every time a job is stopped before finishing, a job of a strictly higher class starts then. */
function preemptionsNotForHigherClass(r: ExecResult): string[] {
  const bad: string[] = [];
  for (const s of r.segments) {
    const o = r.byId.get(s.job);
    if (!o || o.finish === s.to) continue;
    const by = r.segments.filter((x) => x.from === s.to && (r.byId.get(x.job)?.job.cls ?? Infinity) < o.job.cls);
    if (by.length === 0) bad.push(`job ${s.job} (class ${o.job.cls}) stopped at ${s.to} with no higher-class job starting`);
  }
  return bad;
}

describe.each(['priority', 'fcfs', 'ps'] as const)('Machine (%s) on random workloads', (policy) => {
  it('loses no job and runs none twice: each completes once, with service equal to its runtime', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        const r = run(policy, cores, jobs); // the executor throws on a double run or an over-committed core
        expect(lostOrMiscounted(r)).toEqual([]);
        expect(r.outcomes.every((o) => o.finish !== undefined && o.finish >= o.job.arrival + o.job.runtime - 1e-9)).toBe(true);
      }),
    );
  });

  it('makes the same decisions for the same workload', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        expect(run(policy, cores, jobs).trace).toEqual(run(policy, cores, jobs).trace);
      }),
      { numRuns: 30 },
    );
  });
});

describe.each(['priority', 'fcfs'] as const)('Machine (%s) work conservation', (policy) => {
  it('never leaves a core idle while a job waits on the machine', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        expect(idleWhileWaiting(run(policy, cores, jobs), cores)).toEqual([]);
      }),
    );
  });

  it('starts the jobs of one class in their order of arrival on the machine', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        expect(fcfsViolations(run(policy, cores, jobs))).toEqual([]);
      }),
    );
  });
});

describe('Machine (priority) class order', () => {
  it('never keeps a job waiting while a lower-class job runs', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        expect(classInversions(run('priority', cores, jobs))).toEqual([]);
      }),
    );
  });

  it('preempts only for a strictly higher class', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        expect(preemptionsNotForHigherClass(run('priority', cores, jobs))).toEqual([]);
      }),
    );
  });

  it('completes equal-runtime jobs of one class in arrival order', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        const r = run('priority', cores, jobs);
        const order = [...r.outcomes].sort((a, b) => a.job.arrival - b.job.arrival || a.job.id - b.job.id);
        for (let i = 0; i < order.length; i++) {
          for (let k = i + 1; k < order.length; k++) {
            const a = order[i], b = order[k];
            if (!a || !b || a.job.cls !== b.job.cls || a.job.runtime !== b.job.runtime) continue;
            expect(a.finish as number, `job ${a.job.id} before job ${b.job.id}`).toBeLessThanOrEqual(b.finish as number);
          }
        }
      }),
    );
  });
});

describe('Machine (fcfs) order', () => {
  it('never preempts, and starts jobs in arrival order across classes', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        const r = run('fcfs', cores, jobs);
        expect(r.outcomes.every((o) => o.preemptions === 0)).toBe(true);
        expect(fcfsViolations(r, () => 0)).toEqual([]);
      }),
    );
  });
});

describe('Machine (ps) sharing', () => {
  it('starts every job on arrival, never preempts, and never lets a job wait', () => {
    fc.assert(
      fc.property(coresArb, jobsArb, (cores, jobs) => {
        const r = run('ps', cores, jobs);
        expect(r.outcomes.every((o) => o.start === o.job.arrival && o.preemptions === 0)).toBe(true);
        expect(r.intervals.every((iv) => iv.waiting.length === 0)).toBe(true);
      }),
    );
  });
});

describe('Machine (priority) swapping on random arrivals and completions', () => {
  const opArb = fc.oneof(
    fc.record({ op: fc.constant('arrive' as const), cls: fc.integer({ min: 0, max: 3 }), mb: fc.integer({ min: 0, max: 400 }) }),
    fc.record({ op: fc.constant('complete' as const), pick: fc.nat() }),
  );

  it('swaps only waiting jobs, swaps a job in just before it runs, and keeps resident memory accounted', () => {
    fc.assert(
      fc.property(coresArb, fc.array(opArb, { maxLength: 40 }), (cores, ops) => {
        const cap = 1000;
        const m = new Machine(machineConfig({ cores, memoryMB: cap, swap: { enabled: true, targetFraction: 0.8 } }), new Rng('swap'));
        const mem = new Map<number, { cls: number; mb: number }>();
        const running = new Set<number>();
        const swapped = new Set<number>();
        let nextId = 1;
        // Steps the machine and carries its decisions out as a driver would: after a preempt, the
        // driver reports the stopped job's memory (until then the machine cannot swap it).
        const drive = (now: number, input: MachineInput, all: MachineDecision[]): void => {
          m.step(now, input);
          const ds = m.ready().slice();
          m.advance();
          const stopped: number[] = [];
          ds.forEach((d, i) => {
            switch (d.kind) {
              case 'run':
                expect(swapped.has(d.job.id), `job ${d.job.id} runs while swapped out`).toBe(false);
                running.add(d.job.id);
                break;
              case 'preempt':
                expect(running.delete(d.job.id)).toBe(true);
                stopped.push(d.job.id);
                break;
              case 'swap-out':
                expect(running.has(d.job.id) || swapped.has(d.job.id), `swap-out of job ${d.job.id}, running or already out`).toBe(false);
                expect(d.mb).toBe(mem.get(d.job.id)?.mb);
                swapped.add(d.job.id);
                break;
              case 'swap-in':
                expect(swapped.delete(d.job.id)).toBe(true);
                expect(ds[i + 1]).toEqual({ kind: 'run', job: d.job });
                break;
              case 'poll-answer':
              case 'idle-poll':
              case 'idle-join':
              case 'idle-update':
              case 'idle-leave':
              case 'claim':
                throw new Error(`unexpected decision ${d.kind}: this machine has no dispatcher and no reservations`);
            }
          });
          all.push(...ds);
          for (const id of stopped) drive(now, { kind: 'stopped', job: id, memMB: mem.get(id)?.mb ?? 0 }, all);
        };
        ops.forEach((o, now) => {
          const ds: MachineDecision[] = [];
          if (o.op === 'arrive') {
            const id = nextId++;
            mem.set(id, { cls: o.cls, mb: o.mb });
            drive(now, { kind: 'arrive', job: { id, cls: o.cls, arrival: now, fn: 0 }, memMB: o.mb }, ds);
          } else {
            const ids = [...running].sort((a, b) => a - b);
            if (ids.length === 0) return;
            const id = ids[o.pick % ids.length] as number;
            running.delete(id);
            drive(now, { kind: 'complete', job: id, memMB: mem.get(id)?.mb ?? 0 }, ds);
            mem.delete(id);
          }
          const resident = [...mem].filter(([id]) => !swapped.has(id)).reduce((s, [, j]) => s + j.mb, 0);
          expect(m.usedMB).toBe(resident);
          // Over capacity only when nothing is left to swap; short of the target after swapping only
          // when what is left was preempted in this same step (its size was unknown while it swapped).
          const swappable = [...mem].filter(([id, j]) => !running.has(id) && !swapped.has(id) && j.mb > 0).map(([id]) => id);
          if (resident > cap) expect(swappable).toEqual([]);
          if (ds.some((d) => d.kind === 'swap-out') && resident > 0.8 * cap) {
            const preemptedNow = new Set(ds.filter((d) => d.kind === 'preempt').map((d) => d.job.id));
            expect(swappable.filter((id) => !preemptedNow.has(id))).toEqual([]);
          }
          for (const id of swapped) expect(m.slot(id)).toMatchObject({ swapped: true, running: false });
        });
      }),
    );
  });
});

describe('Machine (priority) with jobs blocking on calls, on random scripts', () => {
  type Op =
    | { k: 'arrive'; cls: number }
    | { k: 'block'; pick: number }
    | { k: 'unblock'; pick: number }
    | { k: 'complete'; pick: number }
    | { k: 'poll'; shard: number; poll: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('arrive' as const), cls: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ k: fc.constant('block' as const), pick: fc.nat(20) }),
    fc.record({ k: fc.constant('unblock' as const), pick: fc.nat(20) }),
    fc.record({ k: fc.constant('complete' as const), pick: fc.nat(20) }),
    fc.record({ k: fc.constant('poll' as const), shard: fc.nat(3), poll: fc.nat(1000) }),
  );

  it('keeps a job running, waiting or blocked, never idles a core a runnable job waits for, never runs a lower class while a higher one waits, and answers a poll with its job count alone', () => {
    fc.assert(
      fc.property(coresArb, fc.array(opArb, { maxLength: 60 }), (cores, ops) => {
        const m = new Machine(machineConfig({ policy: 'priority', cores }), new Rng('prop-block'));
        // The driver's view: what each job is doing as the decisions say.
        const state = new Map<number, { cls: number; is: 'running' | 'waiting' | 'blocked' }>();
        let next = 1;
        let now = 0;
        const apply = (input: MachineInput): void => {
          m.step(now++, input);
          for (const d of m.ready()) {
            const s = 'job' in d && typeof d.job === 'object' ? state.get(d.job.id) : undefined;
            if (d.kind === 'run' && s) s.is = 'running';
            if (d.kind === 'preempt' && s) s.is = 'waiting';
          }
          m.advance();
        };
        const pickOf = (is: string, pick: number): number | undefined => {
          const ids = [...state].filter(([, s]) => s.is === is).map(([id]) => id);
          return ids.length === 0 ? undefined : ids[pick % ids.length];
        };
        for (const op of ops) {
          if (op.k === 'arrive') {
            const id = next++;
            state.set(id, { cls: op.cls, is: 'waiting' });
            apply({ kind: 'arrive', job: { id, cls: op.cls, arrival: now, fn: 0 }, memMB: 0 });
          } else if (op.k === 'block') {
            // A running job makes a call (or a preempted one had made it just before it was stopped).
            const id = pickOf('running', op.pick) ?? pickOf('waiting', op.pick);
            const s = id === undefined ? undefined : state.get(id);
            if (id === undefined || !s || !m.slot(id)?.started) continue;
            s.is = 'blocked';
            apply({ kind: 'block', job: id });
          } else if (op.k === 'unblock') {
            const id = pickOf('blocked', op.pick);
            const s = id === undefined ? undefined : state.get(id);
            if (id === undefined || !s) continue;
            s.is = 'waiting';
            apply({ kind: 'unblock', job: id });
          } else if (op.k === 'poll') {
            // A shard's poll: answered at once with the jobs on the machine (running, waiting or
            // blocked), and nothing else is decided.
            m.step(now++, { kind: 'poll', from: shardAddress(op.shard), to: machineAddress(0), poll: op.poll, job: 0 });
            expect(m.ready()).toEqual([{ kind: 'poll-answer', from: machineAddress(0), to: shardAddress(op.shard), poll: op.poll, jobs: state.size }]);
            m.advance();
          } else {
            const id = pickOf('running', op.pick) ?? pickOf('blocked', op.pick);
            if (id === undefined) continue;
            state.delete(id);
            apply({ kind: 'complete', job: id, memMB: 0 });
          }
          const running = [...state.values()].filter((s) => s.is === 'running');
          const waiting = [...state.values()].filter((s) => s.is === 'waiting');
          expect(m.jobs).toBe(state.size);
          expect(m.running).toBe(running.length);
          expect(running.length).toBeLessThanOrEqual(cores);
          if (waiting.length > 0) {
            expect(running.length).toBe(cores);
            const lowestRunning = Math.max(...running.map((s) => s.cls));
            const highestWaiting = Math.min(...waiting.map((s) => s.cls));
            expect(lowestRunning).toBeLessThanOrEqual(highestWaiting);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('Machine with a dispatcher: shard polls change nothing, on random scripts', () => {
  type Op =
    | { k: 'arrive'; cls: number; mb: number }
    | { k: 'complete'; pick: number }
    | { k: 'memory'; used: number }
    | { k: 'idle-answer'; which: number; stale: number; size: number }
    | { k: 'tick' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('arrive' as const), cls: fc.integer({ min: 0, max: 3 }), mb: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ k: fc.constant('complete' as const), pick: fc.nat(20) }),
    fc.record({ k: fc.constant('memory' as const), used: fc.integer({ min: 0, max: 1200 }) }),
    fc.record({ k: fc.constant('idle-answer' as const), which: fc.nat(3), stale: fc.nat(3), size: fc.nat(5) }),
    fc.record({ k: fc.constant('tick' as const) }),
  );

  /**
   * Runs the script on a machine with swapping and a dispatcher (with a poll timeout), a shard's poll
   * before each op where `polls` says so; returns every decision but the poll answers, as text, and
   * checks each poll answer against the machine's job count.
   */
  function run(ops: readonly Op[], polls: readonly boolean[]): string[] {
    const m = new Machine(
      machineConfig({
        id: 3, cores: 2, memoryMB: 1000, swap: { enabled: true, targetFraction: 0.8 },
        dispatcher: { shards: 4, k: 2, joinFreeMB: 600, leaveFreeMB: 200, updateDeltaMB: 100, pollTimeoutMs: 3 },
      }),
      new Rng('prop-poll'),
    );
    const lines: string[] = [];
    const running: number[] = [];
    const mem = new Map<number, number>();
    // The dispatcher's last poll of the shards, for the shards' answers.
    let idlePoll = { poll: 0, shards: [0] };
    let next = 1;
    const apply = (now: number, input: MachineInput): void => {
      m.step(now, input);
      for (const d of m.ready()) {
        if (d.kind === 'idle-poll') idlePoll = d.poll === idlePoll.poll ? { poll: d.poll, shards: [...idlePoll.shards, d.to.id] } : { poll: d.poll, shards: [d.to.id] };
        if (d.kind === 'run') running.push(d.job.id);
        if (d.kind === 'preempt') running.splice(running.indexOf(d.job.id), 1);
        lines.push(`t=${now} ${d.kind} ${JSON.stringify({ ...d, kind: undefined })}`);
      }
      m.advance();
    };
    ops.forEach((op, now) => {
      if (polls[now] === true) {
        const jobs = m.jobs;
        m.step(now, { kind: 'poll', from: shardAddress(now % 4), to: machineAddress(3), poll: now, job: 0 });
        // Short of memory (under the leave mark of 200 of its 1000 MB), it says so.
        const memoryLow = 1000 - m.usedMB < 200 ? { memoryLow: true } : {};
        expect(m.ready()).toEqual([{ kind: 'poll-answer', from: machineAddress(3), to: shardAddress(now % 4), poll: now, jobs, ...memoryLow }]);
        m.advance();
      }
      switch (op.k) {
        case 'arrive': {
          const id = next++;
          mem.set(id, op.mb);
          apply(now, { kind: 'arrive', job: { id, cls: op.cls, arrival: now, fn: 0 }, memMB: op.mb });
          break;
        }
        case 'complete': {
          if (running.length === 0) break;
          const id = running.splice(op.pick % running.length, 1)[0] as number;
          apply(now, { kind: 'complete', job: id, memMB: mem.get(id) ?? 0 });
          break;
        }
        case 'memory':
          apply(now, { kind: 'memory', usedMB: op.used });
          break;
        case 'idle-answer': {
          // An answer from one of the shards asked last (maybe a duplicate), or to the poll before.
          const shard = idlePoll.shards[op.which % idlePoll.shards.length] as number;
          apply(now, { kind: 'idle-answer', from: shardAddress(shard), to: machineAddress(3), poll: idlePoll.poll - (op.stale === 0 ? 1 : 0), size: op.size });
          break;
        }
        case 'tick':
          apply(now, { kind: 'tick' });
          break;
      }
    });
    return lines;
  }

  it('makes the same decisions with or without polls in between, and answers each with the jobs on the machine', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60, size: 'medium' }).chain((ops) => fc.tuple(fc.constant(ops), fc.array(fc.boolean(), { minLength: ops.length, maxLength: ops.length }))), ([ops, polls]) => {
        expect(run(ops, polls)).toEqual(run(ops, []));
      }),
      { numRuns: 200 },
    );
  });
});
