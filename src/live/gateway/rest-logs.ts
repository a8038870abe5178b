// GET /v1/functions/{name}/logs: a function's log entries (one per execution, sync and async, with
// Lambda's START / output / END / REPORT text), oldest first. The owner's, as the function itself.

import { notFound } from './errors.ts';
import { sendJson } from './http.ts';
import { queryParam, type RestRequest, type Route } from './rest.ts';
import { fnName, owner } from './rest-functions.ts';
import { TIME_MS, queryInt, str } from './validate.ts';
import { logEntryView } from './views.ts';

export const DEFAULT_LOG_LIMIT = 100;
export const MAX_LOG_LIMIT = 1000;

const REQUEST_ID = str({ min: 1, max: 128, pattern: /^[A-Za-z0-9._:#-]+$/, hint: 'give a request id (x-amzn-RequestId), for example 0f8d2c1e-…' });

function functionLogs(r: RestRequest): void {
  const name = fnName(r);
  const tenant = owner(r);
  const since = queryParam(r, 'since', TIME_MS);
  const limit = queryParam(r, 'limit', queryInt({ min: 1, max: MAX_LOG_LIMIT })) ?? DEFAULT_LOG_LIMIT;
  const requestId = queryParam(r, 'request', REQUEST_ID);
  const after = queryParam(r, 'after', queryInt({ min: 0 }));
  if (r.ctx.store.functions.get(tenant, name) === undefined) {
    throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${tenant} has no function ${name}: GET /v1/functions lists them`);
  }
  const entries = r.ctx.store.logs.list(tenant, name, {
    limit,
    ...(since !== undefined ? { since } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
    ...(after !== undefined ? { after } : {}),
  });
  // Where a follower continues (?after=): past the last entry returned, or past everything written so far.
  const next = entries.at(-1)?.seq ?? after ?? r.ctx.store.logs.cursor();
  sendJson(r.res, 200, { tenant, function: name, entries: entries.map(logEntryView), next });
}

export const logRoutes: readonly Route[] = [{ method: 'GET', pattern: /^\/v1\/functions\/([^/]+)\/logs\/?$/, handle: functionLogs }];
