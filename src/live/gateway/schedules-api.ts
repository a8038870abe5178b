// EventBridge Scheduler's API (2021-06-30), for schedules whose target is a Fare function: the AWS
// SDKs' and the AWS CLI's `scheduler` client work with an endpoint override (SigV4, service
// `scheduler`). CreateSchedule, GetSchedule, UpdateSchedule (a whole replacement, as AWS's),
// DeleteSchedule, ListSchedules; the group `default` only. A schedule invokes its target as an
// Event (schedule-runner.ts fires them). The role is accepted and not used (a tenant's schedule
// invokes what the tenant may invoke); a dead-letter queue, KMS key and the templated targets of
// other AWS services are refused, saying so.

import type { Schedule, ScheduleSettings } from '../store/index.ts';
import type { GatewayContext } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { parseFunctionRef } from './function-ref.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dispatchRest, route, type RestRequest, type Route } from './rest.ts';
import { nextFireOf } from './schedule-runner.ts';
import { knownTimeZone, parseScheduleExpression } from './schedule-expression.ts';
import { int, LAMBDA_ERROR, object, oneOf, str, z } from './schema.ts';

const NAME = str({ min: 1, max: 64, pattern: /^[0-9a-zA-Z-_.]+$/, hint: 'use 1–64 letters, digits, "-", "_" or "."', description: "The schedule's name" });
const GROUP = z.string().describe("The schedule group: 'default' (the only one)");
/** AWS's JSON timestamps: seconds since the epoch. */
const EPOCH_S = z.number().describe('Seconds since the epoch');
const RETRY = object({
  MaximumEventAgeInSeconds: int({ min: 60, max: 86_400, description: 'A missed firing older than this is skipped (default 86400)' }).optional(),
  MaximumRetryAttempts: int({ min: 0, max: 185, description: "Accepted; a firing is queued at once (the function's own event invoke config decides its retries)" }).optional(),
});
const TARGET = object({
  Arn: str({ min: 1, max: 1600, description: "The function's ARN (arn:aws:lambda:REGION:TENANT:function:NAME[:QUALIFIER])" }),
  RoleArn: str({ min: 1, max: 1600, description: 'Accepted and not used: a schedule invokes what its tenant may invoke' }),
  Input: str({ min: 1, max: 8192, description: "The function's event, JSON (default {})" }).optional(),
  RetryPolicy: RETRY.optional(),
  DeadLetterConfig: z.unknown().optional().describe('Refused: Fare has no queues (a function invoked on failure is its event invoke config OnFailure)'),
  EcsParameters: z.unknown().optional(),
  EventBridgeParameters: z.unknown().optional(),
  KinesisParameters: z.unknown().optional(),
  SageMakerPipelineParameters: z.unknown().optional(),
  SqsParameters: z.unknown().optional(),
});
const WINDOW = object({
  Mode: oneOf(['OFF', 'FLEXIBLE'] as const),
  MaximumWindowInMinutes: int({ min: 1, max: 1440 }).optional(),
}).describe('Accepted: a schedule fires at its time (a FLEXIBLE window fires at its start)');
const BODY = object({
  ScheduleExpression: str({ min: 1, max: 256, description: 'rate(5 minutes), cron(0 12 * * ? *) or at(2027-01-01T08:30:00)' }),
  ScheduleExpressionTimezone: str({ min: 1, max: 50, description: 'IANA time zone of cron and at (default UTC)' }).optional(),
  FlexibleTimeWindow: WINDOW,
  Target: TARGET,
  Description: str({ max: 512 }).optional(),
  State: oneOf(['ENABLED', 'DISABLED'] as const).optional(),
  StartDate: EPOCH_S.optional(),
  EndDate: EPOCH_S.optional(),
  GroupName: GROUP.optional(),
  ActionAfterCompletion: oneOf(['NONE', 'DELETE'] as const).optional(),
  ClientToken: str({ min: 1, max: 64 }).optional(),
  KmsKeyArn: z.string().optional().describe('Refused: Fare keeps schedules in its own store'),
});

