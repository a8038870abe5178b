// How store records appear in REST answers — ISO times, class under its public name `class`, no
// server paths — each with its schema (the answers' declared shapes and the API description).

import type { Credential, FunctionRecord, Grant, Invocation, LogEntry, Tenant } from '../store/index.ts';
import { functionArn } from './context.ts';
import { ISO_TIME, z } from './schema.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const TIME_OR_NULL = ISO_TIME.nullable();
const CLASS_NAME = z.string().describe('A price class');

export const TENANT = z.strictObject({
  id: z.string(),
  name: z.string().nullable(),
  budgetMicroCents: z.number().nullable().describe('Monthly budget in µ¢; null: none'),
  overBudget: z.enum(['throttle', 'degrade']),
  createdAt: TIME_OR_NULL,
}).meta({ id: 'Tenant' });
export const CREDENTIAL = z.strictObject({ accessKeyId: z.string(), tenant: z.string(), admin: z.boolean(), createdAt: TIME_OR_NULL, revokedAt: TIME_OR_NULL }).meta({ id: 'Credential' });
/** A credential as created: the secret is shown this once. */
export const NEW_CREDENTIAL_ANSWER = CREDENTIAL.extend({ secret: z.string(), note: z.string() });
export const GRANT = z.strictObject({ owner: z.string(), function: z.string().describe('A function name, or * for all'), grantee: z.string(), createdAt: TIME_OR_NULL, statementId: z.string().optional().describe("Lambda's StatementId, when it was made by AddPermission") }).meta({ id: 'Grant' });
export const FUNCTION = z.strictObject({
  tenant: z.string(),
  name: z.string(),
  arn: z.string(),
  runtime: z.enum(['nodejs', 'python', 'provided']),
  handler: z.string(),
  class: CLASS_NAME,
  timeoutMs: z.int(),
  env: z.record(z.string(), z.string()),
  idempotent: z.boolean(),
  reservedConcurrency: z.int().nullable().describe('At most this many of its invocations at once, over all its versions (0: none runs); null: no limit. Set with PUT /v1/functions/{name}/concurrency'),
  version: z.int().describe('Increases with every change of code or settings'),
  codeSha256: z.string(),
  codeSize: z.int(),
  createdAt: TIME_OR_NULL,
  updatedAt: TIME_OR_NULL,
}).meta({ id: 'Function' });
export const INVOCATION = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  function: z.string(),
  version: z.int(),
  caller: z.string(),
  class: CLASS_NAME,
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  attempts: z.int(),
  functionError: z.enum(['Handled', 'Unhandled']).nullable(),
  error: z.string().nullable(),
  createdAt: TIME_OR_NULL,
  startedAt: TIME_OR_NULL,
  finishedAt: TIME_OR_NULL,
  result: z.unknown().optional().describe('The result, when it is JSON'),
  resultBase64: z.string().optional().describe('The result, when it is not JSON'),
}).meta({ id: 'Invocation' });
export const LOG_ENTRY = z.strictObject({
  requestId: z.string(),
  attempt: z.int(),
  type: z.enum(['sync', 'async']),
  time: TIME_OR_NULL.describe('When the execution ended'),
  version: z.int(),
  class: CLASS_NAME,
  status: z.enum(['ok', 'error']),
  errorType: z.string().nullable(),
  durationMs: z.number(),
  cpuMs: z.number(),
  costMicroCents: z.number(),
  truncated: z.boolean(),
  text: z.string(),
}).meta({ id: 'LogEntry' });
export const USAGE = z.object({ invocations: z.int(), cpuMs: z.number(), memGBs: z.number(), costMicroCents: z.number() });
export const BUDGET_STATE = z.enum(['ok', 'warn', 'throttle', 'degrade']).describe("This month's standing against the budget");

export const tenantView = (t: Tenant): z.input<typeof TENANT> => ({
  id: t.id,
  name: t.name,
  budgetMicroCents: t.budgetMicroCents,
  overBudget: t.overBudget,
  createdAt: iso(t.createdAt),
});

export const credentialView = (c: Credential): z.input<typeof CREDENTIAL> => ({
  accessKeyId: c.accessKeyId,
  tenant: c.tenant,
  admin: c.admin,
  createdAt: iso(c.createdAt),
  revokedAt: iso(c.revokedAt),
});

export const grantView = (g: Grant): z.input<typeof GRANT> => ({ owner: g.owner, function: g.function, grantee: g.grantee, createdAt: iso(g.createdAt), ...(g.sid !== undefined ? { statementId: g.sid } : {}) });

export const functionView = (f: FunctionRecord, region: string): z.input<typeof FUNCTION> => ({
  tenant: f.tenant,
  name: f.name,
  arn: functionArn(region, f.tenant, f.name),
  runtime: f.runtime,
  handler: f.handler,
  class: f.cls,
  timeoutMs: f.timeoutMs,
  env: f.env,
  idempotent: f.idempotent === true,
  reservedConcurrency: f.reservedConcurrency ?? null,
  version: f.version,
  codeSha256: f.codeSha256,
  codeSize: f.codeSize,
  createdAt: iso(f.createdAt),
  updatedAt: iso(f.updatedAt),
});

/** The result as JSON when it is JSON (the usual case), else as base64. */
export function invocationView(i: Invocation): z.input<typeof INVOCATION> {
  let result: { result?: unknown; resultBase64?: string } = {};
  if (i.result !== null) {
    try {
      result = { result: JSON.parse(i.result.toString('utf8')) as unknown };
    } catch {
      result = { resultBase64: i.result.toString('base64') };
    }
  }
  return {
    id: i.id,
    tenant: i.tenant,
    function: i.function,
    version: i.version,
    caller: i.caller,
    class: i.cls,
    status: i.status,
    attempts: i.attempts,
    functionError: i.functionError,
    error: i.error,
    createdAt: iso(i.createdAt),
    startedAt: iso(i.startedAt),
    finishedAt: iso(i.finishedAt),
    ...result,
  };
}

export const logEntryView = (e: LogEntry): z.input<typeof LOG_ENTRY> => ({
  requestId: e.requestId,
  attempt: e.attempt,
  type: e.type,
  time: iso(e.at),
  version: e.version,
  class: e.cls,
  status: e.status,
  errorType: e.errorType ?? null,
  durationMs: e.durationMs,
  cpuMs: e.cpuMs,
  costMicroCents: e.costMicroCents,
  truncated: e.truncated,
  text: e.text,
});
