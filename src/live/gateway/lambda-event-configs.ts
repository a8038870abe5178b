// Lambda's asynchronous invocation settings (API version 2019-09-25): PutFunctionEventInvokeConfig,
// UpdateFunctionEventInvokeConfig, GetFunctionEventInvokeConfig, DeleteFunctionEventInvokeConfig and
// ListFunctionEventInvokeConfigs, with their schemas and Lambda's answer shapes. A config belongs to
// `$LATEST` (no qualifier), a published version or an alias; the async runner applies the one of the
// qualifier an Event was invoked with (async-runner.ts), destinations included: functions only, each
// invoked (Event) with Lambda's record of an outcome (Fare has no queues or topics to send it to).

import { DEFAULT_MAX_EVENT_AGE_S, DEFAULT_MAX_RETRY_ATTEMPTS, isVersionNumber, LATEST, type EventConfig, type EventConfigSettings } from '../store/index.ts';
import { functionArn } from './context.ts';
import { badRequest, forbidden, notFound } from './errors.ts';
import { parseFunctionRef } from './function-ref.ts';
import { latestOf, namedFunction, type Named } from './lambda-functions.ts';
import { page } from './lambda-shapes.ts';
import { EMPTY, route, type RestRequest, type Route } from './rest.ts';
import { LAMBDA_ERROR, int, object, queryInt, str, z } from './schema.ts';

const DESTINATION = object({ Destination: str({ max: 350, description: "A function's ARN (arn:aws:lambda:REGION:TENANT:function:NAME[:QUALIFIER]); '' in an Update: none" }).optional() });
/** Lambda's DestinationConfig: functions only (the checks that need the store are `destinationOf`'s). */
const DESTINATIONS = object({ OnSuccess: DESTINATION.optional(), OnFailure: DESTINATION.optional() })
  .optional()
  .describe('The functions invoked (Event) with the record of each success and of each final failure');
const SETTINGS = object({
  MaximumRetryAttempts: int({ min: 0, max: 2, description: `Retries after a failed attempt, 0–2 (default ${DEFAULT_MAX_RETRY_ATTEMPTS})` }).optional(),
  MaximumEventAgeInSeconds: int({ min: 60, max: 21_600, description: `How long an event may wait to run, retries included, 60–21600 s (default ${DEFAULT_MAX_EVENT_AGE_S})` }).optional(),
  DestinationConfig: DESTINATIONS,
});

// ---- answers (Lambda's API reference) -------------------------------------------------------------

const DESTINATION_ANSWER = z.strictObject({ Destination: z.string().optional() });
const EVENT_INVOKE_CONFIG = z
  .strictObject({
    LastModified: z.number().describe('When the config last changed, in seconds since the epoch (a timestamp, as Lambda answers it)'),
    FunctionArn: z.string().describe('The function with its qualifier ($LATEST, a version or an alias)'),
    MaximumRetryAttempts: z.int().optional(),
    MaximumEventAgeInSeconds: z.int().optional(),
    DestinationConfig: z.strictObject({ OnSuccess: DESTINATION_ANSWER, OnFailure: DESTINATION_ANSWER }),
  })
  .describe("Lambda's FunctionEventInvokeConfig").meta({ id: 'FunctionEventInvokeConfig' });
const LIST_CONFIGS = z.strictObject({ FunctionEventInvokeConfigs: z.array(EVENT_INVOKE_CONFIG), NextMarker: z.string().optional() });
const ERRORS = { 400: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR } as const;

function view(r: RestRequest, c: EventConfig): z.input<typeof EVENT_INVOKE_CONFIG> {
  return {
    LastModified: c.updatedAt / 1000,
    FunctionArn: functionArn(r.ctx.region, c.tenant, c.name, c.qualifier),
    ...(c.maxRetryAttempts !== undefined ? { MaximumRetryAttempts: c.maxRetryAttempts } : {}),
    ...(c.maxEventAgeS !== undefined ? { MaximumEventAgeInSeconds: c.maxEventAgeS } : {}),
    DestinationConfig: {
      OnSuccess: c.onSuccess !== undefined ? { Destination: c.onSuccess } : {},
      OnFailure: c.onFailure !== undefined ? { Destination: c.onFailure } : {},
    },
  };
}

