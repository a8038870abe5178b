// A tenant's standing against its monthly budget. The paper treats the budget as a guideline: when
// spend is out of reason for it — ahead of the allowance that core/budget.ts grows through the month,
// and never past the budget — invocations are throttled or run at the lowest class; small overruns
// are possible (an invocation already admitted is still billed).

import { judgeBudget } from '../../core/budget.ts';
import type { OverBudgetAction, Tenant } from './tenants.ts';

export type BudgetState = 'ok' | 'warn' | 'throttle' | 'degrade';

/** Fraction of the allowance from which the state is `warn`. */
export const BUDGET_WARN_AT = 0.8;

/** The UTC calendar month around `now`: [start, end) in ms. */
export function monthBounds(now: number): { start: number; end: number } {
  const d = new Date(now);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/** When spending may resume (ms since the epoch): the allowance grows through the month. */
export function budgetRetryAt(tenant: Pick<Tenant, 'budgetMicroCents'>, spentMicroCents: number, now: number): number {
  const budget = tenant.budgetMicroCents;
  if (budget === null) return now;
  const { start, end } = monthBounds(now);
  return judgeBudget(now, start, end, spentMicroCents, budget, { burst: 2, floor: 0.05, warnAt: BUDGET_WARN_AT }).retryAt;
}

export function budgetState(tenant: Pick<Tenant, 'budgetMicroCents' | 'overBudget'>, spentMicroCents: number, now: number): BudgetState {
  const budget = tenant.budgetMicroCents;
  if (budget === null) return 'ok';
  const { start, end } = monthBounds(now);
  const v = judgeBudget(now, start, end, spentMicroCents, budget, { burst: 2, floor: 0.05, warnAt: BUDGET_WARN_AT });
  switch (v.state) {
    case 'ok':
      return 'ok';
    case 'warn':
      return 'warn';
    case 'over':
      return overBudget(tenant.overBudget);
  }
}

function overBudget(action: OverBudgetAction): BudgetState {
  switch (action) {
    case 'throttle':
      return 'throttle';
    case 'degrade':
      return 'degrade';
    default: {
      const never: never = action;
      throw new Error(`unknown over-budget action ${String(never)}`);
    }
  }
}
