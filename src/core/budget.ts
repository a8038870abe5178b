// Monthly budgets: may a tenant start one more invocation? The allowance grows with the month — spend
// may run ahead of an even pace by a burst factor, plus a small floor for the first days — and never
// passes the budget itself. An invocation is admitted when what is billed, plus the estimates of the
// invocations admitted and not yet billed, plus its own estimate, stays within the line: the allowance
// (`throttle`), or between the allowance and the budget at the cheapest class (`degrade`). The
// estimate of one invocation comes from its function's recent resource use. Pure: the drivers supply
// the numbers (spend, reservations, history, now) and carry out the verdict.

import { chargeFor, type PriceTable } from './classes.ts';
import type { ClassIndex, Millis } from './types.ts';

export interface BudgetPolicy {
  /** Spend may run this many times ahead of an even pace through the month. */
  readonly burst: number;
  /** Fraction of the budget allowed from the first moment of the month. */
  readonly floor: number;
  /** Warn once committed spend passes this fraction of the allowance. */
  readonly warnAt: number;
}

export const DEFAULT_BUDGET_POLICY: BudgetPolicy = { burst: 2, floor: 0.05, warnAt: 0.8 };

/** What a tenant chose for spend past its allowance. */
export type OverBudgetAction = 'throttle' | 'degrade';

/** Spend allowed by `now` in a month running over [monthStart, monthEnd): budget × min(1, floor + burst × elapsed). */
export function paceAllowance(now: Millis, monthStart: Millis, monthEnd: Millis, budget: number, policy: BudgetPolicy = DEFAULT_BUDGET_POLICY): number {
  if (!Number.isFinite(budget)) return Infinity;
  const len = Math.max(1, monthEnd - monthStart);
  const elapsed = Math.min(1, Math.max(0, (now - monthStart) / len));
  return budget * Math.min(1, policy.floor + policy.burst * elapsed);
}

/**
 * The first whole millisecond, not before `now`, at which the allowance is at least `amount` (and
 * more than `over`, if given); `monthEnd` when that never happens this month (past the budget: only
 * a new month helps).
 */
export function allowanceReachesAt(amount: number, now: Millis, monthStart: Millis, monthEnd: Millis, budget: number, policy: BudgetPolicy = DEFAULT_BUDGET_POLICY, over = -Infinity): Millis {
  if (!Number.isFinite(budget)) return now;
  if (amount > budget || over >= budget) return Math.max(now, monthEnd);
  // The allowance never falls as time passes (rounding keeps that), so the first whole ms that fits
  // is found by bisection, exactly, whatever the floating-point numbers (a closed-form solution is a
  // step or more off for tiny budgets, where the allowance moves in subnormal steps).
  const fits = (t: Millis): boolean => {
    const a = paceAllowance(t, monthStart, monthEnd, budget, policy);
    return a >= amount && a > over;
  };
  let lo = now;
  let hi = monthEnd;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo < monthEnd ? lo : Math.max(now, monthEnd);
}

/** The numbers one admission is judged on; money in µ¢. */
export interface AdmissionQuery {
  readonly now: Millis;
  readonly monthStart: Millis;
  readonly monthEnd: Millis;
  /** Monthly budget; Infinity when the tenant has none. */
  readonly budget: number;
  readonly action: OverBudgetAction;
  /** Billed so far this month. */
  readonly spent: number;
  /** Estimates of the tenant's invocations admitted and not yet billed (this one's own excluded). */
  readonly reserved: number;
  /** This invocation's estimated cost at the class it would run at. */
  readonly estimate: number;
  /** Its estimated cost at the cheapest class (where `degrade` runs it). */
  readonly cheapestEstimate: number;
}

export type Admission =
  /** Runs at its class; `warn` once committed spend passes `warnAt` of the allowance. Hold `reserve` until billed. */
  | { readonly kind: 'ok' | 'warn'; readonly reserve: number; readonly allowance: number }
  /** Past the allowance, within the budget: runs at the cheapest class. Hold `reserve` until billed. */
  | { readonly kind: 'degrade'; readonly reserve: number; readonly allowance: number }
  /**
   * Not now. `limit` is the line it would cross (the allowance, or the budget under `degrade`),
   * `line` which one that is (`budget` once the allowance has grown to the whole budget), `estimate`
   * the estimate it was judged with (the cheapest class's under `degrade`), `need` what it would take
   * (spent + reserved + estimate), `retryAt` when the line will have grown past `need` (the month's
   * end when only a new month helps).
   */
  | {
      readonly kind: 'throttle';
      readonly retryAt: Millis;
      readonly allowance: number;
      readonly limit: number;
      readonly line: 'allowance' | 'budget';
      readonly estimate: number;
      readonly need: number;
    };