/** The config's qualifier: `$LATEST` (none given), a published version that exists, or an alias that exists. */
function configQualifier(r: RestRequest, n: Named): string {
  const q = n.qualifier;
  latestOf(r, n);
  if (q === undefined || q === LATEST) return LATEST;
  const there = isVersionNumber(q) ? r.ctx.store.versions.version(n.tenant, n.name, Number(q)) !== undefined : r.ctx.store.versions.alias(n.tenant, n.name, q) !== undefined;
  if (!there) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name, q)}`);
  return q;
}

function configOf(r: RestRequest, n: Named, q: string): EventConfig {
  const c = r.ctx.store.eventConfigs.get(n.tenant, n.name, q);
  if (c === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `The function ${functionArn(r.ctx.region, n.tenant, n.name, q)} doesn't have an EventInvokeConfig (PutFunctionEventInvokeConfig makes one)`);
  return c;
}

/**
 * A destination as given ('' empties it in an Update): a function the config's tenant may invoke
 * (its own, or one granted to it), not the function itself nor one whose destinations lead back to
 * it (a loop); anything else is refused, saying why.
 */
function destinationOf(r: RestRequest, n: Named, which: string, arn: string | undefined): string | undefined {
  if (arn === undefined || arn === '') return arn;
  const ref = /^arn:aws:lambda:[a-z0-9-]+:/.test(arn) ? parseFunctionRef(arn) : undefined;
  if (ref === undefined || ref.owner === undefined) {
    throw badRequest('FARE_E_UNSUPPORTED', `${which} ${arn}: Fare's destinations are functions (arn:aws:lambda:REGION:TENANT:function:NAME[:QUALIFIER]), invoked with the record of each outcome; it has no queues, topics, buses or buckets to send it to`);
  }
  if (ref.owner === n.tenant && ref.name === n.name) throw badRequest('FARE_E_INVALID_REQUEST', `${which} ${arn} is the function itself: give another function (its record would go back to it, and so on)`);
  if (!r.ctx.store.grants.allows(ref.owner, ref.name, n.tenant)) throw forbidden(`${which} ${arn}: tenant ${n.tenant} may not invoke ${ref.owner}'s function ${ref.name}; its owner grants it (AddPermission, or POST /v1/grants)`);
  if (r.ctx.store.versions.resolve(ref.owner, ref.name, ref.qualifier, () => r.ctx.store.functions.get(ref.owner as string, ref.name)) === undefined) {
    throw notFound('FARE_E_FUNCTION_NOT_FOUND', `${which}: Function not found: ${arn}`);
  }
  const loop = pathBack(r, { tenant: ref.owner, name: ref.name }, n);
  if (loop !== undefined) {
    throw badRequest('FARE_E_INVALID_REQUEST', `${which} ${arn} would make a loop: ${[`${n.tenant}/${n.name}`, ...loop].join(' → ')} (each record would be sent on for ever; Fare does not stop loops): choose a destination that does not lead back`);
  }
  return arn;
}

/** The functions from `from` along destinations to `to` (`tenant/name` each, `to` last), or undefined if none lead there. */
function pathBack(r: RestRequest, from: { tenant: string; name: string }, to: { tenant: string; name: string }): string[] | undefined {
  const seen = new Set<string>();
  const walk = (f: { tenant: string; name: string }): string[] | undefined => {
    const key = `${f.tenant}/${f.name}`;
    if (f.tenant === to.tenant && f.name === to.name) return [key];
    if (seen.has(key)) return undefined;
    seen.add(key);
    for (const c of r.ctx.store.eventConfigs.list(f.tenant, f.name)) {
      for (const d of [c.onSuccess, c.onFailure]) {
        const next = d === undefined ? undefined : parseFunctionRef(d);
        if (next?.owner === undefined) continue;
        const rest = walk({ tenant: next.owner, name: next.name });
        if (rest !== undefined) return [key, ...rest];
      }
    }
    return undefined;
  };
  return walk(from);
}

