// /v1/tenants and /v1/grants: administrators create and list tenants; a tenant reads and sets its
// own budget and over-budget action, manages its credentials, and grants others access to its
// functions.

import { monthOf, StoreError } from '../store/index.ts';
import type { Principal } from './auth.ts';
import { actingTenant } from './context.ts';
import { ApiError, forbidden, notFound } from './errors.ts';
import { EMPTY, route, type RestRequest, type Route } from './rest.ts';
import { BUDGET, FARE_ERROR, OVER_BUDGET, TENANT_ID, bool, defined, object, str, z } from './schema.ts';
import { BUDGET_STATE, CREDENTIAL, credentialView, GRANT, grantView, NEW_CREDENTIAL_ANSWER, TENANT, tenantView, USAGE } from './views.ts';

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

const NAME = str({ min: 1, max: 200, description: 'A display name' });

const NEW_TENANT = object({
  id: TENANT_ID,
  name: NAME.optional(),
  budgetMicroCents: BUDGET.optional(),
  overBudget: OVER_BUDGET.optional(),
  admin: bool().optional().describe("The tenant's first credential is an administrator's"),
});

const TENANT_PATCH = object({ name: NAME.optional(), budgetMicroCents: BUDGET.optional(), overBudget: OVER_BUDGET.optional() });

const NEW_CREDENTIAL = object({ admin: bool().optional().describe("An administrator's credential (administrators only)") });

const GRANTED_FUNCTION = str({ min: 1, max: 64, pattern: /^(\*|[A-Za-z0-9_][A-Za-z0-9_-]*)$/, hint: 'give a function name, or "*" for all of them', description: 'A function name, or * for all of them' });
const NEW_GRANT = object({
  function: GRANTED_FUNCTION,
  grantee: TENANT_ID,
  owner: TENANT_ID.optional().describe('The granting tenant (administrators only; default: the caller)'),
});

const NEW_TENANT_ANSWER = z.strictObject({ tenant: TENANT, credential: NEW_CREDENTIAL_ANSWER.omit({ note: true }), note: z.string() });
const TENANT_DETAIL = TENANT.extend({ budgetState: BUDGET_STATE, thisMonth: USAGE, credentials: z.array(CREDENTIAL) });
const ERRORS = { 400: FARE_ERROR, 403: FARE_ERROR, 404: FARE_ERROR } as const;

/** The administrators' own tenant, which `fare up` creates: never counted as a served tenant. */
const ADMIN_TENANT = 'admin';

