// Lambda's reserved concurrency (PutFunctionConcurrency 2017-10-31, GetFunctionConcurrency
// 2019-09-30, DeleteFunctionConcurrency 2017-10-31): at most N invocations of a function at once,
// over all its versions and aliases (0: none runs). Fare has no account-wide pool to reserve from,
// so the setting is only the limit: what users set it for (a database that takes N connections, a
// kill switch). Its function's scheduler shard counts the calls and refuses one past the limit
// (core/shard/shard.ts): a synchronous call is answered 429 TooManyRequestsException
// (Reason ReservedFunctionConcurrentInvocationLimitExceeded), an Event waits and is tried again
// until its maximum event age, as on Lambda.

import { MAX_RESERVED_CONCURRENCY } from '../store/index.ts';
import { badRequest } from './errors.ts';
import { latestOf, namedFunction } from './lambda-functions.ts';
import { EMPTY, route, type Route } from './rest.ts';
import { LAMBDA_ERROR, int, object, z } from './schema.ts';

const FUNCTION = z.string().describe("The function's name or ARN");
const ERRORS = { 400: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR } as const;
const WHO = 'the owner (administrators: any tenant, by ARN)';

const CONCURRENCY = z.strictObject({ ReservedConcurrentExecutions: z.int().optional() });

export const lambdaConcurrencyRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/2019-09-30/functions/{FunctionName}/concurrency',
    operation: 'GetFunctionConcurrency',
    summary: "The function's reserved concurrency: at most this many of its invocations at once (absent: no limit)",
    who: WHO,
    params: { FunctionName: FUNCTION },
    answers: { 200: CONCURRENCY, ...ERRORS },
    handle: (r) => {
      const fn = latestOf(r, namedFunction(r, r.path.FunctionName, 'refused'));
      r.reply(200, fn.reservedConcurrency === undefined ? {} : { ReservedConcurrentExecutions: fn.reservedConcurrency });
    },
  }),
  route({
    method: 'PUT',
    path: '/2017-10-31/functions/{FunctionName}/concurrency',
    operation: 'PutFunctionConcurrency',
    summary: 'Sets the reserved concurrency: at most this many invocations at once over all versions (0: none runs); calls past it are throttled',
    who: WHO,
    params: { FunctionName: FUNCTION },
    request: object({ ReservedConcurrentExecutions: int({ min: 0, description: 'At most this many invocations at once (0: none runs)' }) }),
    answers: { 200: CONCURRENCY, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      latestOf(r, n);
      const limit = r.json().ReservedConcurrentExecutions;
      if (limit > MAX_RESERVED_CONCURRENCY) {
        throw badRequest('FARE_E_INVALID_REQUEST', `ReservedConcurrentExecutions ${limit} is above Fare's largest, ${MAX_RESERVED_CONCURRENCY}: give less, or remove the limit (DeleteFunctionConcurrency)`);
      }
      r.ctx.store.functions.setConcurrency(n.tenant, n.name, limit);
      r.reply(200, { ReservedConcurrentExecutions: limit });
    },
  }),
  route({
    method: 'DELETE',
    path: '/2017-10-31/functions/{FunctionName}/concurrency',
    operation: 'DeleteFunctionConcurrency',
    summary: 'Removes the reserved concurrency: the function has no limit of its own again',
    who: WHO,
    params: { FunctionName: FUNCTION },
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      latestOf(r, n);
      r.ctx.store.functions.setConcurrency(n.tenant, n.name, null);
      r.reply(204);
    },
  }),
];
