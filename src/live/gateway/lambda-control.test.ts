// Lambda's control plane driven by AWS's own SDK (@aws-sdk/client-lambda), as deployment tools do:
// every call signs with SigV4 and parses Fare's answers with the SDK's deserialisers, so a shape or
// error type Fare got wrong fails here.

import {
  AddPermissionCommand,
  CreateAliasCommand,
  CreateFunctionCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  GetAccountSettingsCommand,
  GetAliasCommand,
  GetFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  DeleteFunctionEventInvokeConfigCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionEventInvokeConfigCommand,
  GetFunctionConfigurationCommand,
  GetFunctionRecursionConfigCommand,
  GetPolicyCommand,
  InvokeAsyncCommand,
  InvokeCommand,
  LambdaClient,
  ListAliasesCommand,
  ListFunctionEventInvokeConfigsCommand,
  ListFunctionsCommand,
  ListLayersCommand,
  ListProvisionedConcurrencyConfigsCommand,
  ListTagsCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  RemovePermissionCommand,
  PutFunctionEventInvokeConfigCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  UpdateFunctionEventInvokeConfigCommand,
} from '@aws-sdk/client-lambda';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { readZip } from './zip.ts';
import { outcome, startHarness, writeZip, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let zeta: IssuedCredential;
let lambda: LambdaClient;

const client = (c: IssuedCredential): LambdaClient =>
  new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secret }, maxAttempts: 1 });

const code = (answer: string): Uint8Array => writeZip([{ name: 'index.js', data: `exports.handler = async () => ${JSON.stringify(answer)};\n` }]);
const b64sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('base64');
/** expect.stringMatching, typed (it is `any`). */
const MATCH = (re: RegExp): string => expect.stringMatching(re) as string;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  zeta = await h.tenant('zeta');
  lambda = client(acme);
  // The fake platform answers with the code's answer: which version ran is visible in the result.
  h.platform.respond = async (req) => {
    const entries = await readZip(Buffer.from(zipOf.get(req.fn.codeSha256 ?? '') ?? new Uint8Array()));
    const text = entries.find((e) => e.path === 'index.js')?.read().toString('utf8') ?? '';
    return outcome({ payload: Buffer.from(/=> (".*");/.exec(text)?.[1] ?? 'null') });
  };
});
afterEach(async () => {
  lambda.destroy();
  await h.close();
});

/** Zips by hex SHA-256, so the fake platform can answer with the code's own answer. */
const zipOf = new Map<string, Uint8Array>();
function remember(zip: Uint8Array): Uint8Array {
  zipOf.set(createHash('sha256').update(zip).digest('hex'), zip);
  return zip;
}

async function create(name = 'hello', extra: Record<string, unknown> = {}) {
  return lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/x', Handler: 'index.handler', Code: { ZipFile: remember(code('v1')) }, ...extra }));
}

const invoke = async (name: string, qualifier?: string) => {
  const r = await lambda.send(new InvokeCommand({ FunctionName: name, LogType: 'Tail', ...(qualifier !== undefined ? { Qualifier: qualifier } : {}) }));
  // The log's START line names the version that ran as Lambda does: $LATEST, or the published number.
  expect(Buffer.from(r.LogResult ?? '', 'base64').toString()).toMatch(new RegExp(`^START RequestId: \\S+ Version: ${(r.ExecutedVersion ?? '').replace('$', '\\$')}\n`));
  return { executed: r.ExecutedVersion, answer: JSON.parse(new TextDecoder().decode(r.Payload)) as unknown };
};