export const tenantRoutes: readonly Route[] = [
  route({
    method: 'POST',
    path: '/v1/tenants',
    operation: 'CreateTenant',
    summary: 'Creates a tenant and its first credential (the secret is shown only in this answer)',
    who: 'administrators',
    request: NEW_TENANT,
    answers: { 201: NEW_TENANT_ANSWER, 409: FARE_ERROR, ...ERRORS },
    handle: async (r) => {
      requireAdmin(r.principal, 'create tenants');
      const input = r.json();
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
        r.reply(201, {
          tenant: tenantView(tenant),
          credential: { ...credentialView(credential), secret: credential.secret },
          note: 'the secret is shown only now: store it; Fare keeps only a hash and a sealed copy',
        });
      } catch (e) {
        if (e instanceof StoreError && e.code === 'FARE_E_TENANT_EXISTS') throw new ApiError({ status: 409, code: 'FARE_E_TENANT_EXISTS', message: e.message, lambdaType: 'ResourceConflictException' });
        throw e;
      }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/tenants',
    operation: 'ListTenants',
    summary: 'Lists the tenants',
    who: 'administrators',
    answers: { 200: z.strictObject({ tenants: z.array(TENANT) }), ...ERRORS },
    handle: (r) => {
      requireAdmin(r.principal, 'list tenants');
      r.reply(200, { tenants: r.ctx.store.tenants.list().map(tenantView) });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/tenants/{id}',
    operation: 'GetTenant',
    summary: "A tenant with this month's usage, its standing against its budget and its credentials (ids only)",
    who: 'administrators, the tenant itself',
    answers: { 200: TENANT_DETAIL, ...ERRORS },
    handle: (r) => {
      const id = r.path.id;
      selfOrAdmin(r.principal, id);
      const t = tenantOr404(r, id);
      const store = r.ctx.store;
      r.reply(200, {
        ...tenantView(t),
        budgetState: store.budgetState(id),
        thisMonth: store.billing.tenantMonth(id, monthOf(r.ctx.clock())),
        credentials: store.credentials.list(id).map(credentialView),
      });
    },
  }),
  route({
    method: 'PATCH',
    path: '/v1/tenants/{id}',
    operation: 'UpdateTenant',
    summary: "Changes a tenant's name, budget (null: none) or over-budget action",
    who: 'administrators, the tenant itself',
    request: TENANT_PATCH,
    answers: { 200: TENANT, ...ERRORS },
    handle: (r) => {
      const id = r.path.id;
      selfOrAdmin(r.principal, id);
      tenantOr404(r, id);
      const t = r.ctx.store.tenants.update(id, defined(r.json()));
      if (t === undefined) throw notFound('FARE_E_TENANT_NOT_FOUND', `tenant ${id} does not exist`);
      r.reply(200, tenantView(t));
    },
  }),
  route({
    method: 'POST',
    path: '/v1/tenants/{id}/credentials',
    operation: 'CreateCredential',
    summary: 'Creates a credential (the secret is shown only in this answer)',
    who: 'administrators, the tenant itself',
    request: NEW_CREDENTIAL,
    emptyBody: true,
    answers: { 201: NEW_CREDENTIAL_ANSWER, ...ERRORS },
    handle: async (r) => {
      const id = r.path.id;
      selfOrAdmin(r.principal, id);
      tenantOr404(r, id);
      const { admin = false } = r.json();
      if (admin) requireAdmin(r.principal, 'create administrator credentials');
      const c = await r.ctx.store.credentials.create(id, { admin });
      r.reply(201, { ...credentialView(c), secret: c.secret, note: 'the secret is shown only now: store it' });
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/tenants/{id}/credentials/{accessKeyId}',
    operation: 'RevokeCredential',
    summary: 'Revokes a credential',
    who: 'administrators, the tenant itself',
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const { id, accessKeyId: akid } = r.path;
      selfOrAdmin(r.principal, id);
      const c = r.ctx.store.credentials.get(akid);
      if (c === undefined || c.tenant !== id) throw notFound('FARE_E_CREDENTIAL_NOT_FOUND', `tenant ${id} has no credential ${akid}: GET /v1/tenants/${id} lists them`);
      r.ctx.store.credentials.revoke(akid);
      r.ctx.auth.forget(akid);
      r.reply(204);
    },
  }),
  route({
    method: 'GET',
    path: '/v1/grants',
    operation: 'ListGrants',
    summary: 'The grants made by and to the caller (administrators: all, or those of ?tenant=)',
    who: 'anyone',
    query: { tenant: TENANT_ID },
    answers: { 200: z.strictObject({ grants: z.array(GRANT) }), ...ERRORS },
    handle: (r) => {
      const grants = r.principal.admin && r.query.tenant === undefined ? r.ctx.store.grants.list() : r.ctx.store.grants.involving(actingTenant(r.principal, r.query.tenant));
      r.reply(200, { grants: grants.map(grantView) });
    },
  }),
  route({
    method: 'POST',
    path: '/v1/grants',
    operation: 'CreateGrant',
    summary: 'Lets another tenant invoke a function (or all of them: "*"); its owner pays',
    who: 'the owner, administrators',
    request: NEW_GRANT,
    answers: { 201: GRANT, ...ERRORS },
    handle: (r) => {
      const g = r.json();
      const owner = actingTenant(r.principal, g.owner);
      tenantOr404(r, g.grantee);
      if (g.function !== '*' && r.ctx.store.functions.get(owner, g.function) === undefined) {
        throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${owner} has no function ${g.function}: deploy it first, or grant "*"`);
      }
      r.reply(201, grantView(r.ctx.store.grants.add(owner, g.function, g.grantee)));
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/grants',
    operation: 'DeleteGrant',
    summary: 'Removes a grant',
    who: 'the owner, administrators',
    query: { function: GRANTED_FUNCTION, grantee: TENANT_ID, owner: TENANT_ID },
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const owner = actingTenant(r.principal, r.query.owner);
      const { function: fn, grantee } = r.query;
      if (fn === undefined || grantee === undefined) throw notFound('FARE_E_GRANT_NOT_FOUND', 'name the grant to remove: DELETE /v1/grants?function=NAME&grantee=TENANT');
      if (!r.ctx.store.grants.remove(owner, fn, grantee)) throw notFound('FARE_E_GRANT_NOT_FOUND', `tenant ${owner} has not granted ${fn} to ${grantee}`);
      r.reply(204);
    },
  }),
];