const SCHEDULE_ARN = z.string().describe('arn:aws:scheduler:REGION:TENANT:schedule/GROUP/NAME');
const SCHEDULE = z.strictObject({
  Arn: SCHEDULE_ARN,
  Name: z.string(),
  GroupName: z.string(),
  ScheduleExpression: z.string(),
  ScheduleExpressionTimezone: z.string(),
  Description: z.string().optional(),
  State: z.enum(['ENABLED', 'DISABLED']),
  StartDate: z.number().optional(),
  EndDate: z.number().optional(),
  FlexibleTimeWindow: z.record(z.string(), z.unknown()),
  Target: z.record(z.string(), z.unknown()),
  ActionAfterCompletion: z.enum(['NONE', 'DELETE']),
  CreationDate: z.number(),
  LastModificationDate: z.number(),
  FareNextFire: z.number().optional().describe("Fare's own: when it fires next (seconds since the epoch); absent: never again"),
  FareLastFire: z.number().optional().describe("Fare's own: the time it last fired for (seconds since the epoch)"),
  FareLastOutcome: z.string().optional().describe("Fare's own: what that firing did (the invocation it queued, or why none was)"),
}).describe("EventBridge Scheduler's GetScheduleOutput, with Fare's own FareNextFire, FareLastFire and FareLastOutcome").meta({ id: 'Schedule' });
const SUMMARY = z.strictObject({
  Arn: SCHEDULE_ARN,
  Name: z.string(),
  GroupName: z.string(),
  State: z.enum(['ENABLED', 'DISABLED']),
  CreationDate: z.number(),
  LastModificationDate: z.number(),
  Target: z.strictObject({ Arn: z.string() }),
});
const ERRORS = { 400: LAMBDA_ERROR, 402: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR, 409: LAMBDA_ERROR } as const;
const DEFAULT_GROUP = 'default';
/** Schedules a tenant may have: each firing costs a write, and a runaway script should not make millions. */
export const MAX_SCHEDULES_PER_TENANT = 1000;

const scheduleArn = (region: string, s: Pick<Schedule, 'tenant' | 'group' | 'name'>): string => `arn:aws:scheduler:${region}:${s.tenant}:schedule/${s.group}/${s.name}`;
const seconds = (ms: number): number => ms / 1000;

/**
 * Serves a request to the Scheduler API: a bad request is Scheduler's ValidationException, whichever
 * check refused it (the SDKs model that name, not Lambda's InvalidParameterValueException).
 */
export async function dispatchSchedules(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    await dispatchRest(ctx, scheduleRoutes, req, res, url);
  } catch (e) {
    if (e instanceof ApiError && e.lambdaStatus === 400 && e.lambdaType !== 'ValidationException') throw new ApiError({ status: 400, code: e.code, message: e.message, lambdaType: 'ValidationException' });
    throw e;
  }
}

function groupOf(name: string | undefined): string {
  const g = name ?? DEFAULT_GROUP;
  if (g !== DEFAULT_GROUP) throw notFound('FARE_E_SCHEDULE_NOT_FOUND', `Schedule group ${g} does not exist: Fare has the group default only (leave GroupName out)`);
  return g;
}

