// A tiny single-machine executor for tests: runs jobs of known runtime on a `Machine` (or `Edf`) in
// virtual time, carrying out its run / preempt decisions and reporting completions, and returns when
// each job started and finished plus a timeline of who ran when. It is a reference: kept small and
// plain rather than fast, and it refuses (throws) any decision a real driver could not carry out.

import type { ClassIndex, JobId, Millis } from '../types.ts';
import type { Machine } from '../machine/machine.ts';
import type { Edf } from '../baselines/edf.ts';
import { formatDecision, formatValue, type Kinded } from './trace.ts';

export interface ExecJob {
  readonly id: JobId;
  readonly arrival: Millis;
  readonly cls: ClassIndex;
  /** Work in core-milliseconds; never told to the scheduler. */
  readonly runtime: Millis;
  /** For `edfTarget`: the job's absolute deadline. */
  readonly deadline?: Millis;
  /** For `machineTarget`: resident memory on arrival and when stopped (default 0). */
  readonly memMB?: number;
  readonly fn?: number;
}

/** A decision as the executor reads it: it acts on `run` and `preempt`, and only records the rest. */
export type ExecDecision = Kinded & { readonly job?: number | { readonly id: number } };

/** What the executor drives: a core object behind the three events a machine's driver reports. */
export interface ExecTarget {
  readonly name: string;
  readonly cores: number;
  /** Processor sharing (`ps`): every dispatched job runs, n jobs share the cores at rate min(1, cores/n). */
  readonly shared: boolean;
  arrive(now: Millis, job: ExecJob): readonly ExecDecision[];
  complete(now: Millis, job: ExecJob): readonly ExecDecision[];
  /** The executor carried out a preempt. */
  stopped(now: Millis, job: ExecJob): readonly ExecDecision[];
}

function take<D extends Kinded>(obj: { ready(): readonly D[]; advance(): void }): D[] {
  const out = obj.ready().slice();
  obj.advance();
  return out;
}

export function machineTarget(m: Machine, name = `machine/${m.cfg.id}`): ExecTarget {
  const asJob = (j: ExecJob) => ({ id: j.id, cls: j.cls, arrival: j.arrival, fn: j.fn ?? 0 });
  return {
    name,
    cores: m.cfg.cores,
    shared: m.cfg.policy === 'ps',
    arrive(now, j) {
      m.step(now, { kind: 'arrive', job: asJob(j), memMB: j.memMB ?? 0 });
      return take(m);
    },
    complete(now, j) {
      m.step(now, { kind: 'complete', job: j.id, memMB: j.memMB ?? 0 });
      return take(m);
    },
    stopped(now, j) {
      m.step(now, { kind: 'stopped', job: j.id, memMB: j.memMB ?? 0 });
      return take(m);
    },
  };
}

/** EDF with each job's `deadline` (or `deadlineOf(job)`). */
export function edfTarget(e: Edf, deadlineOf?: (j: ExecJob) => Millis, name = 'edf'): ExecTarget {
  const deadline = (j: ExecJob): Millis => {
    const d = deadlineOf ? deadlineOf(j) : j.deadline;
    if (d === undefined) throw new Error(`edfTarget: job ${j.id} has no deadline`);
    return d;
  };
  return {
    name,
    cores: e.cfg.cores,
    shared: false,
    arrive(now, j) {
      e.step(now, { kind: 'arrive', job: { id: j.id, cls: j.cls, arrival: j.arrival, fn: j.fn ?? 0 }, deadline: deadline(j) });
      return take(e);
    },
    complete(now, j) {
      e.step(now, { kind: 'complete', job: j.id });
      return take(e);
    },
    stopped() {
      return [];
    },
  };
}

export interface JobOutcome {
  readonly job: ExecJob;
  /** First `run`; undefined if it never ran. */
  start: Millis | undefined;
  /** When its work was done and the completion reported; undefined if never. */
  finish: Millis | undefined;
  /** Work received (core-ms); equals the runtime once finished. */
  service: number;
  preemptions: number;
}

/** A stretch of time during which `job` ran without being stopped. */
export interface Segment {
  readonly job: JobId;
  readonly from: Millis;
  readonly to: Millis;
}

/** The machine between two events: who ran and who waited (arrived, unfinished, not running), ids sorted. */
export interface Interval {
  readonly from: Millis;
  /** Infinity for a final stall: jobs left waiting with nothing running and nothing to come. */
  readonly to: Millis;
  readonly running: readonly JobId[];
  readonly waiting: readonly JobId[];
}

export interface ExecResult {
  /** One per job, in the order given. */
  readonly outcomes: readonly JobOutcome[];
  readonly byId: ReadonlyMap<JobId, JobOutcome>;
  readonly segments: readonly Segment[];
  readonly intervals: readonly Interval[];
  /** Every decision, as trace lines (`t=2 machine/0 preempt job=1`). */
  readonly trace: readonly string[];
  /** Time of the last event. */
  readonly end: Millis;
}

