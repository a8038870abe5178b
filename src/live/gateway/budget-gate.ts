// Budget admission at the edge: gathers the numbers the core's rule (core/budget.ts) is judged on —
// the owner's spend billed this month, what its admitted invocations hold in reservations, this
// invocation's estimate at its class and at the cheapest (from its function's recent executions) —
// and returns the verdict with the class to run at and the reservation to hold until billed. Asked
// when a RequestResponse or Event invocation is accepted (lambda-api.ts) and when an Event is claimed
// (async-runner.ts).

import { admit, estimateCost } from '../../core/budget.ts';
import type { PriceTable } from '../../core/classes.ts';
import { monthBounds, monthOf, type FunctionRecord, type Store } from '../store/index.ts';

export type BudgetVerdict =
  /** Run at `cls` (the cheapest class for `degrade`), holding `reserve` µ¢ of the budget until billed. */
  | { readonly kind: 'ok' | 'warn' | 'degrade'; readonly cls: number; readonly reserve: number }
  /** Not before `retryAt`: spent + reserved + estimate would pass `limit` (the allowance, or the budget). */
  | { readonly kind: 'throttle'; readonly retryAt: number; readonly spent: number; readonly reserved: number; readonly estimate: number; readonly limit: number; readonly line: 'allowance' | 'budget' };

/**
 * Admission of one invocation of `fn` at class `cls`, for its owner (the owner pays). `held`: µ¢ this
 * invocation already holds (a queued Event's reservation, at its claim), left out of the reserved
 * total. A tenant without a budget is admitted without an estimate (nothing to reserve).
 */
export function admitInvocation(store: Store, prices: PriceTable, now: number, fn: FunctionRecord, cls: number, held = 0): BudgetVerdict {
  const tenant = store.tenants.get(fn.tenant);
  if (tenant === undefined || tenant.budgetMicroCents === null) return { kind: 'ok', cls, reserve: 0 };
  const cheapest = prices.classes.length - 1;
  const recent = store.costs.recent(fn.tenant, fn.name);
  const { start, end } = monthBounds(now);
  const q = {
    now,
    monthStart: start,
    monthEnd: end,
    budget: tenant.budgetMicroCents,
    action: tenant.overBudget,
    spent: store.billing.tenantMonth(fn.tenant, monthOf(now)).costMicroCents,
    reserved: Math.max(0, store.reservations.total(fn.tenant) - held),
    estimate: estimateCost(prices, cls, recent, fn.timeoutMs),
    cheapestEstimate: estimateCost(prices, cheapest, recent, fn.timeoutMs),
  };
  const v = admit(q);
  switch (v.kind) {
    case 'ok':
    case 'warn':
      return { kind: v.kind, cls, reserve: v.reserve };
    case 'degrade':
      return { kind: 'degrade', cls: cheapest, reserve: v.reserve };
    case 'throttle':
      return { kind: 'throttle', retryAt: v.retryAt, spent: q.spent, reserved: q.reserved, estimate: v.estimate, limit: v.limit, line: v.line };
  }
}

/** `12.3 µ¢`: money for messages, to six significant digits. */
export const microCents = (uc: number): string => `${Number(uc.toPrecision(6))} µ¢`;

/** Every tenant's spend billed this month and its budget (null: none), for the metrics read at each scrape. */
export function tenantSpends(store: Store, now: number): { tenant: string; spentMicroCents: number; budgetMicroCents: number | null }[] {
  const month = monthOf(now);
  return store.tenants.list().map((t) => ({ tenant: t.id, spentMicroCents: store.billing.tenantMonth(t.id, month).costMicroCents, budgetMicroCents: t.budgetMicroCents }));
}
