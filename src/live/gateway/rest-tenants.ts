// /v1/tenants and /v1/grants: administrators create and list tenants; a tenant reads and sets its
// own budget and over-budget action, manages its credentials, and grants others access to its
// functions.

import { monthOf, StoreError } from '../store/index.ts';
import type { Principal } from './auth.ts';
import { actingTenant } from './context.ts';
import { ApiError, forbidden, notFound } from './errors.ts';
import { sendEmpty, sendJson } from './http.ts';
import { jsonBody, queryParam, type RestRequest, type Route } from './rest.ts';
import { BUDGET, OVER_BUDGET, TENANT_ID, bool, defined, object, optional, str } from './validate.ts';
import { credentialView, grantView, tenantView } from './views.ts';

const requireAdmin = (p: Principal, what: string): void => {
  if (!p.admin) throw forbidden(`only administrators may ${what}: use an administrator's credential`);
};

const selfOrAdmin = (p: Principal, tenant: string): void => {
  if (p.tenant !== tenant && !p.admin) throw forbidden(`tenant ${p.tenant} may not act on tenant ${tenant}`);
};

const tenantOr404 = (r: RestRequest, id: string) => {
  const t = r.ctx.store.tenants.get(id);
  if (t === undefined) throw notFound('FARE_E_TENANT_NOT_FOUND', `tenant ${id} does not exist: GET /v1/tenants lists them`);
  return t;
};

const NEW_TENANT = object({
  id: TENANT_ID,
  name: optional(str({ min: 1, max: 200 })),
  budgetMicroCents: optional(BUDGET),
  overBudget: optional(OVER_BUDGET),
  admin: optional(bool()),
});

const TENANT_PATCH = object({ name: optional(str({ min: 1, max: 200 })), budgetMicroCents: optional(BUDGET), overBudget: optional(OVER_BUDGET) });

const NEW_CREDENTIAL = object({ admin: optional(bool()) });

const NEW_GRANT = object({
  function: str({ min: 1, max: 64, pattern: /^(\*|[A-Za-z0-9_][A-Za-z0-9_-]*)$/, hint: 'give a function name, or "*" for all of them' }),
  grantee: TENANT_ID,
  owner: optional(TENANT_ID),
});

/** The administrators' own tenant, which `fare up` creates: never counted as a served tenant. */
const ADMIN_TENANT = 'admin';

async function createTenant(r: RestRequest): Promise<void> {
  requireAdmin(r.principal, 'create tenants');
  const input = jsonBody(r, NEW_TENANT);
  if (r.ctx.platform.tenancy === 'single') {
    const others = r.ctx.store.tenants.list().filter((t) => t.id !== ADMIN_TENANT);
    if (others.length > 0) {
      throw new ApiError({
        status: 409,
        code: 'FARE_E_SINGLE_TENANT',
        message: `this machine cannot keep tenants apart (no instance sandbox: see the "isolation:" line Fare printed at start), so it serves one tenant besides ${ADMIN_TENANT}, and ${others.map((t) => t.id).join(', ')} exists: run Fare as root on Linux with a C compiler (for its sandbox helper), or start it with --insecure-single-tenant to serve several tenants that can then read each other's data`,
        lambdaType: 'ResourceConflictException',
      });
    }
  }
  try {
    const { tenant, credential } = await r.ctx.store.createTenant(
      { id: input.id, ...defined({ name: input.name, budgetMicroCents: input.budgetMicroCents, overBudget: input.overBudget }) },
      { admin: input.admin ?? false },
    );
    sendJson(r.res, 201, {
      tenant: tenantView(tenant),
      credential: { ...credentialView(credential), secret: credential.secret },
      note: 'the secret is shown only now: store it; Fare keeps only a hash and a sealed copy',
    });
  } catch (e) {
    if (e instanceof StoreError && e.code === 'FARE_E_TENANT_EXISTS') throw new ApiError({ status: 409, code: 'FARE_E_TENANT_EXISTS', message: e.message, lambdaType: 'ResourceConflictException' });
    throw e;
  }
}

function getTenant(r: RestRequest): void {
  const id = r.params[0] ?? '';
  selfOrAdmin(r.principal, id);
  const t = tenantOr404(r, id);
  const store = r.ctx.store;
  sendJson(r.res, 200, {
    ...tenantView(t),
    budgetState: store.budgetState(id),
    thisMonth: store.billing.tenantMonth(id, monthOf(r.ctx.clock())),
    credentials: store.credentials.list(id).map(credentialView),
  });
}