describe('functions', () => {
  it('CreateFunction answers Lambda FunctionConfiguration; Get, GetConfiguration and List show the same', async () => {
    const zip = code('v1');
    const made = await lambda.send(new CreateFunctionCommand({
      FunctionName: 'hello', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/x', Handler: 'index.handler', Code: { ZipFile: zip },
      Description: 'says hello', Timeout: 10, MemorySize: 512, Environment: { Variables: { GREETING: 'hi' } }, Tags: { team: 'web', 'fare:class': 'high' },
    }));
    expect(made).toMatchObject({
      FunctionName: 'hello', FunctionArn: 'arn:aws:lambda:us-east-1:acme:function:hello', Runtime: 'nodejs20.x', Handler: 'index.handler',
      Role: 'arn:aws:iam::123456789012:role/x', Description: 'says hello', Timeout: 10, MemorySize: 512, Version: '$LATEST',
      Environment: { Variables: { GREETING: 'hi' } }, CodeSha256: b64sha(zip), CodeSize: zip.length, State: 'Active', LastUpdateStatus: 'Successful', PackageType: 'Zip',
    });
    expect(made.RevisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(made.LastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    expect(h.store.functions.get('acme', 'hello')).toMatchObject({ cls: 'high', runtime: 'nodejs', timeoutMs: 10_000, memoryMB: 512 });

    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'hello' }));
    expect(got.Configuration).toMatchObject({ FunctionName: 'hello', RevisionId: made.RevisionId, CodeSha256: made.CodeSha256 });
    expect(got.Tags).toEqual({ team: 'web', 'fare:class': 'high' });
    expect(got.Code?.RepositoryType).toBe('S3');
    // The code location is served without credentials, for 10 minutes.
    const dl = await fetch(got.Code?.Location ?? '');
    expect(dl.status).toBe(200);
    expect((await readZip(Buffer.from(await dl.arrayBuffer()))).map((e) => e.path)).toContain('index.js');
    h.clock.advance(11 * 60_000);
    expect((await fetch(got.Code?.Location ?? '')).status).toBe(403);
    expect((await fetch(`${got.Code?.Location ?? ''}x`)).status).toBe(403);
    h.clock.advance(-11 * 60_000);

    expect(await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'arn:aws:lambda:us-east-1:acme:function:hello' }))).toMatchObject({ FunctionName: 'hello', MemorySize: 512 });
    const list = await lambda.send(new ListFunctionsCommand({}));
    expect(list.Functions?.map((f) => f.FunctionName)).toEqual(['hello']);
  });

  it('CreateFunction refuses what Fare cannot run, with Lambda error types, and keeps nothing', async () => {
    const bad = async (extra: Record<string, unknown>) => {
      try {
        await create('bad', extra);
        return 'created';
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    };
    expect(await bad({ Runtime: 'java21' })).toMatch(/^InvalidParameterValueException: .*java21.*nodejs20\.x/);
    expect(await bad({ Tags: { 'fare:class': 'gold' } })).toMatch(/^InvalidParameterValueException: .*"gold" is not a price class/);
    expect(await bad({ Code: { S3Bucket: 'b', S3Key: 'k' } })).toMatch(/^InvalidParameterValueException: .*ZipFile only/);
    expect(await bad({ Layers: ['arn:aws:lambda:us-east-1:1:layer:x:1'] })).toMatch(/^InvalidParameterValueException: .*no layers/);
    expect(await bad({ Architectures: ['arm64'] })).toMatch(/^InvalidParameterValueException: .*x86_64/);
    expect(await bad({ Handler: 'main.handler' })).toMatch(/^InvalidParameterValueException: .*main\.js/);
    expect(await bad({ MemorySize: 64 })).toMatch(/^InvalidParameterValueException: .*MemorySize/);
    expect(await bad({ Environment: { Variables: { AWS_LAMBDA_X: '1' } } })).toMatch(/^InvalidParameterValueException: .*reserved/);
    expect(h.store.functions.get('acme', 'bad')).toBeUndefined();
    await create('hello');
    await expect(create('hello')).rejects.toMatchObject({ name: 'ResourceConflictException' });
  });

  it('FareClass, Fare own member, sets the class over plain HTTP (SDKs send only members they know)', async () => {
    const post = (path: string, method: string, body: unknown) => fetch(`${h.url}${path}`, { method, headers: { ...h.bearer(acme), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const zip = Buffer.from(code('v1')).toString('base64');
    const made = await post('/2015-03-31/functions', 'POST', { FunctionName: 'hello', Runtime: 'nodejs22.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: zip }, FareClass: 'high' });
    expect(made.status).toBe(201);
    expect(await made.json()).toMatchObject({ FareClass: 'high', Runtime: 'nodejs22.x' });
    const both = await post('/2015-03-31/functions', 'POST', { FunctionName: 'other', Runtime: 'nodejs22.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: zip }, FareClass: 'high', Tags: { 'fare:class': 'low' } });
    expect(both.status).toBe(400);
    expect(((await both.json()) as { Message: string }).Message).toMatch(/disagree/);
    const moved = await post('/2015-03-31/functions/hello/configuration', 'PUT', { FareClass: 'low' });
    expect(moved.status).toBe(200);
    expect(h.store.functions.get('acme', 'hello')?.cls).toBe('low');
    const typo = await post('/2015-03-31/functions/hello/configuration', 'PUT', { Timeuot: 3 });
    expect(typo.status).toBe(400);
    expect(((await typo.json()) as { Message: string }).Message).toMatch(/unknown field "Timeuot"/);
  });

  it('maps every Lambda runtime Fare runs, provided without a handler', async () => {
    const boot = writeZip([{ name: 'bootstrap', data: '#!/bin/sh\n' }]);
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'raw', Runtime: 'provided.al2023', Role: 'r', Code: { ZipFile: boot } }));
    expect(h.store.functions.get('acme', 'raw')).toMatchObject({ runtime: 'provided', lambdaRuntime: 'provided.al2023' });
    const py = writeZip([{ name: 'app.py', data: 'def main(e, c):\n  return 1\n' }]);
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'py', Runtime: 'python3.12', Role: 'r', Handler: 'app.main', Code: { ZipFile: py } }));
    expect((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'py' }))).Runtime).toBe('python3.12');
    // A function deployed through Fare's own API reports a Lambda runtime too.
    expect((await h.deploy(acme, 'plain')).status).toBe(201);
    expect((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain' }))).Runtime).toBe('nodejs20.x');
  });

  it('UpdateFunctionCode and UpdateFunctionConfiguration make new revisions; a stale RevisionId is refused', async () => {
    const made = await create();
    expect(await invoke('hello')).toEqual({ executed: '$LATEST', answer: 'v1' });
    const up = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: remember(code('v2')), RevisionId: made.RevisionId }));
    expect(up.RevisionId).not.toBe(made.RevisionId);
    expect(await invoke('hello')).toEqual({ executed: '$LATEST', answer: 'v2' });
    await expect(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: code('v3'), RevisionId: made.RevisionId }))).rejects.toMatchObject({ name: 'PreconditionFailedException' });
    // DryRun checks the zip and changes nothing.
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: code('v9'), DryRun: true }));
    expect(await invoke('hello')).toEqual({ executed: '$LATEST', answer: 'v2' });
    await expect(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: writeZip([{ name: 'other.js', data: '' }]) }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });

    const cfg = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Timeout: 30, Description: 'now slower', Environment: { Variables: { A: 'b' } } }));
    expect(cfg).toMatchObject({ Timeout: 30, Description: 'now slower', Environment: { Variables: { A: 'b' } }, MemorySize: 128, Role: 'arn:aws:iam::123456789012:role/x' });
    expect(h.store.functions.get('acme', 'hello')).toMatchObject({ cls: 'standard', timeoutMs: 30_000 });
    await expect(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Handler: 'nope.handler' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    // Another runtime without a handler for it: the old one does not carry over, and the message says so.
    await expect(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Runtime: 'python3.12' }))).rejects.toMatchObject({
      name: 'InvalidParameterValueException', message: MATCH(/the runtime changes from nodejs to python, and nodejs's handler \(index\.handler\) does not carry over: give the handler for python too/),
    });
    await expect(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'missing', Timeout: 3 }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('ListFunctions pages with Marker and MaxItems, and lists versions with FunctionVersion ALL', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) await create(n);
    await lambda.send(new PublishVersionCommand({ FunctionName: 'c' }));
    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const p = await lambda.send(new ListFunctionsCommand({ MaxItems: 2, ...(marker !== undefined ? { Marker: marker } : {}) }));
      names.push(...(p.Functions ?? []).map((f) => f.FunctionName ?? ''));
      marker = p.NextMarker;
      pages++;
    } while (marker !== undefined);
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toBe(3);
    const all = await lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL' }));
    expect(all.Functions?.map((f) => `${f.FunctionName}:${f.Version}`)).toEqual(['a:$LATEST', 'b:$LATEST', 'c:$LATEST', 'c:1', 'd:$LATEST', 'e:$LATEST']);
    await expect(lambda.send(new ListFunctionsCommand({ Marker: 'garbage!' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
  });

  it('DeleteFunction deletes the function with its versions, aliases and tags; a tenant sees only its own', async () => {
    await create('hello', { Tags: { team: 'web' } });
    await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1' }));
    const other = client(zeta);
    await expect(other.send(new GetFunctionCommand({ FunctionName: 'hello' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(other.send(new GetFunctionCommand({ FunctionName: 'arn:aws:lambda:us-east-1:acme:function:hello' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(other.send(new DeleteFunctionCommand({ FunctionName: 'arn:aws:lambda:us-east-1:acme:function:hello' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect((await other.send(new ListFunctionsCommand({}))).Functions).toEqual([]);
    other.destroy();
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello' }));
    await expect(lambda.send(new GetFunctionCommand({ FunctionName: 'hello' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    for (const t of ['function_published', 'function_aliases', 'function_tags']) expect(h.store.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get()).toEqual({ n: 0 });
    // Re-created, it numbers its versions from 1 again, as Lambda does.
    await create('hello');
    expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }))).Version).toBe('1');
  });
});

describe('versions and aliases', () => {
  it('PublishVersion freezes code and settings; invoke by version, alias or $LATEST runs what each names', async () => {
    await create();
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'hello', Description: 'first' }));
    expect(v1).toMatchObject({ Version: '1', FunctionArn: 'arn:aws:lambda:us-east-1:acme:function:hello:1', Description: 'first' });
    // Unchanged $LATEST: the same version again.
    expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }))).Version).toBe('1');
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: remember(code('v2')) }));
    await expect(lambda.send(new PublishVersionCommand({ FunctionName: 'hello', CodeSha256: v1.CodeSha256 }))).rejects.toMatchObject({ name: 'PreconditionFailedException' });
    const v2 = await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    expect(v2.Version).toBe('2');
    // Settings of $LATEST changed later do not touch published versions.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Timeout: 60 }));
    expect((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hello', Qualifier: '1' }))).Timeout).toBe(3);

    const prod = await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', Description: 'live' }));
    expect(prod).toMatchObject({ AliasArn: 'arn:aws:lambda:us-east-1:acme:function:hello:prod', Name: 'prod', FunctionVersion: '1', Description: 'live' });
    expect(await invoke('hello')).toEqual({ executed: '$LATEST', answer: 'v2' });
    expect(await invoke('hello', '1')).toEqual({ executed: '1', answer: 'v1' });
    expect(await invoke('hello:prod')).toEqual({ executed: '1', answer: 'v1' });
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '2', RevisionId: prod.RevisionId }));
    expect(await invoke('hello', 'prod')).toEqual({ executed: '2', answer: 'v2' });
    await expect(lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', RevisionId: prod.RevisionId }))).rejects.toMatchObject({ name: 'PreconditionFailedException' });
    await expect(invoke('hello', '7')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(invoke('hello', 'staging')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });

    const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'hello' }));
    expect(versions.Versions?.map((v) => v.Version)).toEqual(['$LATEST', '1', '2']);
    expect(versions.Versions?.map((v) => v.Timeout)).toEqual([60, 3, 3]);
    // A version an alias names cannot be deleted; once free, it can, and its invocations stop.
    await expect(lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '2' }))).rejects.toMatchObject({ name: 'ResourceConflictException' });
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '1' }));
    await expect(invoke('hello', '1')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(await invoke('hello', '2')).toEqual({ executed: '2', answer: 'v2' });
  });

  it('a published version keeps its code on disk while $LATEST moves on', async () => {
    await create();
    await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    for (let i = 2; i <= 6; i++) await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: remember(code(`v${i}`)) }));
    const v1 = h.store.versions.version('acme', 'hello', 1);
    expect(v1).toBeDefined();
    const { existsSync } = await import('node:fs');
    expect(existsSync(`${v1?.codeDir ?? ''}/index.js`)).toBe(true);
    // An internal version neither current nor published nor among the newest is pruned.
    expect(existsSync(`${h.store.dataDir}/code/acme/hello/2/index.js`)).toBe(false);
    expect(await invoke('hello', '1')).toEqual({ executed: '1', answer: 'v1' });
  });

  it('Event invocations of a version run that version', async () => {
    await create();
    await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: remember(code('v2')) }));
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'hello', Qualifier: '1', InvocationType: 'Event' }));
    expect(r.StatusCode).toBe(202);
    expect(h.platform.queued.at(-1)).toMatchObject({ qualifier: '1' });
    expect(h.store.versions.resolve('acme', 'hello', h.platform.queued.at(-1)?.qualifier ?? undefined, () => undefined)?.fn.published).toBe(1);
  });

  it('aliases: Get, List (by version, paged), Delete; names that are numbers or unknown targets are refused', async () => {
    await create();
    await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    for (const [n, v] of [['a', '1'], ['b', '$LATEST'], ['c', '1']] as const) await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: n, FunctionVersion: v }));
    await expect(lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'a', FunctionVersion: '1' }))).rejects.toMatchObject({ name: 'ResourceConflictException' });
    await expect(lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: '12', FunctionVersion: '1' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'x', FunctionVersion: '9' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // Weighted routing to a version that is not published (lambda-weighted-aliases.test.ts has the rest).
    await expect(lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'w', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect((await lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'b' }))).FunctionVersion).toBe('$LATEST');
    expect((await lambda.send(new ListAliasesCommand({ FunctionName: 'hello', FunctionVersion: '1' }))).Aliases?.map((a) => a.Name)).toEqual(['a', 'c']);
    const first = await lambda.send(new ListAliasesCommand({ FunctionName: 'hello', MaxItems: 2 }));
    expect(first.Aliases?.map((a) => a.Name)).toEqual(['a', 'b']);
    expect((await lambda.send(new ListAliasesCommand({ FunctionName: 'hello', Marker: first.NextMarker }))).Aliases?.map((a) => a.Name)).toEqual(['c']);
    await lambda.send(new DeleteAliasCommand({ FunctionName: 'hello', Name: 'a' }));
    await expect(lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'a' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('tags and account', () => {
  it('TagResource, ListTags and UntagResource; fare:class is the function class', async () => {
    await create();
    const arn = 'arn:aws:lambda:us-east-1:acme:function:hello';
    expect((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags).toEqual({ 'fare:class': 'standard' });
    await lambda.send(new TagResourceCommand({ Resource: arn, Tags: { team: 'web', 'fare:class': 'high' } }));
    expect((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags).toEqual({ team: 'web', 'fare:class': 'high' });
    expect(h.store.functions.get('acme', 'hello')?.cls).toBe('high');
    await expect(lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'fare:class': 'gold' } }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'aws:x': '1' } }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['team', 'fare:class'] }));
    expect((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags).toEqual({ 'fare:class': 'standard' });
    await expect(client(zeta).send(new ListTagsCommand({ Resource: arn }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('GetAccountSettings counts the tenant functions and code', async () => {
    await create('a');
    await create('b');
    const s = await lambda.send(new GetAccountSettingsCommand({}));
    expect(s.AccountUsage).toMatchObject({ FunctionCount: 2 });
    expect(s.AccountUsage?.TotalCodeSize).toBeGreaterThan(0);
    expect(s.AccountLimit?.CodeSizeUnzipped).toBe(250 * 1024 * 1024);
  });

  it('event invoke configs: Put, Update, Get, List and Delete per qualifier, with Lambda\'s shapes and errors; they go with their alias, version or function', async () => {
    await create();
    const FunctionName = 'hello';
    const put = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 600 }));
    expect(put).toMatchObject({ FunctionArn: 'arn:aws:lambda:us-east-1:acme:function:hello:$LATEST', MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 600 });
    expect(put.LastModified).toBeInstanceOf(Date);
    expect(Math.abs((put.LastModified?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(h.store.eventConfigs.get('acme', 'hello', '$LATEST')).toMatchObject({ maxRetryAttempts: 0, maxEventAgeS: 600 });
    // Update keeps what it is not given; Put sets all (what it leaves out goes back to the default).
    expect(await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName, MaximumRetryAttempts: 1 }))).toMatchObject({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 600 });
    const reset = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, MaximumRetryAttempts: 2 }));
    expect(reset.MaximumRetryAttempts).toBe(2);
    expect(reset.MaximumEventAgeInSeconds).toBeUndefined();
    expect(await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName }))).toMatchObject({ MaximumRetryAttempts: 2 });
    // Per version and alias (which must exist).
    await lambda.send(new PublishVersionCommand({ FunctionName }));
    await lambda.send(new CreateAliasCommand({ FunctionName, Name: 'live', FunctionVersion: '1' }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, Qualifier: 'live', MaximumRetryAttempts: 0 }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello:1', MaximumEventAgeInSeconds: 60 }));
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, Qualifier: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, Qualifier: '7' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const all = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName }));
    expect(all.FunctionEventInvokeConfigs?.map((c) => c.FunctionArn?.split(':').at(-1))).toEqual(['$LATEST', '1', 'live']);
    const first = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName, MaxItems: 2 }));
    expect(first.FunctionEventInvokeConfigs).toHaveLength(2);
    const rest = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName, MaxItems: 2, Marker: first.NextMarker }));
    expect(rest.FunctionEventInvokeConfigs?.map((c) => c.FunctionArn?.split(':').at(-1))).toEqual(['live']);
    expect(rest.NextMarker).toBeUndefined();
    // Bad input: out of range, a destination, an unknown member — each named.
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, MaximumRetryAttempts: 3 }))).rejects.toMatchObject({ name: 'InvalidParameterValueException', message: MATCH(/MaximumRetryAttempts/) });
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, MaximumEventAgeInSeconds: 59 }))).rejects.toMatchObject({ name: 'InvalidParameterValueException', message: MATCH(/MaximumEventAgeInSeconds/) });
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:acme:dlq' } } }))).rejects.toMatchObject({
      name: 'InvalidParameterValueException', message: MATCH(/OnFailure arn:aws:sqs:us-east-1:acme:dlq: Fare's destinations are functions/),
    });
    // Destinations: another function the tenant may invoke; not itself, not one it may not invoke, not one that is not there.
    await create('dlq');
    const dlq = 'arn:aws:lambda:us-east-1:acme:function:dlq';
    expect((await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName, DestinationConfig: { OnFailure: { Destination: dlq } } }))).DestinationConfig)
      .toEqual({ OnSuccess: {}, OnFailure: { Destination: dlq } });
    expect(h.store.eventConfigs.get('acme', 'hello', '$LATEST')).toMatchObject({ maxRetryAttempts: 2, onFailure: dlq });
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, DestinationConfig: { OnSuccess: { Destination: 'arn:aws:lambda:us-east-1:acme:function:hello' } } }))).rejects.toMatchObject({ name: 'InvalidParameterValueException', message: MATCH(/is the function itself/) });
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, DestinationConfig: { OnSuccess: { Destination: 'arn:aws:lambda:us-east-1:zeta:function:theirs' } } }))).rejects.toMatchObject({ name: 'AccessDeniedException', message: MATCH(/may not invoke zeta's function theirs/) });
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, DestinationConfig: { OnSuccess: { Destination: 'arn:aws:lambda:us-east-1:acme:function:gone' } } }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // An Update with an empty destination removes it.
    expect((await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName, DestinationConfig: { OnFailure: { Destination: '' } } }))).DestinationConfig).toEqual({ OnSuccess: {}, OnFailure: {} });
    // Nor one whose destinations lead back here: records would go round for ever.
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'dlq', DestinationConfig: { OnSuccess: { Destination: 'arn:aws:lambda:us-east-1:acme:function:hello' } } }));
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, Qualifier: 'live', DestinationConfig: { OnSuccess: { Destination: dlq } } }))).rejects.toMatchObject({
      name: 'InvalidParameterValueException', message: MATCH(/would make a loop: acme\/hello → acme\/dlq → acme\/hello/),
    });
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'dlq' }));
    // Another tenant sees none of it.
    await expect(client(zeta).send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'arn:aws:lambda:us-east-1:acme:function:hello' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Delete: the defaults again; a second delete, and a Get or Update of none, are 404.
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName }));
    await expect(lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: MATCH(/function:hello:\$LATEST doesn't have an EventInvokeConfig/) });
    await expect(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName, MaximumRetryAttempts: 0 }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // An alias's config goes with the alias, a version's with the version, all with the function.
    await lambda.send(new DeleteAliasCommand({ FunctionName, Name: 'live' }));
    expect(h.store.eventConfigs.list('acme', 'hello').map((c) => c.qualifier)).toEqual(['1']);
    await lambda.send(new DeleteFunctionCommand({ FunctionName, Qualifier: '1' }));
    expect(h.store.eventConfigs.list('acme', 'hello')).toEqual([]);
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName, MaximumRetryAttempts: 0 }));
    await lambda.send(new DeleteFunctionCommand({ FunctionName }));
    expect(h.store.eventConfigs.list('acme', 'hello')).toEqual([]);
    await expect(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: MATCH(/Function not found/) });
  });

  it("AddPermission, GetPolicy and RemovePermission are the function's grants: another tenant named may invoke it, until removed", async () => {
    await create();
    const FunctionName = 'hello';
    const arn = 'arn:aws:lambda:us-east-1:acme:function:hello';
    const byZeta = () => client(zeta).send(new InvokeCommand({ FunctionName: arn }));
    await expect(byZeta()).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(lambda.send(new GetPolicyCommand({ FunctionName }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: MATCH(/has no policy/) });
    const added = await lambda.send(new AddPermissionCommand({ FunctionName, StatementId: 'zeta-calls', Action: 'lambda:InvokeFunction', Principal: 'zeta' }));
    expect(JSON.parse(added.Statement ?? '')).toEqual({ Sid: 'zeta-calls', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::zeta:root' }, Action: 'lambda:InvokeFunction', Resource: arn });
    expect((await byZeta()).StatusCode).toBe(200);
    expect(h.store.grants.involving('zeta')).toEqual([expect.objectContaining({ owner: 'acme', function: 'hello', grantee: 'zeta', sid: 'zeta-calls' })]);
    // A grant made through Fare's own API shows as a statement too; one of all the owner's functions as well.
    const other = await h.tenant('other');
    const third = await h.tenant('third');
    h.store.grants.add('acme', '*', third.tenant);
    const made = await fetch(`${h.url}/v1/grants`, { method: 'POST', headers: { ...h.bearer(acme), 'Content-Type': 'application/json' }, body: JSON.stringify({ function: 'hello', grantee: other.tenant }) });
    expect(made.status).toBe(201);
    const policy = await lambda.send(new GetPolicyCommand({ FunctionName }));
    expect(policy.RevisionId).toBe(h.store.functions.get('acme', 'hello')?.revision);
    expect((JSON.parse(policy.Policy ?? '') as { Statement: { Sid: string; Resource: string }[] }).Statement.map((x) => [x.Sid, x.Resource])).toEqual([
      ['fare-grant-other', arn], ['zeta-calls', arn], ['fare-grant-all-third', 'arn:aws:lambda:us-east-1:acme:function:*'],
    ]);
    // Refused, each saying why: a statement id in use, the same grantee again, what a grant cannot say.
    const refused: [string, Record<string, unknown>, string, RegExp][] = [
      ['same id', { StatementId: 'zeta-calls', Principal: 'third' }, 'ResourceConflictException', /statement id \(zeta-calls\) provided already exists/],
      ['same grantee', { StatementId: 'again', Principal: 'arn:aws:iam::zeta:root' }, 'ResourceConflictException', /may invoke hello already, by statement zeta-calls/],
      ['a service', { StatementId: 's3', Principal: 's3.amazonaws.com' }, 'InvalidParameterValueException', /no services \(s3\.amazonaws\.com\)/],
      ['anyone', { StatementId: 'all', Principal: '*' }, 'InvalidParameterValueException', /function URL with AuthType NONE/],
      ['a condition', { StatementId: 'c', Principal: 'third', SourceArn: 'arn:aws:s3:::bucket' }, 'InvalidParameterValueException', /does not condition a grant on SourceArn/],
      ['another action', { StatementId: 'g', Principal: 'third', Action: 'lambda:GetFunction' }, 'InvalidParameterValueException', /not lambda:GetFunction/],
      ['a qualifier', { StatementId: 'q', Principal: 'third', Qualifier: '1' }, 'InvalidParameterValueException', /leave out the qualifier "1"/],
      ['nobody', { StatementId: 'n', Principal: 'nobody' }, 'ResourceNotFoundException', /no tenant nobody/],
      ['the owner', { StatementId: 'o', Principal: 'acme' }, 'InvalidParameterValueException', /owns the function/],
    ];
    for (const [what, extra, name, why] of refused) {
      const e = await lambda.send(new AddPermissionCommand({ FunctionName, StatementId: 'x', Action: 'lambda:InvokeFunction', Principal: 'x', ...extra }))
        .then(() => undefined, (x: unknown) => x as { name: string; message: string });
      expect(e?.name, what).toBe(name);
      expect(e?.message, what).toMatch(why);
    }
    // RemovePermission: the grant goes; a statement of all functions is not this function's to remove.
    await expect(lambda.send(new RemovePermissionCommand({ FunctionName, StatementId: 'fare-grant-all-third' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException', message: MATCH(/DELETE \/v1\/grants\?function=\*&grantee=third/) });
    await expect(lambda.send(new RemovePermissionCommand({ FunctionName, StatementId: 'zeta-calls', RevisionId: 'stale' }))).rejects.toMatchObject({ name: 'PreconditionFailedException' });
    await lambda.send(new RemovePermissionCommand({ FunctionName, StatementId: 'zeta-calls' }));
    await expect(lambda.send(new RemovePermissionCommand({ FunctionName, StatementId: 'zeta-calls' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: MATCH(/Statement zeta-calls is not found in resource policy/) });
    await expect(byZeta()).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await lambda.send(new RemovePermissionCommand({ FunctionName, StatementId: 'fare-grant-other' }));
    expect(h.store.grants.ofFunction('acme', 'hello').map((g) => g.grantee)).toEqual(['third']);
    // Only the owner (or an administrator) sees or changes the policy.
    await expect(client(zeta).send(new GetPolicyCommand({ FunctionName: arn }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('reserved concurrency: set, read (also in GetFunction), kept across updates, removed; bad values and other tenants refused', async () => {
    await create();
    const FunctionName = 'hello';
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName }))).ReservedConcurrentExecutions).toBeUndefined();
    expect((await lambda.send(new GetFunctionCommand({ FunctionName }))).Concurrency).toBeUndefined();
    expect((await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName, ReservedConcurrentExecutions: 3 }))).ReservedConcurrentExecutions).toBe(3);
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName }))).ReservedConcurrentExecutions).toBe(3);
    expect((await lambda.send(new GetFunctionCommand({ FunctionName }))).Concurrency).toEqual({ ReservedConcurrentExecutions: 3 });
    // Not a new version: the function's revision is unchanged; and a configuration change keeps it.
    const before = (await lambda.send(new GetFunctionCommand({ FunctionName }))).Configuration;
    expect((await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName, ReservedConcurrentExecutions: 0 }))).ReservedConcurrentExecutions).toBe(0);
    expect((await lambda.send(new GetFunctionCommand({ FunctionName }))).Configuration?.RevisionId).toBe(before?.RevisionId);
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName, Timeout: 9 }));
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName }))).ReservedConcurrentExecutions).toBe(0);
    // It is the function's, over all its versions: a qualifier is refused.
    await expect(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'hello:1', ReservedConcurrentExecutions: 2 }))).rejects.toMatchObject({ name: 'InvalidParameterValueException', message: MATCH(/leave out the qualifier/) });
    await expect(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName, ReservedConcurrentExecutions: -1 }))).rejects.toMatchObject({ name: 'InvalidParameterValueException', $metadata: { httpStatusCode: 400 } });
    await expect(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName, ReservedConcurrentExecutions: 100_001 }))).rejects.toMatchObject({
      name: 'InvalidParameterValueException', message: MATCH(/^ReservedConcurrentExecutions 100001 is above Fare's largest, 100000: give less, or remove the limit/),
    });
    // Another tenant neither reads nor sets it.
    await expect(client(zeta).send(new PutFunctionConcurrencyCommand({ FunctionName: 'arn:aws:lambda:us-east-1:acme:function:hello', ReservedConcurrentExecutions: 50 }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(client(zeta).send(new GetFunctionConcurrencyCommand({ FunctionName: 'arn:aws:lambda:us-east-1:acme:function:hello' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(h.store.functions.get('acme', 'hello')?.reservedConcurrency).toBe(0);
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName }));
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName }))).ReservedConcurrentExecutions).toBeUndefined();
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName })); // none: done already
    await expect(lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'missing' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'missing', ReservedConcurrentExecutions: 5 }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // Provisioned concurrency, under the same API version, is still named and explained.
    await expect(lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName }))).rejects.toMatchObject({ name: 'UnknownOperationException', message: MATCH(/stem cells/) });
  });

  it('an operation Fare does not have says so, and why, in the shape the SDK reads (whatever its API version)', async () => {
    const r = await fetch(`${h.url}/2015-03-31/event-source-mappings/`, { headers: h.bearer(acme) });
    expect(r.status).toBe(404);
    expect(r.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    await create();
    const FunctionName = 'hello';
    // Each under its own API version; the SDK names the error by X-Amzn-ErrorType and shows the message.
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['ListProvisionedConcurrencyConfigs', () => lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName })), /provisioned concurrency: .*stem cells/],
      ['ListLayers', () => lambda.send(new ListLayersCommand({})), /no layers: put the dependencies in the function's zip/],
      ['GetFunctionRecursionConfig', () => lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName })), /does not detect recursive loops/],
      ['InvokeAsync', () => lambda.send(new InvokeAsyncCommand({ FunctionName, InvokeArgs: Buffer.from('{}') })), /InvocationType Event/],
    ];
    for (const [operation, send, why] of cases) {
      const e = await send().then(() => undefined, (x: unknown) => x as { name: string; message: string; $metadata: { httpStatusCode?: number } });
      expect(e, operation).toMatchObject({ name: 'UnknownOperationException', $metadata: { httpStatusCode: 404 } });
      expect(e?.message, operation).toMatch(why);
    }
    // A version of Lambda's API that Fare knows nothing of: still Lambda's shape, naming the path.
    const other = await fetch(`${h.url}/2099-01-01/functions/hello/something`, { headers: h.bearer(acme) });
    expect(other.status).toBe(404);
    expect(other.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    const body = (await other.json()) as { Type: string; Message: string };
    expect(body.Type).toBe('User');
    expect(body.Message).toContain('Fare does not implement GET /2099-01-01/functions/hello/something of the Lambda API');
    // Outside any API version, Fare's own shape.
    const none = await fetch(`${h.url}/nowhere`);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('FARE_E_ROUTE_NOT_FOUND');
  });
});

