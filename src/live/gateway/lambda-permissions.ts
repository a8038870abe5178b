// Lambda's resource-based policy of a function (2015-03-31): AddPermission, GetPolicy and
// RemovePermission, over Fare's grants (store/tenants.ts `GrantRepo`), which are what Fare's policy
// is: another tenant may invoke a function (through Invoke, or its function URL with AWS_IAM) and
// its owner pays. A statement that says anything else — an AWS service as the principal, anyone
// (`*`), another action, a condition, a qualifier — is refused with why and what to do instead.
// Grants made through /v1/grants appear in the policy too, as statements `fare-grant-<grantee>`
// (`fare-grant-all-<grantee>` for a grant of all the owner's functions).

import type { Grant } from '../store/index.ts';
import { functionArn } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { checkRevision, latestOf, namedFunction, type Named } from './lambda-functions.ts';
import { route, EMPTY, type RestRequest, type Route } from './rest.ts';
import { LAMBDA_ERROR, TENANT_ID, fails, object, str, z } from './schema.ts';

const ACTIONS = ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'] as const;
const UNSUPPORTED = { code: 'FARE_E_UNSUPPORTED', lambdaType: 'InvalidParameterValueException' } as const;
const refusedCondition = (field: string) =>
  str({ max: 1024 }).superRefine((_, ctx) => fails(ctx, `Fare does not condition a grant on ${field}: a grant lets the tenant named invoke the function, from anywhere; leave out ${field}`, UNSUPPORTED))
    .optional()
    .describe(`Refused: Fare's grants have no conditions`);

const ADD = object({
  StatementId: str({ min: 1, max: 100, pattern: /^[a-zA-Z0-9_-]+$/, hint: 'statement ids are 1–100 letters, digits, - or _', description: "The statement's id, unique in the function's policy" }),
  Action: str({ min: 1, max: 64 })
    .superRefine((v, ctx) => {
      if (!(ACTIONS as readonly string[]).includes(v)) fails(ctx, `Fare's grants let another tenant invoke a function (${ACTIONS.join(' or ')}), not ${v}: its other operations are its owner's only`, UNSUPPORTED);
    })
    .describe(ACTIONS.join(' or ')),
  Principal: str({ min: 1, max: 256, description: 'Another tenant: its id (an account id), or arn:aws:iam::TENANT:root' }),
  SourceArn: refusedCondition('SourceArn'),
  SourceAccount: refusedCondition('SourceAccount'),
  EventSourceToken: refusedCondition('EventSourceToken'),
  PrincipalOrgID: refusedCondition('PrincipalOrgID'),
  FunctionUrlAuthType: z.enum(['AWS_IAM', 'NONE']).optional().describe("AWS_IAM (a grantee's signed requests); NONE goes with the principal *, which Fare refuses"),
  RevisionId: str({ max: 128, description: "The function's RevisionId: refused (412) when it has changed since" }).optional(),
});

const STATEMENT = z.strictObject({ Statement: z.string().describe('The statement added, as JSON') });
const POLICY = z.strictObject({ Policy: z.string().describe("The function's policy, as JSON (IAM policy grammar)"), RevisionId: z.string() });
const ERRORS = { 400: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR } as const;

/** The tenant a principal names, or why Fare cannot grant to it. */
function granteeOf(principal: string): string {
  const tenant = /^arn:aws:iam::([^:]+):root$/.exec(principal)?.[1] ?? principal;
  if (TENANT_ID.safeParse(tenant).success) return tenant;
  if (principal === '*') {
    throw badRequest('FARE_E_UNSUPPORTED', "Fare does not open a function to anyone (Principal *) by a policy: give it a function URL with AuthType NONE (CreateFunctionUrlConfig) for anyone to call, or name the tenant to grant");
  }
  if (principal.includes('.')) {
    throw badRequest('FARE_E_UNSUPPORTED', `Fare has no services (${principal}) that invoke functions: name another tenant (its id, or arn:aws:iam::TENANT:root), or have the service call the function URL or Invoke with a tenant's credential`);
  }
  throw badRequest('FARE_E_INVALID_REQUEST', `Principal ${JSON.stringify(principal)} is not a tenant: give a tenant id (1–63 lower-case letters, digits or -) or arn:aws:iam::TENANT:root`);
}

const statementIdOf = (g: Grant): string => g.sid ?? (g.function === '*' ? `fare-grant-all-${g.grantee}` : `fare-grant-${g.grantee}`);

function statementOf(r: RestRequest, g: Grant): Record<string, unknown> {
  return {
    Sid: statementIdOf(g),
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${g.grantee}:root` },
    Action: g.action ?? 'lambda:InvokeFunction',
    Resource: functionArn(r.ctx.region, g.owner, g.function),
  };
}

/** The function, unqualified: a grant covers all its versions and aliases. */
function unqualified(r: RestRequest, n: Named): Named {
  if (n.qualifier !== undefined && n.qualifier !== '$LATEST') {
    throw badRequest('FARE_E_UNSUPPORTED', `Fare's grants cover a function with all its versions and aliases: leave out the qualifier ${JSON.stringify(n.qualifier)}`);
  }
  latestOf(r, n);
  return n;
}

