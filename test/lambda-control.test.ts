// End-to-end: a function's whole life on `fare up` through the tools people already use — the AWS
// CLI (`aws lambda …`) and AWS's SDK for JavaScript — and nothing of Fare's own: create, invoke,
// update, publish, alias, invoke by version and alias, list and delete, with real function processes.

import {
  CreateAliasCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  CreateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const work = mkdtempSync(join(tmpdir(), 'fare-lambda-cp-'));
let fare: FareProcess;
let key: { accessKeyId: string; secret: string };

/** The AWS CLI's version line, if this machine has one (Debian: apt-get install awscli). */
const awsCli = ((): string | undefined => {
  try {
    return execFileSync('aws', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
})();
/** A payload as `--payload` takes it: version 2 of the CLI reads base64 unless told otherwise. */
const payloadArgs = (json: string): string[] => (awsCli?.startsWith('aws-cli/2') === true ? ['--cli-binary-format', 'raw-in-base64-out', '--payload', json] : ['--payload', json]);
if (awsCli === undefined) console.warn('test/lambda-control.test.ts: the AWS CLI tests are skipped: no `aws` command on this machine (apt-get install awscli)');

beforeAll(async () => {
  fare = await startFare(join(work, 'data'));
  const made = await api(fare.url, 'POST', '/v1/tenants', { id: 'acme' });
  expect(made.status).toBe(201);
  key = (made.json as { credential: { accessKeyId: string; secret: string } }).credential;
}, 60_000);
afterAll(async () => {
  if (fare !== undefined) await stopFare(fare);
  rmSync(work, { recursive: true, force: true });
});

/** A zip of a Node handler that answers `answer` and the class it ran at. */
function nodeZip(answer: string): Buffer {
  const dir = mkdtempSync(join(work, 'src-'));
  writeFileSync(join(dir, 'index.mjs'), `export const handler = async (event, context) => ({ answer: ${JSON.stringify(answer)}, got: event, arn: context.invokedFunctionArn, fv: context.functionVersion });\n`);
  return zipDirectory(dir);
}

async function aws(...args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)('aws', [...args, '--endpoint-url', fare.url, '--region', 'us-east-1', '--output', 'json'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: work,
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secret,
      AWS_CONFIG_FILE: join(work, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    },
  });
  return stdout.trim() === '' ? undefined : (JSON.parse(stdout) as unknown);
}

describe.skipIf(awsCli === undefined)('the AWS CLI', () => {
  it('creates, invokes, updates, publishes, aliases, lists and deletes a function', async () => {
    const zip1 = join(work, 'v1.zip');
    const zip2 = join(work, 'v2.zip');
    writeFileSync(zip1, nodeZip('one'));
    writeFileSync(zip2, nodeZip('two'));
    const made = (await aws('lambda', 'create-function', '--function-name', 'greet', '--runtime', 'nodejs20.x', '--role', 'arn:aws:iam::123456789012:role/fare',
      '--handler', 'index.handler', '--zip-file', `fileb://${zip1}`, '--tags', 'fare:class=high,team=web', '--memory-size', '256')) as Record<string, unknown>;
    expect(made).toMatchObject({ FunctionName: 'greet', Runtime: 'nodejs20.x', Version: '$LATEST', MemorySize: 256 });

    const out = join(work, 'out.json');
    const inv = (await aws('lambda', 'invoke', '--function-name', 'greet', ...payloadArgs('{"n":1}'), out)) as Record<string, unknown>;
    expect(inv).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ answer: 'one', got: { n: 1 }, arn: 'arn:aws:lambda:us-east-1:acme:function:greet', fv: '$LATEST' });

    expect(await aws('lambda', 'publish-version', '--function-name', 'greet', '--description', 'first')).toMatchObject({ Version: '1' });
    expect(await aws('lambda', 'create-alias', '--function-name', 'greet', '--name', 'live', '--function-version', '1')).toMatchObject({ Name: 'live', FunctionVersion: '1' });
    await aws('lambda', 'update-function-code', '--function-name', 'greet', '--zip-file', `fileb://${zip2}`);
    await aws('lambda', 'invoke', '--function-name', 'greet', out);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ answer: 'two' });
    expect(await aws('lambda', 'invoke', '--function-name', 'greet', '--qualifier', 'live', out)).toMatchObject({ ExecutedVersion: '1' });
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ answer: 'one', arn: 'arn:aws:lambda:us-east-1:acme:function:greet:live', fv: '1' });

    // A weighted alias: half of live's invocations run version 2; ExecutedVersion says which ran.
    // (`--routing-config AdditionalVersionWeights={"2"=0.5}` in a shell, which drops the quotes.)
    expect(await aws('lambda', 'publish-version', '--function-name', 'greet')).toMatchObject({ Version: '2' });
    expect(await aws('lambda', 'update-alias', '--function-name', 'greet', '--name', 'live', '--routing-config', 'AdditionalVersionWeights={2=0.5}'))
      .toMatchObject({ FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } });
    expect(await aws('lambda', 'get-alias', '--function-name', 'greet', '--name', 'live')).toMatchObject({ FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } });
    const ran = new Map<string, string>();
    for (let i = 0; i < 40 && ran.size < 2; i++) {
      const r = (await aws('lambda', 'invoke', '--function-name', 'greet', '--qualifier', 'live', out)) as { ExecutedVersion: string };
      ran.set(r.ExecutedVersion, (JSON.parse(readFileSync(out, 'utf8')) as { answer: string }).answer);
    }
    expect(Object.fromEntries(ran)).toEqual({ '1': 'one', '2': 'two' });
    const plain = (await aws('lambda', 'update-alias', '--function-name', 'greet', '--name', 'live', '--routing-config', 'AdditionalVersionWeights={}')) as Record<string, unknown>;
    expect(plain.RoutingConfig).toBeUndefined();

    const cfg = (await aws('lambda', 'update-function-configuration', '--function-name', 'greet', '--timeout', '20', '--environment', 'Variables={MODE=fast}')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ Timeout: 20, Environment: { Variables: { MODE: 'fast' } } });
    const listed = (await aws('lambda', 'list-functions')) as { Functions: { FunctionName: string }[] };
    expect(listed.Functions.map((f) => f.FunctionName)).toContain('greet');
    expect(await aws('lambda', 'list-tags', '--resource', 'arn:aws:lambda:us-east-1:acme:function:greet')).toEqual({ Tags: { 'fare:class': 'high', team: 'web' } });
    expect(((await aws('lambda', 'list-versions-by-function', '--function-name', 'greet')) as { Versions: { Version: string }[] }).Versions.map((v) => v.Version)).toEqual(['$LATEST', '1', '2']);
    expect(await aws('lambda', 'get-account-settings')).toMatchObject({ AccountUsage: { FunctionCount: 1 } });

    await aws('lambda', 'delete-function', '--function-name', 'greet');
    await expect(aws('lambda', 'get-function', '--function-name', 'greet')).rejects.toThrow(/ResourceNotFoundException/);
  }, 120_000);
});

