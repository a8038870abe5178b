// /v1/invocations (status and result of Event invocations), /v1/bill, /v1/bills and /v1/usage.

import { monthOf, type Usage } from '../store/index.ts';
import { actingTenant } from './context.ts';
import { forbidden, notFound } from './errors.ts';
import { sendJson } from './http.ts';
import { queryParam, type RestRequest, type Route } from './rest.ts';
import { MONTH, TENANT_ID } from './validate.ts';
import { invocationView } from './views.ts';

/** An invocation is visible to the tenant that invoked it, the function's owner, and administrators. */
function visibleInvocation(r: RestRequest) {
  const id = r.params[0] ?? '';
  const inv = r.ctx.store.invocations.get(id);
  const p = r.principal;
  if (inv === undefined || (!p.admin && inv.caller !== p.tenant && inv.tenant !== p.tenant)) {
    throw notFound('FARE_E_INVOCATION_NOT_FOUND', `there is no invocation ${id} visible to tenant ${p.tenant}: use the request id returned with the 202 (x-amzn-RequestId)`);
  }
  return inv;
}

function invocationResult(r: RestRequest): void {
  const inv = visibleInvocation(r);
  const headers: Record<string, string> = { 'X-Fare-Status': inv.status, 'x-amzn-RequestId': inv.id };
  if (inv.status === 'queued' || inv.status === 'running') {
    r.res.writeHead(204, headers);
    r.res.end();
    return;
  }
  if (inv.functionError !== null) headers['X-Amz-Function-Error'] = inv.functionError;
  const body = inv.result ?? Buffer.alloc(0);
  r.res.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(body.length), 'X-Amz-Executed-Version': String(inv.version) });
  r.res.end(body);
}

function bill(r: RestRequest): void {
  const tenant = actingTenant(r.principal, queryParam(r, 'tenant', TENANT_ID));
  const month = queryParam(r, 'month', MONTH) ?? monthOf(r.ctx.clock());
  const t = r.ctx.store.tenants.get(tenant);
  if (t === undefined) throw notFound('FARE_E_TENANT_NOT_FOUND', `tenant ${tenant} does not exist`);
  const current = month === monthOf(r.ctx.clock());
  sendJson(r.res, 200, {
    tenant,
    month,
    ...r.ctx.store.billing.tenantMonth(tenant, month),
    budgetMicroCents: t.budgetMicroCents,
    ...(current ? { budgetState: r.ctx.store.budgetState(tenant) } : {}),
    functions: r.ctx.store.billing.byFunction(tenant, month),
  });
}

function bills(r: RestRequest): void {
  if (!r.principal.admin) throw forbidden('only administrators may read every tenant\'s bill: use GET /v1/bill for your own');
  const month = queryParam(r, 'month', MONTH) ?? monthOf(r.ctx.clock());
  const tenants = r.ctx.store.billing.byTenant(month);
  const total = tenants.reduce<Usage>(
    (s, t) => ({ invocations: s.invocations + t.invocations, cpuMs: s.cpuMs + t.cpuMs, memGBs: s.memGBs + t.memGBs, costMicroCents: s.costMicroCents + t.costMicroCents }),
    { invocations: 0, cpuMs: 0, memGBs: 0, costMicroCents: 0 },
  );
  sendJson(r.res, 200, { month, ...total, tenants });
}

function usage(r: RestRequest): void {
  const tenant = actingTenant(r.principal, queryParam(r, 'tenant', TENANT_ID));
  sendJson(r.res, 200, { tenant, months: r.ctx.store.billing.months(tenant) });
}

export const usageRoutes: readonly Route[] = [
  { method: 'GET', pattern: /^\/v1\/invocations\/([^/]+)\/?$/, handle: (r) => sendJson(r.res, 200, invocationView(visibleInvocation(r))) },
  { method: 'GET', pattern: /^\/v1\/invocations\/([^/]+)\/result\/?$/, handle: invocationResult },
  { method: 'GET', pattern: /^\/v1\/bill\/?$/, handle: bill },
  { method: 'GET', pattern: /^\/v1\/bills\/?$/, handle: bills },
  { method: 'GET', pattern: /^\/v1\/usage\/?$/, handle: usage },
];