describe('invocation credentials', () => {
  it('the SDK inside a function calls Fare with its invocation credentials: its tenant, its class inherited, only while it runs', async () => {
    const { invocationCredentials } = await import('../invocation-credentials.ts');
    await create('callee');
    await create('caller', { Tags: { 'fare:class': 'high' } });
    const seen: { fn: string; cls: number }[] = [];
    let inner: Promise<unknown> | undefined;
    let creds: ReturnType<typeof invocationCredentials>;
    h.platform.respond = async (req) => {
      seen.push({ fn: req.fn.name, cls: req.cls });
      if (req.fn.name === 'caller') {
        creds = invocationCredentials(req.fareContext ?? '');
        const c = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: creds?.accessKeyId ?? '', secretAccessKey: creds?.secretAccessKey ?? '', sessionToken: creds?.sessionToken ?? '' }, maxAttempts: 1 });
        inner = c.send(new InvokeCommand({ FunctionName: 'callee' }));
        await inner;
        c.destroy();
      }
      return outcome();
    };
    await invoke('caller');
    expect(creds?.accessKeyId).toMatch(/^FARECTX[0-9A-F]{25}$/);
    // The callee ran at the caller's class (high = 0), not its own (standard).
    expect(seen).toEqual([{ fn: 'caller', cls: 0 }, { fn: 'callee', cls: 0 }]);
    // After the invocation, its credentials are refused.
    const late = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: creds?.accessKeyId ?? '', secretAccessKey: creds?.secretAccessKey ?? '', sessionToken: creds?.sessionToken ?? '' }, maxAttempts: 1 });
    await expect(late.send(new InvokeCommand({ FunctionName: 'callee' }))).rejects.toThrow(/only while their invocation runs/);
    // Without the session token, or with another invocation's, they are refused too.
    const bare = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: creds?.accessKeyId ?? '', secretAccessKey: creds?.secretAccessKey ?? '' }, maxAttempts: 1 });
    await expect(bare.send(new InvokeCommand({ FunctionName: 'callee' }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    late.destroy();
    bare.destroy();
    // An instance's credentials outside any invocation are refused, saying why.
    const { NO_INVOCATION } = await import('../invocation-credentials.ts');
    const outside = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { ...NO_INVOCATION }, maxAttempts: 1 });
    await expect(outside.send(new InvokeCommand({ FunctionName: 'callee' }))).rejects.toThrow(/only while an invocation runs: make the call inside the handler/);
    outside.destroy();
  });
});