describe.skipIf(awsCli === undefined)('the AWS CLI and asynchronous invocation settings', () => {
  it('put-function-event-invoke-config --maximum-retry-attempts 0 with an OnFailure destination: a failing Event is tried once, on the real runner, and its record goes to the destination; an operation Fare lacks says why', async () => {
    const dir = mkdtempSync(join(work, 'src-'));
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => { throw new Error("not twice"); };\n');
    const zip = join(work, 'fails.zip');
    writeFileSync(zip, zipDirectory(dir));
    await aws('lambda', 'create-function', '--function-name', 'once', '--runtime', 'nodejs20.x', '--role', 'arn:aws:iam::123456789012:role/fare', '--handler', 'index.handler', '--zip-file', `fileb://${zip}`);
    // Its failures' destination: a function that logs the record it is given.
    const dlqDir = mkdtempSync(join(work, 'src-'));
    writeFileSync(join(dlqDir, 'index.mjs'), 'export const handler = async (event) => { console.log("record", JSON.stringify(event.requestContext)); return "noted"; };\n');
    const dlqZip = join(work, 'dlq.zip');
    writeFileSync(dlqZip, zipDirectory(dlqDir));
    await aws('lambda', 'create-function', '--function-name', 'dlq', '--runtime', 'nodejs20.x', '--role', 'arn:aws:iam::123456789012:role/fare', '--handler', 'index.handler', '--zip-file', `fileb://${dlqZip}`);
    const dlq = 'arn:aws:lambda:us-east-1:acme:function:dlq';
    expect(await aws('lambda', 'put-function-event-invoke-config', '--function-name', 'once', '--maximum-retry-attempts', '0', '--maximum-event-age-in-seconds', '3600', '--destination-config', `OnFailure={Destination=${dlq}}`))
      .toMatchObject({ FunctionArn: 'arn:aws:lambda:us-east-1:acme:function:once:$LATEST', MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 3600, DestinationConfig: { OnFailure: { Destination: dlq } } });
    expect(await aws('lambda', 'get-function-event-invoke-config', '--function-name', 'once')).toMatchObject({ MaximumRetryAttempts: 0 });
    expect(((await aws('lambda', 'list-function-event-invoke-configs', '--function-name', 'once')) as { FunctionEventInvokeConfigs: unknown[] }).FunctionEventInvokeConfigs).toHaveLength(1);
    // The Event, through the SDK (which shows its request id); without the config it would be tried again a minute later.
    const lambda = new LambdaClient({ endpoint: fare.url, region: 'us-east-1', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secret } });
    try {
      const ev = await lambda.send(new InvokeCommand({ FunctionName: 'once', InvocationType: 'Event', Payload: Buffer.from('{}') }));
      const id = ev.$metadata.requestId ?? '';
      let got: { status?: string; attempts?: number } = {};
      for (let i = 0; i < 150 && got.status !== 'failed'; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        got = (await api(fare.url, 'GET', `/v1/invocations/${id}`, undefined, `${key.accessKeyId}:${key.secret}`)).json as typeof got;
      }
      expect(got).toMatchObject({ status: 'failed', attempts: 1 });
      // The destination ran with the failure's record (its log line says so).
      let text = '';
      for (let i = 0; i < 150 && !text.includes(id); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        const logs = (await api(fare.url, 'GET', '/v1/functions/dlq/logs', undefined, `${key.accessKeyId}:${key.secret}`)).json as { entries?: { text: string }[] };
        text = (logs.entries ?? []).map((e) => e.text).join('\n');
      }
      expect(text).toContain(`"requestId":"${id}"`);
      expect(text).toContain('"condition":"RetriesExhausted"');
    } finally {
      lambda.destroy();
    }
    await aws('lambda', 'delete-function-event-invoke-config', '--function-name', 'once');
    await expect(aws('lambda', 'get-function-event-invoke-config', '--function-name', 'once')).rejects.toThrow(/ResourceNotFoundException.*doesn't have an EventInvokeConfig/);
    // Reserved concurrency through the CLI; a value Fare refuses is refused with the reason, which the CLI prints.
    expect(await aws('lambda', 'put-function-concurrency', '--function-name', 'once', '--reserved-concurrent-executions', '0')).toEqual({ ReservedConcurrentExecutions: 0 });
    expect(await aws('lambda', 'get-function-concurrency', '--function-name', 'once')).toEqual({ ReservedConcurrentExecutions: 0 });
    await expect(aws('lambda', 'put-function-concurrency', '--function-name', 'once', '--reserved-concurrent-executions', '100001')).rejects.toThrow(/InvalidParameterValueException.*ReservedConcurrentExecutions 100001 is above Fare's largest, 100000/);
    await aws('lambda', 'delete-function-concurrency', '--function-name', 'once');
    // What Fare does not have is refused with the reason (the CLI printed an empty message before).
    await expect(aws('lambda', 'list-provisioned-concurrency-configs', '--function-name', 'once')).rejects.toThrow(/UnknownOperationException.*no provisioned concurrency/);
    await aws('lambda', 'delete-function', '--function-name', 'once');
    await aws('lambda', 'delete-function', '--function-name', 'dlq');
  }, 60_000);
});

describe('the AWS SDK for JavaScript', () => {
  it('deploys and runs a function, versions it and moves an alias, with real processes', async () => {
    const lambda = new LambdaClient({ endpoint: fare.url, region: 'us-east-1', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secret } });
    try {
      const first = nodeZip('one');
      await lambda.send(new CreateFunctionCommand({ FunctionName: 'echo', Runtime: 'nodejs22.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: first }, Publish: true }));
      const run = async (qualifier?: string) => {
        const r = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{"k":"v"}'), ...(qualifier !== undefined ? { Qualifier: qualifier } : {}) }));
        return { version: r.ExecutedVersion, body: JSON.parse(new TextDecoder().decode(r.Payload)) as { answer: string; arn: string; fv: string } };
      };
      const arn = 'arn:aws:lambda:us-east-1:acme:function:echo';
      // The function sees Lambda's version it runs, and the ARN it was invoked by (with the qualifier named).
      expect(await run()).toEqual({ version: '$LATEST', body: { answer: 'one', got: { k: 'v' }, arn, fv: '$LATEST' } });
      expect(await run('1')).toMatchObject({ version: '1', body: { answer: 'one', arn: `${arn}:1`, fv: '1' } });
      await lambda.send(new CreateAliasCommand({ FunctionName: 'echo', Name: 'prod', FunctionVersion: '1' }));
      await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'echo', ZipFile: nodeZip('two'), Publish: true }));
      expect((await run()).body.answer).toBe('two');
      expect(await run('prod')).toMatchObject({ version: '1', body: { answer: 'one', arn: `${arn}:prod`, fv: '1' } });
      // An Event through the alias: its function is told the alias's ARN too, as for a call that waits.
      const ev = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Qualifier: 'prod', InvocationType: 'Event', Payload: Buffer.from('{"e":1}') }));
      expect(ev.StatusCode).toBe(202);
      const evId = ev.$metadata.requestId ?? '';
      let result: Response | undefined;
      for (let i = 0; i < 100 && result?.status !== 200; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        result = await fetch(`${fare.url}/v1/invocations/${evId}/result`, { headers: { Authorization: `Bearer ${key.accessKeyId}:${key.secret}` } });
      }
      expect(result?.status).toBe(200);
      expect(await result?.json()).toMatchObject({ answer: 'one', got: { e: 1 }, arn: `${arn}:prod`, fv: '1' });
      // Both versions run side by side, warm, in turn.
      for (let i = 0; i < 3; i++) {
        expect((await run('1')).body.answer).toBe('one');
        expect((await run('2')).body.answer).toBe('two');
      }
      await lambda.send(new UpdateAliasCommand({ FunctionName: 'echo', Name: 'prod', FunctionVersion: '2' }));
      expect(await run('prod')).toMatchObject({ version: '2', body: { answer: 'two' } });
      expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'echo' }))).Version).toBe('2');
      const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'echo', Qualifier: '1' }));
      const dl = await fetch(got.Code?.Location ?? '');
      expect(dl.headers.get('content-type')).toBe('application/zip');
      // Version 1's package as uploaded, so a download checked against CodeSha256 passes.
      const pkg = Buffer.from(await dl.arrayBuffer());
      expect(createHash('sha256').update(pkg).digest('base64')).toBe(got.Configuration?.CodeSha256);
      expect(pkg.equals(first)).toBe(true);
      const fns = await lambda.send(new ListFunctionsCommand({}));
      expect(fns.Functions?.map((f) => f.FunctionName)).toContain('echo');
      await lambda.send(new DeleteFunctionCommand({ FunctionName: 'echo' }));
      await expect(run()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    } finally {
      lambda.destroy();
    }
  }, 120_000);
});

