// The core's test kit: decision traces, a reference single-machine executor, invariant checks, a
// brute-force deadline oracle and fixtures. Pure, like the rest of the core.

export { formatDecision, formatValue, runScript, Tracer, type Kinded, type Script, type TracerOptions } from './trace.ts';
export {
  edfTarget, execute, machineTarget,
  type ExecDecision, type ExecJob, type ExecResult, type ExecTarget, type Interval, type JobOutcome, type Segment,
} from './executor.ts';
export { classInversions, deadlineInversions, deadlineMisses, fcfsViolations, idleWhileWaiting, lostOrMiscounted } from './invariants.ts';
export { feasible, type DeadlineJob } from './feasible.ts';
export { job, machineConfig, prices, shardConfig } from './fixtures.ts';