/** The settings of a Create or Update body, checked: an expression Fare can read, a function target, nothing Fare cannot do. */
function settingsOf(r: RestRequest, b: z.output<typeof BODY>): ScheduleSettings {
  const tz = b.ScheduleExpressionTimezone ?? 'UTC';
  if (!knownTimeZone(tz)) throw badRequest('FARE_E_INVALID_REQUEST', `Invalid ScheduleExpressionTimezone ${tz}: give an IANA time zone such as UTC or Europe/Paris`, 'ValidationException');
  const p = parseScheduleExpression(b.ScheduleExpression, tz);
  if (!p.ok) throw badRequest('FARE_E_INVALID_REQUEST', `Invalid Schedule Expression ${p.error}`, 'ValidationException');
  const t = b.Target;
  for (const k of ['EcsParameters', 'EventBridgeParameters', 'KinesisParameters', 'SageMakerPipelineParameters', 'SqsParameters', 'DeadLetterConfig'] as const) {
    if (t[k] !== undefined) throw badRequest('FARE_E_UNSUPPORTED', `Target.${k}: Fare's schedules invoke functions only${k === 'DeadLetterConfig' ? " (a function to invoke on failure is the target's event invoke config OnFailure: PutFunctionEventInvokeConfig)" : ''}`, 'ValidationException');
  }
  if (b.KmsKeyArn !== undefined) throw badRequest('FARE_E_UNSUPPORTED', 'KmsKeyArn: Fare keeps schedules in its own store, unencrypted by a customer key; leave it out', 'ValidationException');
  const ref = parseFunctionRef(t.Arn);
  if (ref === undefined || !t.Arn.startsWith('arn:')) throw badRequest('FARE_E_INVALID_REQUEST', `Target.Arn ${t.Arn} is not a function's ARN: give arn:aws:lambda:${r.ctx.region}:TENANT:function:NAME (GetFunction answers it)`, 'ValidationException');
  const owner = ref.owner ?? r.principal.tenant;
  if (!r.ctx.store.grants.allows(owner, ref.name, r.principal.tenant)) {
    throw new ApiError({ status: 403, code: 'FARE_E_FORBIDDEN', message: `tenant ${r.principal.tenant} may not invoke ${t.Arn}: its owner ${owner} must grant it (POST /v1/grants, or AddPermission)`, lambdaType: 'AccessDeniedException' });
  }
  if (r.ctx.store.functions.get(owner, ref.name) === undefined) throw badRequest('FARE_E_INVALID_REQUEST', `Target.Arn ${t.Arn}: there is no such function`, 'ValidationException');
  if (t.Input !== undefined) {
    try {
      JSON.parse(t.Input);
    } catch {
      throw badRequest('FARE_E_INVALID_REQUEST', 'Target.Input must be JSON: it is the event the function is invoked with', 'ValidationException');
    }
  }
  if (b.StartDate !== undefined && b.EndDate !== undefined && b.EndDate <= b.StartDate) throw badRequest('FARE_E_INVALID_REQUEST', 'EndDate must be after StartDate', 'ValidationException');
  return {
    expression: b.ScheduleExpression,
    timezone: tz,
    description: b.Description ?? '',
    state: b.State ?? 'ENABLED',
    startAt: b.StartDate === undefined ? null : Math.round(b.StartDate * 1000),
    endAt: b.EndDate === undefined ? null : Math.round(b.EndDate * 1000),
    flexible: b.FlexibleTimeWindow,
    target: t,
    afterDone: b.ActionAfterCompletion ?? 'NONE',
  };
}

/** When a schedule of these settings, changed now, fires first: its grid anchored at its start, else now. */
function firstFire(s: ScheduleSettings, now: number): { anchorAt: number; next: number | null } {
  const anchorAt = s.startAt ?? now;
  return { anchorAt, next: nextFireOf({ ...s, anchorAt }, now) };
}

function view(region: string, s: Schedule): z.input<typeof SCHEDULE> {
  return {
    Arn: scheduleArn(region, s),
    Name: s.name,
    GroupName: s.group,
    ScheduleExpression: s.expression,
    ScheduleExpressionTimezone: s.timezone,
    ...(s.description !== '' ? { Description: s.description } : {}),
    State: s.state,
    ...(s.startAt !== null ? { StartDate: seconds(s.startAt) } : {}),
    ...(s.endAt !== null ? { EndDate: seconds(s.endAt) } : {}),
    FlexibleTimeWindow: s.flexible,
    Target: s.target,
    ActionAfterCompletion: s.afterDone,
    CreationDate: seconds(s.createdAt),
    LastModificationDate: seconds(s.updatedAt),
    ...(s.state === 'ENABLED' && s.nextFireAt !== null ? { FareNextFire: seconds(s.nextFireAt) } : {}),
    ...(s.lastFiredAt !== null ? { FareLastFire: seconds(s.lastFiredAt) } : {}),
    ...(s.lastOutcome !== null ? { FareLastOutcome: s.lastOutcome } : {}),
  };
}

