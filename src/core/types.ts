// Shared vocabulary of the policy core: time, ids, jobs, and the contract every core object keeps.
// Nothing here does anything; it is the language the shard, machine and baselines speak.

/** Milliseconds on the driver's clock (virtual in the simulator, wall time in the live system). */
export type Millis = number;
export type JobId = number;
export type MachineId = number;
export type ShardId = number;
/** Index into the price table: 0 is the highest (most expensive) class. */
export type ClassIndex = number;

/** What the core knows of a job: never its runtime or memory (only the drivers and oracles do). */
export interface Job {
  readonly id: JobId;
  /** Effective price class (after inheritance along call chains). */
  readonly cls: ClassIndex;
  /** When the job entered the system (reached a shard). */
  readonly arrival: Millis;
  /** Function the job is an invocation of. */
  readonly fn: number;
}

/**
 * The contract of a core object (see STYLE.md): `step` is the only way state changes,
 * `ready` lists the decisions taken since the last `advance`, in order. Decision objects belong to
 * the core object and may be reused after `advance`: a driver that keeps one longer copies it.
 */
export interface CoreObject<Input, Decision> {
  step(now: Millis, input: Input): void;
  ready(): readonly Decision[];
  advance(): void;
  /** When the driver must step this object again even if no input arrives (Infinity: never). */
  nextDeadline(): Millis;
}

/** `T` with its readonly fields writable: for the objects a core object or driver reuses. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Exhaustiveness check for discriminated-union switches. */
export function unreachable(x: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(x)}`);
}

/** Broken invariant inside the core: carries enough to reproduce (seed, event number). */
export class InvariantError extends Error {
  constructor(message: string, context?: { seed?: number | string; event?: number }) {
    const where = context ? ` [seed=${String(context.seed ?? '?')} event=${String(context.event ?? '?')}]` : '';
    super(`invariant broken: ${message}${where}`);
    this.name = 'InvariantError';
  }
}
