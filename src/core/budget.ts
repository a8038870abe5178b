// Monthly budgets: is a tenant's spend "out of reason" for its budget? The allowance grows with the
// month — spend may run ahead of an even pace by a burst factor, plus a small floor for the first days —
// and never passes the budget itself. Past the allowance the gateway throttles or degrades (the tenant
// chooses); past a warning fraction of it, it warns. Overspend is bounded by work already admitted.

import type { Millis } from './types.ts';

export interface BudgetPolicy {
  /** Spend may run this many times ahead of an even pace through the month. */
  readonly burst: number;
  /** Fraction of the budget allowed from the first moment of the month. */
  readonly floor: number;
  /** Warn once spend passes this fraction of the allowance. */
  readonly warnAt: number;
}

export const DEFAULT_BUDGET_POLICY: BudgetPolicy = { burst: 2, floor: 0.05, warnAt: 0.8 };

export type BudgetState = 'ok' | 'warn' | 'over';

export interface BudgetVerdict {
  readonly state: BudgetState;
  /** Spend allowed by now (µ¢). */
  readonly allowance: number;
  /** Spend so far this month (µ¢). */
  readonly spent: number;
  /** When the allowance will have grown past the current spend (Infinity if only a new month helps). */
  readonly retryAt: Millis;
}

/**
 * Judges spend against a monthly budget at `now`, for a month running over [monthStart, monthEnd).
 * A budget of Infinity (or none) is always ok.
 */
export function judgeBudget(now: Millis, monthStart: Millis, monthEnd: Millis, spent: number, budget: number, policy: BudgetPolicy = DEFAULT_BUDGET_POLICY): BudgetVerdict {
  if (!Number.isFinite(budget)) return { state: 'ok', allowance: Infinity, spent, retryAt: now };
  const len = Math.max(1, monthEnd - monthStart);
  const elapsed = Math.min(1, Math.max(0, (now - monthStart) / len));
  const allowance = budget * Math.min(1, policy.floor + policy.burst * elapsed);
  if (spent >= allowance) {
    // The allowance reaches `spent` when floor + burst × elapsed = spent / budget.
    const need = spent / budget;
    const retryAt = need >= 1 ? monthEnd : monthStart + ((need - policy.floor) / policy.burst) * len;
    return { state: 'over', allowance, spent, retryAt: Math.max(now, retryAt) };
  }
  return { state: spent >= policy.warnAt * allowance ? 'warn' : 'ok', allowance, spent, retryAt: now };
}
