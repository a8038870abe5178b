// Which price class each function of a trace gets: a documented, seeded rule that meets target
// shares of the invocations (issue 15). Units — functions, apps or owners — keep one class each; a
// unit's weight is its invocations over the whole trace (not the replayed range, nor anything that
// depends on the load), so one assignment holds for a whole sweep and for any range of minutes.
//
// The rule, randomized first-fit-decreasing: units in decreasing order of invocations (ties in a
// seeded random order); each goes to a class whose remaining quota (target share × all invocations,
// minus what it has) it fits in, drawn with probability proportional to that quota, or else to the
// class with the most quota left. Which class a large unit lands in varies with the seed whenever it
// fits in more than one. Up to `ATTEMPTS` draws are made; the first whose every class is within
// `TOLERANCE` of its target is kept, else the closest. Units given a class explicitly keep it and
// count against its quota. Pure: the caller passes the random stream.

import type { Rng } from '../../core/rng.ts';
import type { ResolvedTraceClasses } from './config.ts';
import { WorkloadError } from './trace-csv.ts';

/** How far (share of all invocations) a class may end from its target. */
export const TOLERANCE = 0.01;
const ATTEMPTS = 32;

export interface ClassAssignment {
  /** Per unit: its class. */
  readonly classOf: Uint8Array;
  /** Per class: its share of the invocations. */
  readonly shares: readonly number[];
  /** The largest |share − target| over the classes. */
  readonly worst: number;
}

/**
 * Classes for units with `counts` invocations each, aiming at `targets` (shares of the invocations,
 * highest class first, summing to 1). `fixed`: unit → class, kept as given.
 */
export function assignClasses(counts: ArrayLike<number>, targets: readonly number[], rng: Rng, fixed: ReadonlyMap<number, number> = new Map()): ClassAssignment {
  const n = counts.length;
  const k = targets.length;
  let total = 0;
  for (let u = 0; u < n; u++) total += counts[u] ?? 0;
  // Free units, largest first; ties in a random order drawn once.
  const tie = new Float64Array(n);
  for (let u = 0; u < n; u++) tie[u] = rng.next();
  const order = [...Array(n).keys()].filter((u) => !fixed.has(u)).sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || (tie[a] ?? 0) - (tie[b] ?? 0) || a - b);
  let best: ClassAssignment | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const classOf = new Uint8Array(n);
    const quota = targets.map((t) => t * total);
    for (const [u, c] of fixed) {
      classOf[u] = c;
      quota[c] = (quota[c] ?? 0) - (counts[u] ?? 0);
    }
    for (const u of order) {
      const size = counts[u] ?? 0;
      let room = 0;
      for (let c = 0; c < k; c++) if ((quota[c] ?? 0) >= size && (quota[c] ?? 0) > 0) room += quota[c] ?? 0;
      let pick = -1;
      if (room > 0) {
        let x = rng.next() * room;
        for (let c = 0; c < k; c++) {
          const q = quota[c] ?? 0;
          if (!(q >= size && q > 0)) continue;
          pick = c;
          x -= q;
          if (x < 0) break;
        }
      } else {
        for (let c = 0; c < k; c++) if (pick < 0 || (quota[c] ?? 0) > (quota[pick] ?? 0)) pick = c;
      }
      classOf[u] = pick;
      quota[pick] = (quota[pick] ?? 0) - size;
    }
    const shares = targets.map((t, c) => (total > 0 ? (t * total - (quota[c] ?? 0)) / total : 0));
    const worst = Math.max(...shares.map((s, c) => Math.abs(s - (targets[c] ?? 0))));
    if (best === undefined || worst < best.worst) best = { classOf, shares, worst };
    if (worst <= TOLERANCE) break;
  }
  return best as ClassAssignment;
}

/** Dense unit indexes for keys (in first-seen order), and each key's unit. */
export function unitsOf(keys: readonly string[]): { unit: Int32Array; names: string[] } {
  const ids = new Map<string, number>();
  const names: string[] = [];
  const unit = new Int32Array(keys.length);
  keys.forEach((key, i) => {
    let u = ids.get(key);
    if (u === undefined) {
      u = names.length;
      ids.set(key, u);
      names.push(key);
    }
    unit[i] = u;
  });
  return { unit, names };
}

/**
 * Each function's class by `cfg` (functions' unit keys in `keys`, their invocations over the whole
 * trace in `counts`). Throws WorkloadError naming a `fixed` key the trace does not have.
 */
export function classesOfFunctions(keys: readonly string[], counts: ArrayLike<number>, cfg: Readonly<ResolvedTraceClasses>, rng: Rng): { fnClass: Uint8Array; worst: number } {
  const { unit, names } = unitsOf(keys);
  const unitCounts = new Float64Array(names.length);
  for (let f = 0; f < keys.length; f++) unitCounts[unit[f] ?? 0] = (unitCounts[unit[f] ?? 0] ?? 0) + (counts[f] ?? 0);
  const fixed = new Map<number, number>();
  const index = new Map(names.map((name, u) => [name, u]));
  for (const [key, c] of Object.entries(cfg.fixed)) {
    const u = index.get(key);
    if (u === undefined) throw new WorkloadError('FARE_E_WORKLOAD_CONFIG', `workload.classes.fixed names ${JSON.stringify(key)}, which is no ${cfg.by} of the trace: give a ${cfg.by} key as the trace writes it`);
    fixed.set(u, c);
  }
  const a = assignClasses(unitCounts, cfg.shares, rng, fixed);
  const fnClass = new Uint8Array(keys.length);
  for (let f = 0; f < keys.length; f++) fnClass[f] = a.classOf[unit[f] ?? 0] ?? 0;
  return { fnClass, worst: a.worst };
}
