// How store records appear in REST responses: ISO times, class under its public name `class`,
// no server paths.

import type { Credential, FunctionRecord, Grant, Invocation, LogEntry, Tenant } from '../store/index.ts';
import { functionArn } from './context.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const tenantView = (t: Tenant) => ({
  id: t.id,
  name: t.name,
  budgetMicroCents: t.budgetMicroCents,
  overBudget: t.overBudget,
  createdAt: iso(t.createdAt),
});

export const credentialView = (c: Credential) => ({
  accessKeyId: c.accessKeyId,
  tenant: c.tenant,
  admin: c.admin,
  createdAt: iso(c.createdAt),
  revokedAt: iso(c.revokedAt),
});

export const grantView = (g: Grant) => ({ owner: g.owner, function: g.function, grantee: g.grantee, createdAt: iso(g.createdAt) });

export const functionView = (f: FunctionRecord, region: string) => ({
  tenant: f.tenant,
  name: f.name,
  arn: functionArn(region, f.tenant, f.name),
  runtime: f.runtime,
  handler: f.handler,
  class: f.cls,
  timeoutMs: f.timeoutMs,
  env: f.env,
  idempotent: f.idempotent === true,
  version: f.version,
  codeSha256: f.codeSha256,
  codeSize: f.codeSize,
  createdAt: iso(f.createdAt),
  updatedAt: iso(f.updatedAt),
});

/** The result as JSON when it is JSON (the usual case), else as base64. */
export function invocationView(i: Invocation) {
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

export const logEntryView = (e: LogEntry) => ({
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