/** Remaining work below this counts as done (processor sharing divides work by non-integers). */
const EPS = 1e-9;

/**
 * Runs `jobs` on `target`. Arrivals are fed in (arrival, id) order; at one instant, completions are
 * reported before arrivals, and due completions in id order. Throws if the target runs a job that has
 * not arrived, is already running or is done, preempts a job that is not running, or (unless shared)
 * runs more jobs than it has cores.
 */
export function execute(target: ExecTarget, jobs: readonly ExecJob[], maxEvents = 1_000_000): ExecResult {
  const outcomes = jobs.map((job): JobOutcome => ({ job, start: undefined, finish: undefined, service: 0, preemptions: 0 }));
  const byId = new Map<JobId, JobOutcome>();
  for (const o of outcomes) {
    if (byId.has(o.job.id)) throw new Error(`execute: job ${o.job.id} given twice`);
    byId.set(o.job.id, o);
  }
  const order = [...outcomes].sort((a, b) => a.job.arrival - b.job.arrival || a.job.id - b.job.id);
  const remaining = new Map<JobId, number>(jobs.map((j) => [j.id, j.runtime]));
  const arrived = new Set<JobId>();
  const running = new Set<JobId>();
  const since = new Map<JobId, Millis>(); // open segment of each running job
  const segments: Segment[] = [];
  const intervals: Interval[] = [];
  const trace: string[] = [];
  let now = order[0]?.job.arrival ?? 0;
  let next = 0;

  const fail = (msg: string): never => {
    throw new Error(`execute t=${now} ${target.name}: ${msg}`);
  };
  const stop = (id: JobId): void => {
    running.delete(id);
    segments.push({ job: id, from: since.get(id) as Millis, to: now });
    since.delete(id);
  };
  const apply = (ds: readonly ExecDecision[]): void => {
    const todo = [...ds];
    for (let d = todo.shift(); d !== undefined; d = todo.shift()) {
      trace.push(`t=${formatValue(now)} ${target.name} ${formatDecision(d)}`);
      if (d.kind !== 'run' && d.kind !== 'preempt') continue;
      const o = d.job === undefined ? undefined : byId.get(typeof d.job === 'number' ? d.job : d.job.id);
      if (!o) return fail(`${d.kind} of unknown job ${formatValue(d.job)}`);
      const id = o.job.id;
      if (d.kind === 'run') {
        if (!arrived.has(id)) fail(`run of job ${id}, which has not arrived`);
        if (o.finish !== undefined) fail(`run of job ${id}, which is done`);
        if (running.has(id)) fail(`run of job ${id}, which is already running`);
        running.add(id);
        since.set(id, now);
        o.start ??= now;
      } else {
        if (!running.has(id)) fail(`preempt of job ${id}, which is not running`);
        stop(id);
        o.preemptions++;
        todo.push(...target.stopped(now, o.job));
      }
    }
  };
  const waitingIds = (): JobId[] =>
    [...arrived].filter((id) => !running.has(id) && byId.get(id)?.finish === undefined).sort((a, b) => a - b);

  for (let events = 0; ; events++) {
    if (events > maxEvents) fail(`more than ${maxEvents} events`);
    // Settle the instant: due completions (lowest id first), then arrivals, until nothing is due.
    for (;;) {
      const due = [...running].filter((id) => (remaining.get(id) as number) <= EPS).sort((a, b) => a - b)[0];
      if (due !== undefined) {
        const o = byId.get(due) as JobOutcome;
        stop(due);
        o.finish = now;
        apply(target.complete(now, o.job));
        continue;
      }
      const a = order[next];
      if (a !== undefined && a.job.arrival <= now) {
        next++;
        arrived.add(a.job.id);
        apply(target.arrive(now, a.job));
        continue;
      }
      break;
    }
    if (!target.shared && running.size > target.cores) fail(`${running.size} jobs running on ${target.cores} cores`);
    const rate = target.shared && running.size > target.cores ? target.cores / running.size : 1;
    let t = order[next]?.job.arrival ?? Infinity;
    for (const id of running) t = Math.min(t, now + (remaining.get(id) as number) / rate);
    const waiting = waitingIds();
    if (t === Infinity) {
      if (waiting.length) intervals.push({ from: now, to: Infinity, running: [], waiting });
      break;
    }
    intervals.push({ from: now, to: t, running: [...running].sort((a, b) => a - b), waiting });
    for (const id of running) {
      const work = rate * (t - now);
      remaining.set(id, (remaining.get(id) as number) - work);
      (byId.get(id) as JobOutcome).service += work;
    }
    now = t;
  }
  return { outcomes, byId, segments: segments.sort((a, b) => a.from - b.from || a.job - b.job), intervals, trace, end: now };
}
