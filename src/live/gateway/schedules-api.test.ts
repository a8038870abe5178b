// EventBridge Scheduler's API at the gateway, through AWS's own Scheduler client (SigV4, service
// `scheduler`), and the runner firing what is due on a manual clock: the Event queued with the
// schedule's Input, once per time even when fired twice, missed times, end dates, at() schedules
// deleted after, budgets, and what Fare refuses.

import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  SchedulerClient,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { MAX_SCHEDULES_PER_TENANT } from './schedules-api.ts';
import { startHarness, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let scheduler: SchedulerClient;
/** When the test began (the gateway's manual clock, at the second): schedules made then are anchored here. */
let T0 = 0;
const ARN = 'arn:aws:lambda:us-east-1:acme:function:web';
const ROLE = 'arn:aws:iam::123456789012:role/any';
const MIN = 60_000;

beforeEach(async () => {
  h = await startHarness({ schedulePollMs: 3_600_000 });
  T0 = Math.floor(h.clock() / 1000) * 1000;
  h.clock.set(T0);
  acme = await h.tenant('acme');
  scheduler = new SchedulerClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: acme.accessKeyId, secretAccessKey: acme.secret }, maxAttempts: 1 });
  expect((await h.deploy(acme, 'web')).status).toBe(201);
});
afterEach(async () => {
  scheduler.destroy();
  await h.close();
});