export const scheduleRoutes: readonly Route[] = [
  route({
    method: 'POST',
    path: '/schedules/{Name}',
    operation: 'CreateSchedule',
    summary: "Creates a schedule that invokes a function (as an Event, with Target.Input) at the times of its expression",
    params: { Name: NAME },
    request: BODY,
    answers: { 200: z.strictObject({ ScheduleArn: SCHEDULE_ARN }), ...ERRORS },
    handle: (r) => {
      const b = r.json();
      const group = groupOf(b.GroupName);
      const s = settingsOf(r, b);
      const { anchorAt, next } = firstFire(s, r.ctx.clock());
      if (r.ctx.store.schedules.count(r.principal.tenant) >= MAX_SCHEDULES_PER_TENANT) {
        throw new ApiError({ status: 402, code: 'FARE_E_SCHEDULE_QUOTA', message: `tenant ${r.principal.tenant} has ${MAX_SCHEDULES_PER_TENANT} schedules, as many as Fare allows one tenant: delete some (DeleteSchedule), or fold several into one`, lambdaType: 'ServiceQuotaExceededException' });
      }
      const made = r.ctx.store.schedules.create(r.principal.tenant, group, r.path.Name, s, anchorAt, next);
      if (made === undefined) throw new ApiError({ status: 409, code: 'FARE_E_SCHEDULE_EXISTS', message: `Schedule ${r.path.Name} already exists.`, lambdaType: 'ConflictException' });
      r.ctx.schedulesChanged?.();
      r.reply(200, { ScheduleArn: scheduleArn(r.ctx.region, made) });
    },
  }),
  route({
    method: 'GET',
    path: '/schedules/{Name}',
    operation: 'GetSchedule',
    summary: 'A schedule',
    params: { Name: NAME },
    query: { groupName: GROUP },
    answers: { 200: SCHEDULE, ...ERRORS },
    handle: (r) => {
      const s = r.ctx.store.schedules.get(r.principal.tenant, groupOf(r.query.groupName), r.path.Name);
      if (s === undefined) throw notFound('FARE_E_SCHEDULE_NOT_FOUND', `Schedule ${r.path.Name} does not exist.`);
      r.reply(200, view(r.ctx.region, s));
    },
  }),
  route({
    method: 'PUT',
    path: '/schedules/{Name}',
    operation: 'UpdateSchedule',
    summary: 'Replaces a schedule whole, as AWS does (what is left out goes back to its default); it fires next by its new expression',
    params: { Name: NAME },
    request: BODY,
    answers: { 200: z.strictObject({ ScheduleArn: SCHEDULE_ARN }), ...ERRORS },
    handle: (r) => {
      const b = r.json();
      const group = groupOf(b.GroupName);
      const s = settingsOf(r, b);
      const { anchorAt, next } = firstFire(s, r.ctx.clock());
      const up = r.ctx.store.schedules.replace(r.principal.tenant, group, r.path.Name, s, anchorAt, next);
      if (up === undefined) throw notFound('FARE_E_SCHEDULE_NOT_FOUND', `Schedule ${r.path.Name} does not exist.`);
      r.ctx.schedulesChanged?.();
      r.reply(200, { ScheduleArn: scheduleArn(r.ctx.region, up) });
    },
  }),
  route({
    method: 'DELETE',
    path: '/schedules/{Name}',
    operation: 'DeleteSchedule',
    summary: 'Deletes a schedule (invocations it queued already run)',
    params: { Name: NAME },
    query: { groupName: GROUP, clientToken: z.string() },
    answers: { 200: z.strictObject({}), ...ERRORS },
    handle: (r) => {
      if (!r.ctx.store.schedules.delete(r.principal.tenant, groupOf(r.query.groupName), r.path.Name)) throw notFound('FARE_E_SCHEDULE_NOT_FOUND', `Schedule ${r.path.Name} does not exist.`);
      r.ctx.schedulesChanged?.();
      r.reply(200, {});
    },
  }),
  route({
    method: 'GET',
    path: '/schedules',
    operation: 'ListSchedules',
    summary: "The caller's schedules, by group and name",
    query: {
      GroupName: GROUP,
      NamePrefix: str({ min: 1, max: 64 }),
      State: oneOf(['ENABLED', 'DISABLED'] as const),
      MaxResults: z.coerce.number().int().min(1).max(100),
      NextToken: z.string(),
    },
    answers: { 200: z.strictObject({ Schedules: z.array(SUMMARY), NextToken: z.string().optional() }), ...ERRORS },
    handle: (r) => {
      const limit = r.query.MaxResults ?? 100;
      const after = r.query.NextToken === undefined ? undefined : Buffer.from(r.query.NextToken, 'base64url').toString('utf8');
      const rows = r.ctx.store.schedules.list(r.principal.tenant, {
        ...(r.query.GroupName !== undefined ? { group: r.query.GroupName } : {}),
        ...(r.query.NamePrefix !== undefined ? { prefix: r.query.NamePrefix } : {}),
        ...(r.query.State !== undefined ? { state: r.query.State } : {}),
        ...(after !== undefined ? { after } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      r.reply(200, {
        Schedules: page.map((s) => ({ Arn: scheduleArn(r.ctx.region, s), Name: s.name, GroupName: s.group, State: s.state, CreationDate: seconds(s.createdAt), LastModificationDate: seconds(s.updatedAt), Target: { Arn: s.target.Arn } })),
        ...(rows.length > limit && last !== undefined ? { NextToken: Buffer.from(`${last.group}\0${last.name}`).toString('base64url') } : {}),
      });
    },
  }),
];