describe('a function URL', () => {
  it('is served to plain curl: payload 2.0 in, statusCode, headers, cookies and body out; billed to the owner', async () => {
    const lambda = new LambdaClient({ endpoint: fare.url, region: 'us-east-1', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secret } });
    try {
      const dir = mkdtempSync(join(work, 'web-'));
      writeFileSync(join(dir, 'index.mjs'), `export const handler = async (event) => ({
  statusCode: 201,
  headers: { 'content-type': 'text/plain', 'x-path': event.rawPath },
  cookies: ['seen=yes; Path=/'],
  body: [event.requestContext.http.method, event.rawQueryString, (event.cookies ?? []).join('|'), event.body].join(' '),
});
`);
      await lambda.send(new CreateFunctionCommand({ FunctionName: 'web', Runtime: 'nodejs20.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: zipDirectory(dir) }, Tags: { 'fare:class': 'high' } }));
      const url = (await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' }))).FunctionUrl ?? '';
      const { stdout } = await promisify(execFile)('curl', ['-s', '-i', '-X', 'POST', '-H', 'Cookie: a=1; b=2', '--data-binary', 'hello', `${url}orders/7?x=1`]);
      const [head = '', body] = stdout.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 201/);
      expect(head).toMatch(/\r\nx-path: \/orders\/7\r\n/i);
      expect(head).toMatch(/\r\nset-cookie: seen=yes; Path=\/\r\n/i);
      expect(head).toMatch(/\r\nx-fare-class: high\r\n/i);
      expect(body).toBe('POST x=1 a=1|b=2 hello');
      // The billing record follows the answer (when the instance parks): wait for it.
      let billed = '';
      for (let i = 0; i < 50 && !billed.includes('"web"'); i++) {
        billed = JSON.stringify((await api(fare.url, 'GET', '/v1/bill?tenant=acme')).json);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(billed).toMatch(/"function":"web".*"cls":"high"/);
    } finally {
      lambda.destroy();
    }
  }, 60_000);
});

/** Whether the machine's python3 has boto3 (Debian: apt-get install python3-boto3), as Lambda's Python runtime does. */
const boto3 = ((): boolean => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import boto3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!boto3) console.warn('test/lambda-control.test.ts: the boto3 test is skipped: /usr/bin/python3 has no boto3 (apt-get install python3-boto3)');

describe.skipIf(!boto3)('boto3 inside a function', () => {
  it('calls another function with the invocation credentials Fare provides, from a client made at start-up, and the callee inherits the class', async () => {
    const put = async (name: string, files: Record<string, string>, runtime: string, handler: string, cls: string) => {
      const dir = mkdtempSync(join(work, `${name}-`));
      for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
      const r = await api(fare.url, 'PUT', `/v1/functions/${name}?tenant=acme`, { runtime, handler, class: cls, zipBase64: zipDirectory(dir).toString('base64') });
      expect(r.status).toBe(201);
    };
    await put('leaf', { 'app.py': 'def main(event, context):\n    return {"leaf": True}\n' }, 'python', 'app.main', 'low');
    // The endpoint from FARE_ENDPOINT: boto3 from 1.28 reads AWS_ENDPOINT_URL_LAMBDA (set too) by itself;
    // Debian's is older. Credentials and region: nothing.
    await put('trunk', {
      'app.py': [
        'import json, os, boto3',
        "client = boto3.client('lambda', endpoint_url=os.environ['FARE_ENDPOINT'])",
        'def main(event, context):',
        "    r = client.invoke(FunctionName='leaf', Payload=b'{}')",
        "    return {'inner': json.loads(r['Payload'].read()), 'region': client.meta.region_name, 'version': r.get('ExecutedVersion')}",
        '',
      ].join('\n'),
    }, 'python', 'app.main', 'high');
    const lambda = new LambdaClient({ endpoint: fare.url, region: 'us-east-1', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secret } });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await lambda.send(new InvokeCommand({ FunctionName: 'trunk' }));
        expect([r.FunctionError, new TextDecoder().decode(r.Payload)]).toEqual([undefined, expect.anything()]);
        expect(JSON.parse(new TextDecoder().decode(r.Payload))).toEqual({ inner: { leaf: true }, region: 'us-east-1', version: '$LATEST' });
      }
    } finally {
      lambda.destroy();
    }
    // Both calls of leaf ran (and were billed) at trunk's class, high, not leaf's own low.
    let classes = '';
    for (let i = 0; i < 50 && !classes.includes('"invocations":2'); i++) {
      const bill = (await api(fare.url, 'GET', '/v1/bill?tenant=acme')).json as { functions: { function: string; classes: unknown[] }[] };
      classes = JSON.stringify(bill.functions.find((f) => f.function === 'leaf')?.classes ?? []);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(JSON.parse(classes)).toEqual([expect.objectContaining({ cls: 'high', invocations: 2 })]);
  }, 60_000);
});

describe('fare up --region', () => {
  it('names the region in every ARN and gives it to functions as AWS_REGION', async () => {
    const other = await startFare(join(work, 'data-eu'), ['--region', 'eu-west-3', '--no-examples']);
    try {
      const made = await api(other.url, 'POST', '/v1/tenants', { id: 'acme' });
      const k = (made.json as { credential: { accessKeyId: string; secret: string } }).credential;
      const lambda = new LambdaClient({ endpoint: other.url, region: 'eu-west-3', credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secret } });
      try {
        const dir = mkdtempSync(join(work, 'region-'));
        writeFileSync(join(dir, 'index.mjs'), 'export const handler = async (e, context) => ({ region: process.env.AWS_REGION, arn: context.invokedFunctionArn });\n');
        const cfg = await lambda.send(new CreateFunctionCommand({ FunctionName: 'where', Runtime: 'nodejs20.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: zipDirectory(dir) } }));
        expect(cfg.FunctionArn).toBe('arn:aws:lambda:eu-west-3:acme:function:where');
        const r = await lambda.send(new InvokeCommand({ FunctionName: 'where' }));
        expect(JSON.parse(new TextDecoder().decode(r.Payload))).toEqual({ region: 'eu-west-3', arn: 'arn:aws:lambda:eu-west-3:acme:function:where' });
      } finally {
        lambda.destroy();
      }
    } finally {
      await stopFare(other);
    }
  }, 60_000);
});