const create = (name: string, extra: Partial<CreateScheduleCommandInput> = {}) =>
  scheduler.send(new CreateScheduleCommand({ Name: name, ScheduleExpression: 'rate(5 minutes)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: ARN, RoleArn: ROLE, Input: '{"from":"schedule"}' }, ...extra }));
/** Moves the gateway's clock to T0 + `ms` and fires what is due (the API is called before: its signatures carry the real time). */
const at = (ms: number): void => {
  h.clock.set(T0 + ms);
  h.gateway.schedules?.runDue();
};
const payloads = (): unknown[] => h.platform.queued.map((q) => JSON.parse(q.payload.toString('utf8')) as unknown);
const schedule = (name: string) => h.store.schedules.get('acme', 'default', name);
/** `ms` from T0 as a wall-clock time in `tz`, as at() takes it. */
const local = (ms: number, tz: string): string => new Date(T0 + ms).toLocaleString('sv-SE', { timeZone: tz }).replace(' ', 'T');

describe('the Scheduler API', () => {
  it('creates, gets, lists, replaces and deletes schedules in AWS shapes', async () => {
    const made = await create('every-5', { Description: 'five', ScheduleExpressionTimezone: 'Europe/Paris' });
    expect(made.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:acme:schedule/default/every-5');
    const got = await scheduler.send(new GetScheduleCommand({ Name: 'every-5' }));
    expect(got).toMatchObject({ Name: 'every-5', GroupName: 'default', ScheduleExpression: 'rate(5 minutes)', ScheduleExpressionTimezone: 'Europe/Paris', State: 'ENABLED', Description: 'five', Target: { Arn: ARN, Input: '{"from":"schedule"}' }, ActionAfterCompletion: 'NONE' });
    expect(got.CreationDate?.getTime()).toBe(T0);
    await expect(create('every-5')).rejects.toMatchObject({ name: 'ConflictException' });
    await create('daily', { ScheduleExpression: 'cron(0 12 * * ? *)' });
    const list = await scheduler.send(new ListSchedulesCommand({ MaxResults: 1 }));
    expect(list.Schedules?.map((s) => s.Name)).toEqual(['daily']);
    const more = await scheduler.send(new ListSchedulesCommand({ NextToken: list.NextToken }));
    expect(more.Schedules?.map((s) => [s.Name, s.Target?.Arn])).toEqual([['every-5', ARN]]);
    expect(more.NextToken).toBeUndefined();
    expect((await scheduler.send(new ListSchedulesCommand({ NamePrefix: 'ev' }))).Schedules?.map((s) => s.Name)).toEqual(['every-5']);
    // Update replaces it whole: the description left out is gone.
    await scheduler.send(new UpdateScheduleCommand({ Name: 'every-5', ScheduleExpression: 'rate(1 hour)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: ARN, RoleArn: ROLE }, State: 'DISABLED' }));
    const up = await scheduler.send(new GetScheduleCommand({ Name: 'every-5' }));
    expect(up).toMatchObject({ ScheduleExpression: 'rate(1 hour)', State: 'DISABLED' });
    expect(up.Description).toBeUndefined();
    await scheduler.send(new DeleteScheduleCommand({ Name: 'every-5' }));
    await expect(scheduler.send(new GetScheduleCommand({ Name: 'every-5' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(scheduler.send(new DeleteScheduleCommand({ Name: 'every-5' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('refuses what it cannot do, saying why', async () => {
    const refused = async (extra: Partial<CreateScheduleCommandInput>): Promise<string> => {
      try {
        await create('x', extra);
        return 'created';
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    };
    expect(await refused({ ScheduleExpression: 'rate(5 weeks)' })).toMatch(/^ValidationException: Invalid Schedule Expression "rate\(5 weeks\)" is not a schedule expression: use rate\(5 minutes\)/);
    expect(await refused({ ScheduleExpression: 'cron(0 12 * * 2 *)' })).toMatch(/^ValidationException: .*one of day-of-month and day-of-week must be \?/);
    expect(await refused({ ScheduleExpressionTimezone: 'Mars/Olympus' })).toMatch(/^ValidationException: Invalid ScheduleExpressionTimezone Mars\/Olympus/);
    expect(await refused({ Target: { Arn: 'arn:aws:sqs:us-east-1:acme:queue', RoleArn: ROLE } })).toMatch(/^ValidationException: Target.Arn .* is not a function's ARN/);
    expect(await refused({ Target: { Arn: `${ARN}-gone`, RoleArn: ROLE } })).toMatch(/^ValidationException: .*there is no such function/);
    expect(await refused({ Target: { Arn: 'arn:aws:lambda:us-east-1:zeta:function:web', RoleArn: ROLE } })).toMatch(/^AccessDeniedException: tenant acme may not invoke/);
    expect(await refused({ Target: { Arn: ARN, RoleArn: ROLE, Input: 'not json' } })).toMatch(/^ValidationException: Target.Input must be JSON/);
    expect(await refused({ Target: { Arn: ARN, RoleArn: ROLE, DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1:acme:dlq' } } })).toMatch(/^ValidationException: Target.DeadLetterConfig: .*OnFailure/);
    expect(await refused({ GroupName: 'team' })).toMatch(/^ResourceNotFoundException: Schedule group team does not exist: Fare has the group default only/);
    expect(await refused({ Name: 'bad name!' })).toMatch(/^ValidationException: /);
    expect((await scheduler.send(new ListSchedulesCommand({}))).Schedules).toEqual([]);
  });

  it(`a tenant has at most ${MAX_SCHEDULES_PER_TENANT} schedules`, async () => {
    const settings = { expression: 'rate(1 day)', timezone: 'UTC', description: '', state: 'ENABLED' as const, startAt: null, endAt: null, flexible: { Mode: 'OFF' }, target: { Arn: ARN, RoleArn: ROLE }, afterDone: 'NONE' as const };
    h.store.schedules.transaction(() => {
      for (let i = 0; i < MAX_SCHEDULES_PER_TENANT; i++) h.store.schedules.create('acme', 'default', `s${i}`, settings, T0, T0 + 86_400_000);
    });
    await expect(create('one-more')).rejects.toMatchObject({ name: 'ServiceQuotaExceededException', message: expect.stringMatching(/has 1000 schedules, as many as Fare allows one tenant: delete some/) as unknown });
  });
});

describe('firing', () => {
  it("queues an Event with the Input at each time, once per time, at the function's class", async () => {
    await create('every-5');
    at(5 * MIN - 1000);
    expect(h.platform.queued).toHaveLength(0);
    at(5 * MIN);
    expect(payloads()).toEqual([{ from: 'schedule' }]);
    expect(h.platform.queued[0]).toMatchObject({ tenant: 'acme', function: 'web', caller: 'acme', cls: 'standard', status: 'queued' });
    // Fired again for the same time (a second look, or a second gateway): nothing more.
    h.gateway.schedules?.fire({ ...(schedule('every-5') as NonNullable<ReturnType<typeof schedule>>), nextFireAt: T0 + 5 * MIN }, T0 + 5 * MIN);
    expect(h.platform.queued).toHaveLength(1);
    at(10 * MIN);
    expect(h.platform.queued).toHaveLength(2);
    expect(schedule('every-5')).toMatchObject({ lastFiredAt: T0 + 10 * MIN, nextFireAt: T0 + 15 * MIN });
    // Fare's own members of GetSchedule (the SDKs leave them out; the CLI and a plain request read them).
    const got = (await (await fetch(`${h.url}/schedules/every-5`, { headers: h.bearer(acme) })).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ FareNextFire: (T0 + 15 * MIN) / 1000, FareLastFire: (T0 + 10 * MIN) / 1000, FareLastOutcome: expect.stringMatching(/^queued [0-9a-f-]{36}$/) as unknown });
  });

  it('times missed while Fare was down fire once (the latest), or not at all past their maximum age', async () => {
    await create('every-5');
    await create('fresh-only', { Target: { Arn: ARN, RoleArn: ROLE, RetryPolicy: { MaximumEventAgeInSeconds: 60 } } });
    at(62 * MIN);
    expect(h.platform.queued).toHaveLength(1);
    expect(schedule('every-5')).toMatchObject({ lastFiredAt: T0 + 60 * MIN, nextFireAt: T0 + 65 * MIN });
    expect(schedule('every-5')?.lastOutcome).toMatch(/^queued .*; 11 earlier time\(s\) missed while Fare was not running$/);
    expect(schedule('fresh-only')?.lastOutcome).toMatch(/^skipped: its time .* passed more than 60 s ago while Fare was not running/);
    expect(schedule('fresh-only')?.nextFireAt).toBe(T0 + 65 * MIN);
  });

  it('disabled schedules do not fire; an end date ends one; at() fires once, and is deleted after with DELETE', async () => {
    await create('off', { State: 'DISABLED' });
    await create('ending', { EndDate: new Date(T0 + 12 * MIN) });
    await create('once', { ScheduleExpression: `at(${local(30 * MIN, 'Europe/Paris')})`, ScheduleExpressionTimezone: 'Europe/Paris', ActionAfterCompletion: 'DELETE', Target: { Arn: ARN, RoleArn: ROLE, Input: '{"once":true}' } });
    at(5 * MIN);
    at(10 * MIN);
    at(15 * MIN);
    expect(schedule('ending')).toMatchObject({ nextFireAt: null });
    expect(h.platform.queued).toHaveLength(2);
    at(29 * MIN);
    expect(h.platform.queued).toHaveLength(2);
    at(30 * MIN);
    expect(payloads().at(-1)).toEqual({ once: true });
    expect(schedule('once')).toBeUndefined();
    expect(schedule('off')).toMatchObject({ lastFiredAt: null });
  });

  it("a target whose owner is over budget is not invoked, and the schedule says why", async () => {
    await create('every-5');
    expect((await fetch(`${h.url}/v1/tenants/acme`, { method: 'PATCH', headers: { ...h.bearer(h.admin), 'Content-Type': 'application/json' }, body: JSON.stringify({ budgetMicroCents: 0 }) })).status).toBe(200);
    at(5 * MIN);
    expect(h.platform.queued).toHaveLength(0);
    expect(schedule('every-5')?.lastOutcome).toMatch(/^skipped: its target's owner acme is over budget/);
  });

  it('the runner sleeps until the next schedule is due, woken by the API to look again', async () => {
    // Its next time is a second from now; the runner, told of it, sleeps about that long (not its hour-long poll).
    await create('soon', { ScheduleExpression: 'rate(1 minute)', StartDate: new Date(T0 - 119_000) });
    expect(schedule('soon')?.nextFireAt).toBe(T0 + 1000);
    h.clock.set(T0 + 1000);
    for (let i = 0; i < 300 && h.platform.queued.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.platform.queued).toHaveLength(1);
  });
});