const POLICY_PATH = '/2015-03-31/functions/{FunctionName}/policy';
const FUNCTION = z.string().describe("The function's name or ARN");
const QUALIFIER = { Qualifier: z.string().describe('Refused unless $LATEST: a grant covers every version and alias') };

export const lambdaPermissionRoutes: readonly Route[] = [
  route({
    method: 'POST',
    path: POLICY_PATH,
    operation: 'AddPermission',
    summary: 'Lets another tenant invoke the function (a Fare grant, as a statement of its policy); its owner pays',
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    request: ADD,
    answers: { 201: STATEMENT, 409: LAMBDA_ERROR, 412: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const p = r.json();
      const n = unqualified(r, namedFunction(r, r.path.FunctionName));
      checkRevision(p.RevisionId, latestOf(r, n).revision, `function ${n.name}`);
      if (p.FunctionUrlAuthType === 'NONE') throw badRequest('FARE_E_UNSUPPORTED', 'FunctionUrlAuthType NONE goes with the principal *, which Fare refuses: make the function URL AuthType NONE for anyone to call it, or give AWS_IAM and a tenant');
      const grantee = granteeOf(p.Principal);
      if (grantee === n.tenant) throw badRequest('FARE_E_INVALID_REQUEST', `tenant ${grantee} owns the function and may invoke it already: name another tenant`);
      if (r.ctx.store.tenants.get(grantee) === undefined) throw notFound('FARE_E_TENANT_NOT_FOUND', `there is no tenant ${grantee} to grant the function to: an administrator creates tenants (POST /v1/tenants)`);
      const got = r.ctx.store.grants.addStatement(n.tenant, n.name, grantee, p.StatementId, p.Action);
      if (got.kind === 'taken') {
        throw new ApiError({ status: 409, code: 'FARE_E_GRANT_EXISTS', message: `The statement id (${p.StatementId}) provided already exists. Please provide a new statement id, or remove the existing statement.`, lambdaType: 'ResourceConflictException' });
      }
      if (got.kind === 'granted') {
        throw new ApiError({ status: 409, code: 'FARE_E_GRANT_EXISTS', message: `tenant ${grantee} may invoke ${n.name} already, by statement ${got.sid}: remove that statement first to grant it again under another id`, lambdaType: 'ResourceConflictException' });
      }
      r.reply(201, { Statement: JSON.stringify(statementOf(r, got.grant)) });
    },
  }),
  route({
    method: 'GET',
    path: POLICY_PATH,
    operation: 'GetPolicy',
    summary: "The function's policy: who besides its owner may invoke it (404 when nobody)",
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    answers: { 200: POLICY, ...ERRORS },
    handle: (r) => {
      const n = unqualified(r, namedFunction(r, r.path.FunctionName));
      const grants = r.ctx.store.grants.ofFunction(n.tenant, n.name);
      if (grants.length === 0) throw notFound('FARE_E_GRANT_NOT_FOUND', `The resource you requested does not exist: ${functionArn(r.ctx.region, n.tenant, n.name)} has no policy (nobody but its owner may invoke it; AddPermission grants another tenant)`);
      const policy = { Version: '2012-10-17', Id: 'default', Statement: grants.map((g) => statementOf(r, g)) };
      r.reply(200, { Policy: JSON.stringify(policy), RevisionId: latestOf(r, n).revision });
    },
  }),
  route({
    method: 'DELETE',
    path: `${POLICY_PATH}/{StatementId}`,
    operation: 'RemovePermission',
    summary: "Removes a statement from the function's policy: its grantee may no longer invoke it",
    params: { FunctionName: FUNCTION, StatementId: z.string().describe("The statement's id") },
    query: { ...QUALIFIER, RevisionId: z.string().describe("The function's RevisionId: refused (412) when it has changed since") },
    answers: { 204: EMPTY, 412: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const n = unqualified(r, namedFunction(r, r.path.FunctionName));
      checkRevision(r.query.RevisionId, latestOf(r, n).revision, `function ${n.name}`);
      const sid = r.path.StatementId;
      const g = r.ctx.store.grants.ofFunction(n.tenant, n.name).find((x) => statementIdOf(x) === sid);
      if (g === undefined) throw notFound('FARE_E_GRANT_NOT_FOUND', `Statement ${sid} is not found in resource policy.`);
      if (g.function === '*') {
        throw badRequest('FARE_E_INVALID_REQUEST', `statement ${sid} grants all of tenant ${n.tenant}'s functions to ${g.grantee}, not this one alone: remove it with DELETE /v1/grants?function=*&grantee=${g.grantee}`);
      }
      r.ctx.store.grants.remove(n.tenant, n.name, g.grantee);
      r.reply(204);
    },
  }),
];