/**
 * Judges one invocation: admitted while spent + reserved + estimate ≤ the allowance (and something
 * is left: spent + reserved < the allowance, which decides a zero estimate); under `degrade`, past
 * the allowance, while spent + reserved + cheapestEstimate ≤ (and spent + reserved <) the budget,
 * at the cheapest class; otherwise throttled. No budget (Infinity) admits everything.
 */
export function admit(q: AdmissionQuery, policy: BudgetPolicy = DEFAULT_BUDGET_POLICY): Admission {
  if (!Number.isFinite(q.budget)) return { kind: 'ok', reserve: q.estimate, allowance: Infinity };
  const allowance = paceAllowance(q.now, q.monthStart, q.monthEnd, q.budget, policy);
  const committed = q.spent + q.reserved;
  const need = committed + q.estimate;
  if (committed < allowance && need <= allowance) {
    return { kind: need >= policy.warnAt * allowance ? 'warn' : 'ok', reserve: q.estimate, allowance };
  }
  switch (q.action) {
    case 'throttle':
      return {
        kind: 'throttle',
        retryAt: allowanceReachesAt(need, q.now, q.monthStart, q.monthEnd, q.budget, policy, committed),
        allowance,
        limit: allowance,
        line: allowance < q.budget ? 'allowance' : 'budget',
        estimate: q.estimate,
        need,
      };
    case 'degrade': {
      const cheap = committed + q.cheapestEstimate;
      if (committed < q.budget && cheap <= q.budget) return { kind: 'degrade', reserve: q.cheapestEstimate, allowance };
      // The budget does not grow: only a new month makes room.
      return { kind: 'throttle', retryAt: Math.max(q.now, q.monthEnd), allowance, limit: q.budget, line: 'budget', estimate: q.cheapestEstimate, need: cheap };
    }
    default: {
      const never: never = q.action;
      throw new Error(`unknown over-budget action ${String(never)}`);
    }
  }
}

/** A tenant's standing (for bills and tenant views): the verdict for an invocation estimated at nothing. */
export function budgetStanding(q: Omit<AdmissionQuery, 'estimate' | 'cheapestEstimate'>, policy: BudgetPolicy = DEFAULT_BUDGET_POLICY): Admission {
  return admit({ ...q, estimate: 0, cheapestEstimate: 0 }, policy);
}

/** What one past execution of a function used. */
export interface ResourceUse {
  readonly cpuMs: number;
  readonly memGBs: number;
}

/** How many of a function's latest billed executions its estimate looks at. */
export const ESTIMATE_WINDOW = 20;

/** Memory assumed for a function with no history: 1 GB for its whole timeout (with one core). */
export const DEFAULT_ESTIMATE_MEMORY_GB = 1;

/**
 * The estimated cost (µ¢) of one invocation at class `cls`: the most any of its function's recent
 * executions (the last `ESTIMATE_WINDOW`, whatever class they ran at) would cost at `cls` — so that
 * reservations cover what a run like the recent ones costs and admission stops within one
 * invocation of the line — or, with no history, one core and `DEFAULT_ESTIMATE_MEMORY_GB` for the
 * function's whole timeout.
 */
export function estimateCost(table: PriceTable, cls: ClassIndex, recent: readonly ResourceUse[], timeoutMs: number): number {
  if (recent.length === 0) return chargeFor(table, cls, timeoutMs, (timeoutMs / 1000) * DEFAULT_ESTIMATE_MEMORY_GB).total;
  let most = 0;
  const from = Math.max(0, recent.length - ESTIMATE_WINDOW);
  for (let i = from; i < recent.length; i++) {
    const r = recent[i] as ResourceUse;
    most = Math.max(most, chargeFor(table, cls, r.cpuMs, r.memGBs).total);
  }
  return most;
}
