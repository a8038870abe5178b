// GET /v1/functions/{name}/logs: a function's log entries (one per execution, sync and async, with
// Lambda's START / output / END / REPORT text), oldest first. The owner's, as the function itself.

import { notFound, recordPending } from './errors.ts';
import { route, type Route } from './rest.ts';
import { NAME_PARAM, owner, TENANT_QUERY } from './rest-functions.ts';
import { FARE_ERROR, TIME_MS, oneOf, queryInt, str, z } from './schema.ts';
import { LOG_ENTRY, logEntryView } from './views.ts';

export const DEFAULT_LOG_LIMIT = 100;
export const MAX_LOG_LIMIT = 1000;

const REQUEST_ID = str({ min: 1, max: 128, pattern: /^[A-Za-z0-9._:#-]+$/, hint: 'give a request id (x-amzn-RequestId), for example 0f8d2c1e-…', description: 'Only the entries of this request id' });

const LOGS = z.strictObject({ tenant: z.string(), function: z.string(), entries: z.array(LOG_ENTRY), next: z.int().describe('Where a follower continues: pass it as ?after=') });

export const logRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/v1/functions/{name}/logs',
    operation: 'GetFunctionLogs',
    summary: "A function's log entries, one per execution (sync, and each async attempt), oldest first: the newest `limit` that ended at or after `since` (and hold `contains`, and ended with `status`), or with `after` the oldest `limit` written after that cursor",
    who: 'the owner (a grant to invoke is not a grant to read logs)',
    params: NAME_PARAM,
    query: {
      ...TENANT_QUERY,
      since: TIME_MS,
      limit: queryInt({ min: 1, max: MAX_LOG_LIMIT, description: `How many entries (default ${DEFAULT_LOG_LIMIT})` }),
      request: REQUEST_ID,
      after: queryInt({ min: 0, description: 'A cursor (`next` of an earlier answer): the entries written after it' }),
      contains: str({ min: 1, max: 256, description: 'Only the entries whose text holds this (ASCII letters in either case): what the function printed, its error, the START / END / REPORT lines' }),
      status: oneOf(['ok', 'error'] as const).describe('Only the executions that ended so (error: the function failed, timed out or crashed)'),
    },
    answers: { 200: LOGS, 400: FARE_ERROR, 403: FARE_ERROR, 404: FARE_ERROR, 503: FARE_ERROR },
    handle: async (r) => {
      const { name } = r.path;
      const tenant = owner(r);
      const { since, request: requestId, after, contains, status } = r.query;
      // One request's entry, answered a moment ago and still measured: it is written when that ends.
      if (requestId !== undefined && !(await r.ctx.settling.wait(requestId))) {
        throw recordPending(`invocation ${requestId} was answered and is still being measured; its log entry is written when that ends: retry in a moment`);
      }
      const limit = r.query.limit ?? DEFAULT_LOG_LIMIT;
      if (r.ctx.store.functions.get(tenant, name) === undefined) {
        throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${tenant} has no function ${name}: GET /v1/functions lists them`);
      }
      const list = () => r.ctx.store.logs.list(tenant, name, {
        limit,
        ...(since !== undefined ? { since } : {}),
        ...(requestId !== undefined ? { requestId } : {}),
        ...(after !== undefined ? { after } : {}),
        ...(contains !== undefined ? { contains } : {}),
        ...(status !== undefined ? { status } : {}),
      });
      let entries = list();
      // In a cluster, an invocation another gateway answered a moment ago: its entry is on its way here.
      if (entries.length === 0 && requestId !== undefined && (await r.ctx.settling.elsewhere(requestId, r.ctx.clock()))) entries = list();
      // Where a follower continues (?after=): past the last entry returned, or past everything written so far.
      const next = entries.at(-1)?.seq ?? after ?? r.ctx.store.logs.cursor();
      r.reply(200, { tenant, function: name, entries: entries.map(logEntryView), next });
    },
  }),
];
