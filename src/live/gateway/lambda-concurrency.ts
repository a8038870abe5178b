// Lambda's reserved concurrency (PutFunctionConcurrency 2017-10-31, GetFunctionConcurrency
// 2019-09-30, DeleteFunctionConcurrency 2017-10-31). Fare has none: it schedules by price class, so
// under load a lower class waits behind the higher ones instead of being capped, and a tenant's
// monthly budget caps its spending. Reading it answers that there is none, deleting it is done
// already (what tools that clear it expect), and setting it is refused, saying why.

import { badRequest } from './errors.ts';
import { latestOf, namedFunction } from './lambda-functions.ts';
import { EMPTY, route, type Route } from './rest.ts';
import { LAMBDA_ERROR, int, object, z } from './schema.ts';

const FUNCTION = z.string().describe("The function's name or ARN");
const ERRORS = { 400: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR } as const;

/** Why Fare has no reserved concurrency, and what to use instead. */
export const NO_RESERVED_CONCURRENCY =
  "Fare has no reserved concurrency: it schedules by price class, so under load a lower class waits behind the higher ones instead of being capped, and a tenant's monthly budget caps its spending (PATCH /v1/tenants/{id}); a function's class is its FareClass (UpdateFunctionConfiguration) or its fare:class tag";

export const lambdaConcurrencyRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/2019-09-30/functions/{FunctionName}/concurrency',
    operation: 'GetFunctionConcurrency',
    summary: 'Reserved concurrency: none (Fare schedules by price class instead)',
    params: { FunctionName: FUNCTION },
    answers: { 200: z.strictObject({ ReservedConcurrentExecutions: z.int().optional() }), ...ERRORS },
    handle: (r) => {
      latestOf(r, namedFunction(r, r.path.FunctionName, 'refused'));
      r.reply(200, {});
    },
  }),
  route({
    method: 'DELETE',
    path: '/2017-10-31/functions/{FunctionName}/concurrency',
    operation: 'DeleteFunctionConcurrency',
    summary: 'Removes reserved concurrency: there is none (done)',
    params: { FunctionName: FUNCTION },
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      latestOf(r, namedFunction(r, r.path.FunctionName, 'refused'));
      r.reply(204);
    },
  }),
  route({
    method: 'PUT',
    path: '/2017-10-31/functions/{FunctionName}/concurrency',
    operation: 'PutFunctionConcurrency',
    summary: 'Refused: Fare has no reserved concurrency (it schedules by price class)',
    params: { FunctionName: FUNCTION },
    request: object({ ReservedConcurrentExecutions: int({ min: 0, description: 'Refused, whatever its value' }) }),
    answers: { ...ERRORS },
    handle: (r) => {
      latestOf(r, namedFunction(r, r.path.FunctionName, 'refused'));
      throw badRequest('FARE_E_UNSUPPORTED', `ReservedConcurrentExecutions ${r.json().ReservedConcurrentExecutions}: ${NO_RESERVED_CONCURRENCY}`);
    },
  }),
];