function patchTenant(r: RestRequest): void {
  const id = r.params[0] ?? '';
  selfOrAdmin(r.principal, id);
  tenantOr404(r, id);
  const patch = jsonBody(r, TENANT_PATCH);
  const t = r.ctx.store.tenants.update(id, defined(patch));
  if (t === undefined) throw notFound('FARE_E_TENANT_NOT_FOUND', `tenant ${id} does not exist`);
  sendJson(r.res, 200, tenantView(t));
}

async function createCredential(r: RestRequest): Promise<void> {
  const id = r.params[0] ?? '';
  selfOrAdmin(r.principal, id);
  tenantOr404(r, id);
  const { admin = false } = jsonBody(r, NEW_CREDENTIAL, true);
  if (admin) requireAdmin(r.principal, 'create administrator credentials');
  const c = await r.ctx.store.credentials.create(id, { admin });
  sendJson(r.res, 201, { ...credentialView(c), secret: c.secret, note: 'the secret is shown only now: store it' });
}

function revokeCredential(r: RestRequest): void {
  const [id = '', akid = ''] = r.params;
  selfOrAdmin(r.principal, id);
  const c = r.ctx.store.credentials.get(akid);
  if (c === undefined || c.tenant !== id) throw notFound('FARE_E_CREDENTIAL_NOT_FOUND', `tenant ${id} has no credential ${akid}: GET /v1/tenants/${id} lists them`);
  r.ctx.store.credentials.revoke(akid);
  r.ctx.auth.forget(akid);
  sendEmpty(r.res, 204);
}

function listGrants(r: RestRequest): void {
  const grants = r.principal.admin && r.url.searchParams.get('tenant') === null ? r.ctx.store.grants.list() : r.ctx.store.grants.involving(actingTenant(r.principal, queryParam(r, 'tenant', TENANT_ID)));
  sendJson(r.res, 200, { grants: grants.map(grantView) });
}

function addGrant(r: RestRequest): void {
  const g = jsonBody(r, NEW_GRANT);
  const owner = actingTenant(r.principal, g.owner);
  tenantOr404(r, g.grantee);
  if (g.function !== '*' && r.ctx.store.functions.get(owner, g.function) === undefined) {
    throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${owner} has no function ${g.function}: deploy it first, or grant "*"`);
  }
  sendJson(r.res, 201, grantView(r.ctx.store.grants.add(owner, g.function, g.grantee)));
}

function removeGrant(r: RestRequest): void {
  const owner = actingTenant(r.principal, queryParam(r, 'owner', TENANT_ID));
  const fn = queryParam(r, 'function', str({ min: 1, pattern: /^(\*|[A-Za-z0-9_][A-Za-z0-9_-]*)$/, hint: 'a function name or "*"' }));
  const grantee = queryParam(r, 'grantee', TENANT_ID);
  if (fn === undefined || grantee === undefined) throw notFound('FARE_E_GRANT_NOT_FOUND', 'name the grant to remove: DELETE /v1/grants?function=NAME&grantee=TENANT');
  if (!r.ctx.store.grants.remove(owner, fn, grantee)) throw notFound('FARE_E_GRANT_NOT_FOUND', `tenant ${owner} has not granted ${fn} to ${grantee}`);
  sendEmpty(r.res, 204);
}

export const tenantRoutes: readonly Route[] = [
  { method: 'POST', pattern: /^\/v1\/tenants\/?$/, handle: createTenant },
  {
    method: 'GET',
    pattern: /^\/v1\/tenants\/?$/,
    handle: (r) => {
      requireAdmin(r.principal, 'list tenants');
      sendJson(r.res, 200, { tenants: r.ctx.store.tenants.list().map(tenantView) });
    },
  },
  { method: 'GET', pattern: /^\/v1\/tenants\/([^/]+)\/?$/, handle: getTenant },
  { method: 'PATCH', pattern: /^\/v1\/tenants\/([^/]+)\/?$/, handle: patchTenant },
  { method: 'POST', pattern: /^\/v1\/tenants\/([^/]+)\/credentials\/?$/, handle: createCredential },
  { method: 'DELETE', pattern: /^\/v1\/tenants\/([^/]+)\/credentials\/([^/]+)\/?$/, handle: revokeCredential },
  { method: 'GET', pattern: /^\/v1\/grants\/?$/, handle: listGrants },
  { method: 'POST', pattern: /^\/v1\/grants\/?$/, handle: addGrant },
  { method: 'DELETE', pattern: /^\/v1\/grants\/?$/, handle: removeGrant },
];
