// A tenant's standing against its monthly budget, for bills and tenant views: the core's admission
// rule (core/budget.ts) asked about an invocation estimated at nothing, with what is billed this month
// and what admitted invocations hold in reservations. Admission itself (with the invocation's
// estimate) is the gateway's `admitInvocation`; the rule is the core's, once.

import { budgetStanding, DEFAULT_BUDGET_POLICY } from '../../core/budget.ts';
import type { Tenant } from './tenants.ts';

export type BudgetState = 'ok' | 'warn' | 'throttle' | 'degrade';

/** Fraction of the allowance from which the state is `warn`. */
export const BUDGET_WARN_AT = DEFAULT_BUDGET_POLICY.warnAt;

/** The UTC calendar month around `now`: [start, end) in ms. */
export function monthBounds(now: number): { start: number; end: number } {
  const d = new Date(now);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/**
 * `ok`; `warn` from 80 % of the allowance; past it the tenant's action (`throttle`, or `degrade` up to
 * the budget and `throttle` at it). Spend counts what is billed and what is reserved.
 */
export function budgetState(tenant: Pick<Tenant, 'budgetMicroCents' | 'overBudget'>, spentMicroCents: number, reservedMicroCents: number, now: number): BudgetState {
  const budget = tenant.budgetMicroCents;
  if (budget === null) return 'ok';
  const { start, end } = monthBounds(now);
  return budgetStanding({ now, monthStart: start, monthEnd: end, budget, action: tenant.overBudget, spent: spentMicroCents, reserved: reservedMicroCents }).kind;
}