function settingsOf(r: RestRequest, n: Named, p: z.output<typeof SETTINGS>): EventConfigSettings {
  return {
    maxRetryAttempts: p.MaximumRetryAttempts,
    maxEventAgeS: p.MaximumEventAgeInSeconds,
    onSuccess: destinationOf(r, n, 'DestinationConfig.OnSuccess', p.DestinationConfig?.OnSuccess?.Destination),
    onFailure: destinationOf(r, n, 'DestinationConfig.OnFailure', p.DestinationConfig?.OnFailure?.Destination),
  };
}

const CONFIG = '/2019-09-25/functions/{FunctionName}/event-invoke-config';
const FUNCTION = z.string().describe("The function's name or ARN, with :QUALIFIER or not");
// namedFunction reads it (and checks it against a qualifier in the name).
const QUALIFIER = { Qualifier: z.string().describe('$LATEST (default), a published version number or an alias name') };

export const lambdaEventConfigRoutes: readonly Route[] = [
  route({
    method: 'PUT',
    path: CONFIG,
    operation: 'PutFunctionEventInvokeConfig',
    summary: "Sets how often and for how long the function's Event invocations are tried (the settings left out go back to their defaults)",
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    request: SETTINGS,
    emptyBody: true,
    answers: { 200: EVENT_INVOKE_CONFIG, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      const p = r.json();
      const q = configQualifier(r, n);
      r.reply(200, view(r, r.ctx.store.eventConfigs.put(n.tenant, n.name, q, settingsOf(r, n, p))));
    },
  }),
  route({
    method: 'POST',
    path: CONFIG,
    operation: 'UpdateFunctionEventInvokeConfig',
    summary: "Changes the settings given of the function's event invoke config, keeping the others",
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    request: SETTINGS,
    emptyBody: true,
    answers: { 200: EVENT_INVOKE_CONFIG, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      const p = r.json();
      const q = configQualifier(r, n);
      r.reply(200, view(r, r.ctx.store.eventConfigs.update(n.tenant, n.name, q, settingsOf(r, n, p)) ?? configOf(r, n, q)));
    },
  }),
  route({
    method: 'GET',
    path: CONFIG,
    operation: 'GetFunctionEventInvokeConfig',
    summary: "The function's event invoke config (404 when it has none: the defaults apply)",
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    answers: { 200: EVENT_INVOKE_CONFIG, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      r.reply(200, view(r, configOf(r, n, configQualifier(r, n))));
    },
  }),
  route({
    method: 'DELETE',
    path: CONFIG,
    operation: 'DeleteFunctionEventInvokeConfig',
    summary: "Deletes the function's event invoke config: the defaults apply again",
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      const q = configQualifier(r, n);
      if (!r.ctx.store.eventConfigs.delete(n.tenant, n.name, q)) configOf(r, n, q);
      r.reply(204);
    },
  }),
  route({
    method: 'GET',
    path: `${CONFIG}/list`,
    operation: 'ListFunctionEventInvokeConfigs',
    summary: "Lists the function's event invoke configs ($LATEST, versions, aliases), paged",
    params: { FunctionName: z.string().describe("The function's name or ARN (no qualifier)") },
    query: { Marker: z.string().describe('The NextMarker of the previous page'), MaxItems: queryInt({ min: 1, max: 50 }).describe('At most this many, 1–50 (default 50)') },
    answers: { 200: LIST_CONFIGS, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      latestOf(r, n);
      // Keys in the list's order: $LATEST, versions by number, aliases by name.
      const key = (c: EventConfig): string => (c.qualifier === LATEST ? '0' : isVersionNumber(c.qualifier) ? `1${c.qualifier.padStart(12, '0')}` : `2${c.qualifier}`);
      const got = page(r.ctx.store.eventConfigs.list(n.tenant, n.name), key, r.query.Marker ?? null, r.query.MaxItems ?? 50);
      r.reply(200, { FunctionEventInvokeConfigs: got.items.map((c) => view(r, c)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
    },
  }),
];
