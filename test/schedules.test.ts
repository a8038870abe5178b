// End-to-end: schedules on `fare up` through the tools people use for EventBridge Scheduler — AWS's
// SDK and the AWS CLI (`aws scheduler …`) with an endpoint override — firing a real function, whose
// logs show each scheduled event as it ran.

import { CreateScheduleCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const work = mkdtempSync(join(tmpdir(), 'fare-schedules-'));
let fare: FareProcess;
let key: { accessKeyId: string; secret: string };
let scheduler: SchedulerClient;

const awsCli = ((): string | undefined => {
  try {
    return execFileSync('aws', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
})();
if (awsCli === undefined) console.warn('test/schedules.test.ts: the AWS CLI test is skipped: no `aws` command on this machine (apt-get install awscli)');

beforeAll(async () => {
  fare = await startFare(join(work, 'data'), ['--no-examples']);
  const made = await api(fare.url, 'POST', '/v1/tenants', { id: 'acme' });
  key = (made.json as { credential: { accessKeyId: string; secret: string } }).credential;
  const dir = mkdtempSync(join(work, 'fn-'));
  writeFileSync(join(dir, 'index.mjs'), 'export const handler = async (event) => { console.log("tick", JSON.stringify(event)); return 1; };\n');
  const put = await fetch(`${fare.url}/v1/functions/ticker?runtime=nodejs&handler=index.handler&class=low`, { method: 'PUT', headers: { Authorization: `Bearer ${key.accessKeyId}:${key.secret}`, 'Content-Type': 'application/zip' }, body: zipDirectory(dir) });
  expect(put.status).toBe(201);
  scheduler = new SchedulerClient({ endpoint: fare.url, region: 'us-east-1', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secret }, maxAttempts: 1 });
}, 60_000);
afterAll(async () => {
  scheduler?.destroy();
  if (fare !== undefined) await stopFare(fare);
  rmSync(work, { recursive: true, force: true });
});

/** The ticker's log lines that mention `marker`, waiting up to `ms` for `n` of them. */
async function ticks(marker: string, n: number, ms = 15_000): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await api(fare.url, 'GET', '/v1/functions/ticker/logs', undefined, `${key.accessKeyId}:${key.secret}`);
    const text = JSON.stringify(r.json);
    const lines = text.split('\\n').filter((l) => l.includes('tick') && l.includes(marker));
    if (lines.length >= n || Date.now() > until) return lines;
    await new Promise((res) => setTimeout(res, 250));
  }
}

describe('schedules on fare up', () => {
  it('a rate schedule made with the SDK invokes its function at its times, with its Input', async () => {
    // Its grid began 58 s ago: it fires in about 2 s, then every minute.
    await scheduler.send(new CreateScheduleCommand({
      Name: 'every-minute', ScheduleExpression: 'rate(1 minute)', StartDate: new Date(Date.now() - 58_000), FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: 'arn:aws:lambda:us-east-1:acme:function:ticker', RoleArn: 'arn:aws:iam::123456789012:role/any', Input: '{"marker":"sdk-rate"}' },
    }));
    expect((await scheduler.send(new GetScheduleCommand({ Name: 'every-minute' }))).State).toBe('ENABLED');
    const lines = await ticks('sdk-rate', 1);
    expect(lines.length).toBe(1);
  }, 30_000);

  it.skipIf(awsCli === undefined)('the AWS CLI makes a one-time schedule (at) that fires once', async () => {
    const when = new Date(Date.now() + 3000).toISOString().slice(0, 19);
    const env = {
      PATH: process.env.PATH ?? '', HOME: work, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secret,
      AWS_CONFIG_FILE: join(work, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'), AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '',
    };
    const { stdout } = await promisify(execFile)('aws', ['scheduler', 'create-schedule', '--endpoint-url', fare.url, '--region', 'us-east-1', '--output', 'json',
      '--name', 'cli-once', '--schedule-expression', `at(${when})`, '--flexible-time-window', 'Mode=OFF', '--action-after-completion', 'DELETE',
      '--target', JSON.stringify({ Arn: 'arn:aws:lambda:us-east-1:acme:function:ticker', RoleArn: 'arn:aws:iam::123456789012:role/any', Input: '{"marker":"cli-at"}' })], { env });
    expect(JSON.parse(stdout)).toEqual({ ScheduleArn: 'arn:aws:scheduler:us-east-1:acme:schedule/default/cli-once' });
    expect(await ticks('cli-at', 1)).toHaveLength(1);
    // Deleted after it fired (ActionAfterCompletion DELETE).
    await expect(scheduler.send(new GetScheduleCommand({ Name: 'cli-once' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  }, 30_000);
});
