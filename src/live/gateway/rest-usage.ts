// /v1/invocations (status and result of Event invocations), /v1/bill, /v1/bills and /v1/usage.

import { monthOf, type Usage } from '../store/index.ts';
import { actingTenant } from './context.ts';
import { forbidden, notFound } from './errors.ts';
import { BYTES, EMPTY, route, type RestRequest, type Route } from './rest.ts';
import { FARE_ERROR, MONTH, TENANT_ID, z } from './schema.ts';
import { BUDGET_STATE, INVOCATION, invocationView, USAGE } from './views.ts';

/** An invocation is visible to the tenant that invoked it, the function's owner, and administrators. */
function visibleInvocation(r: RestRequest, id: string) {
  const inv = r.ctx.store.invocations.get(id);
  const p = r.principal;
  if (inv === undefined || (!p.admin && inv.caller !== p.tenant && inv.tenant !== p.tenant)) {
    throw notFound('FARE_E_INVOCATION_NOT_FOUND', `there is no invocation ${id} visible to tenant ${p.tenant}: use the request id returned with the 202 (x-amzn-RequestId)`);
  }
  return inv;
}

const ERRORS = { 400: FARE_ERROR, 403: FARE_ERROR, 404: FARE_ERROR } as const;
const TENANT_QUERY = { tenant: TENANT_ID.describe("Administrators: whose (default: the caller's)") } as const;
const MONTH_QUERY = { month: MONTH.describe('The UTC month, YYYY-MM (default: this one)') } as const;
const CLASS_USAGE = USAGE.extend({ cls: z.string().describe('The class it ran at') }).strict();
const BILL = USAGE.extend({
  tenant: z.string(),
  month: z.string(),
  budgetMicroCents: z.number().nullable(),
  budgetState: BUDGET_STATE.optional().describe('This month only'),
  functions: z.array(USAGE.extend({ function: z.string(), classes: z.array(CLASS_USAGE) }).strict()),
}).strict();
const BILLS = USAGE.extend({ month: z.string(), tenants: z.array(USAGE.extend({ tenant: z.string() }).strict()) }).strict();
const USAGE_BY_MONTH = z.strictObject({ tenant: z.string(), months: z.array(USAGE.extend({ month: z.string() }).strict()) });

export const usageRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/v1/invocations/{id}',
    operation: 'GetInvocation',
    summary: 'An invocation (Event, or sync): status, attempts, the result as JSON (or base64), the function error',
    who: 'the caller, the owner, administrators',
    answers: { 200: INVOCATION, ...ERRORS },
    handle: (r) => r.reply(200, invocationView(visibleInvocation(r, r.path.id))),
  }),
  route({
    method: 'GET',
    path: '/v1/invocations/{id}/result',
    operation: 'GetInvocationResult',
    summary: "An invocation's raw result (200), or nothing while it is queued or running (204); X-Fare-Status says which",
    who: 'the caller, the owner, administrators',
    answers: { 200: BYTES('application/json', 'The result as the function returned it'), 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const inv = visibleInvocation(r, r.path.id);
      const headers: Record<string, string> = { 'X-Fare-Status': inv.status, 'x-amzn-RequestId': inv.id };
      if (inv.status === 'queued' || inv.status === 'running') {
        r.reply(204, undefined, headers);
        return;
      }
      if (inv.functionError !== null) headers['X-Amz-Function-Error'] = inv.functionError;
      const body = inv.result ?? Buffer.alloc(0);
      r.res.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(body.length), 'X-Amz-Executed-Version': String(inv.version) });
      r.res.end(body);
    },
  }),
  route({
    method: 'GET',
    path: '/v1/bill',
    operation: 'GetBill',
    summary: "A tenant's bill for a month: totals, standing against the budget (this month), per function with per class",
    who: 'the tenant (administrators: ?tenant=)',
    query: { ...TENANT_QUERY, ...MONTH_QUERY },
    answers: { 200: BILL, ...ERRORS },
    handle: (r) => {
      const tenant = actingTenant(r.principal, r.query.tenant);
      const month = r.query.month ?? monthOf(r.ctx.clock());
      const t = r.ctx.store.tenants.get(tenant);
      if (t === undefined) throw notFound('FARE_E_TENANT_NOT_FOUND', `tenant ${tenant} does not exist`);
      const current = month === monthOf(r.ctx.clock());
      r.reply(200, {
        tenant,
        month,
        ...r.ctx.store.billing.tenantMonth(tenant, month),
        budgetMicroCents: t.budgetMicroCents,
        ...(current ? { budgetState: r.ctx.store.budgetState(tenant) } : {}),
        functions: r.ctx.store.billing.byFunction(tenant, month).map((f) => ({ ...f, classes: [...f.classes] })),
      });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/bills',
    operation: 'ListBills',
    summary: "Every tenant's totals for a month",
    who: 'administrators',
    query: MONTH_QUERY,
    answers: { 200: BILLS, ...ERRORS },
    handle: (r) => {
      if (!r.principal.admin) throw forbidden('only administrators may read every tenant\'s bill: use GET /v1/bill for your own');
      const month = r.query.month ?? monthOf(r.ctx.clock());
      const tenants = r.ctx.store.billing.byTenant(month);
      const total = tenants.reduce<Usage>(
        (s, t) => ({ invocations: s.invocations + t.invocations, cpuMs: s.cpuMs + t.cpuMs, memGBs: s.memGBs + t.memGBs, costMicroCents: s.costMicroCents + t.costMicroCents }),
        { invocations: 0, cpuMs: 0, memGBs: 0, costMicroCents: 0 },
      );
      r.reply(200, { month, ...total, tenants });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/usage',
    operation: 'GetUsage',
    summary: "A tenant's totals per month",
    who: 'the tenant (administrators: ?tenant=)',
    query: TENANT_QUERY,
    answers: { 200: USAGE_BY_MONTH, ...ERRORS },
    handle: (r) => {
      const tenant = actingTenant(r.principal, r.query.tenant);
      r.reply(200, { tenant, months: r.ctx.store.billing.months(tenant) });
    },
  }),
];
