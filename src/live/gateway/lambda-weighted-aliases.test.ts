// Lambda's weighted aliases (RoutingConfig) driven by AWS's own SDK: CreateAlias / UpdateAlias take
// `AdditionalVersionWeights`, GetAlias / ListAliases report it, and each invocation of the alias runs
// the additional version with its weight's probability (X-Amz-Executed-Version says which ran; an
// Event records the version chosen; a function URL on the alias chooses the same way). The draws are
// injected (evenly spread, or seeded) where a count is checked exactly; one test goes through
// node:crypto's draws with a 5-sigma bound.

import {
  CreateAliasCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionCommand,
  GetAliasCommand,
  InvokeCommand,
  LambdaClient,
  ListAliasesCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { randomDraw } from './server.ts';
import { readZip } from './zip.ts';
import { outcome, startHarness, writeZip, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let lambda: LambdaClient;
/** The gateway's draws: node:crypto's unless a test sets its own. */
let draws: (() => number) | undefined;

const code = (answer: string): Uint8Array => writeZip([{ name: 'index.js', data: `exports.handler = async () => ${JSON.stringify(answer)};\n` }]);
/** Zips by hex SHA-256, so the fake platform can answer with the code's own answer. */
const zipOf = new Map<string, Uint8Array>();
function remember(zip: Uint8Array): Uint8Array {
  zipOf.set(createHash('sha256').update(zip).digest('hex'), zip);
  return zip;
}

beforeEach(async () => {
  draws = undefined;
  h = await startHarness({ draw: () => (draws ?? randomDraw)() });
  acme = await h.tenant('acme');
  lambda = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: acme.accessKeyId, secretAccessKey: acme.secret }, maxAttempts: 1 });
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

/** hello with versions 1 (answers "v1"), 2 ("v2") and 3 ("v3"); $LATEST is version 3's code. */
async function threeVersions(): Promise<void> {
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'hello', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/x', Handler: 'index.handler', Code: { ZipFile: remember(code('v1')) }, Publish: true }));
  for (const v of ['v2', 'v3']) await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: remember(code(v)), Publish: true }));
}

const invoke = async (qualifier: string) => {
  const r = await lambda.send(new InvokeCommand({ FunctionName: 'hello', Qualifier: qualifier }));
  return { executed: r.ExecutedVersion, answer: JSON.parse(new TextDecoder().decode(r.Payload)) as unknown };
};

/** Counts which version ran over `n` invocations of the alias, checking each answer is that version's code. */
async function runs(alias: string, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await invoke(alias);
    expect(r.answer).toBe(`v${r.executed ?? '?'}`);
    seen[r.executed ?? '?'] = (seen[r.executed ?? '?'] ?? 0) + 1;
  }
  return seen;
}

/** A seeded generator (mulberry32): uniform draws in [0, 1), the same every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Evenly spread draws: (i + 0.5) / n for i = 0 … n − 1. */
function spread(n: number): () => number {
  let i = 0;
  return () => ((i++ % n) + 0.5) / n;
}

/** Expects `p` to fail with Lambda's error `name` and a message matching `message`. */
async function refusedWith(p: Promise<unknown>, name: string, message: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toMatchObject({ name });
  expect((e as Error).message).toMatch(message);
}

describe('weighted aliases', () => {
  it('CreateAlias with RoutingConfig: GetAlias and ListAliases report it; the additional version runs its weight\'s share, and ExecutedVersion says which ran', async () => {
    await threeVersions();
    const made = await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.3 } } }));
    expect(made).toMatchObject({ Name: 'prod', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.3 } } });
    expect(await lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'prod' }))).toMatchObject({ FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.3 } } });
    expect((await lambda.send(new ListAliasesCommand({ FunctionName: 'hello' }))).Aliases?.[0]?.RoutingConfig).toEqual({ AdditionalVersionWeights: { '2': 0.3 } });

    // Evenly spread draws: exactly the weight's share.
    draws = spread(400);
    expect(await runs('prod', 400)).toEqual({ '1': 280, '2': 120 });
    // A seeded generator: the same count every run, near 120 (binomial: σ ≈ 9.2).
    draws = seeded(20240611);
    const s = await runs('prod', 400);
    expect(Object.keys(s).sort()).toEqual(['1', '2']);
    expect(Math.abs((s['2'] ?? 0) - 120)).toBeLessThan(5 * Math.sqrt(400 * 0.3 * 0.7));
    // Invoking the versions themselves, or $LATEST, draws nothing.
    draws = () => 0;
    expect(await invoke('1')).toEqual({ executed: '1', answer: 'v1' });
    expect(await invoke('$LATEST')).toEqual({ executed: '$LATEST', answer: 'v3' });
    expect(await invoke('prod')).toEqual({ executed: '2', answer: 'v2' });
    draws = () => 0.3;
    expect(await invoke('prod')).toEqual({ executed: '1', answer: 'v1' });
  });

  it("node:crypto's draws run the additional version a plausible number of times (within 5 sigma)", async () => {
    await threeVersions();
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.3 } } }));
    const n = 400;
    const seen = await runs('prod', n);
    // 120 expected, σ = √(400 · 0.3 · 0.7) ≈ 9.2: outside 74–166 about once in two million runs.
    expect(Math.abs((seen['2'] ?? 0) - n * 0.3)).toBeLessThan(5 * Math.sqrt(n * 0.3 * 0.7));
    expect((seen['1'] ?? 0) + (seen['2'] ?? 0)).toBe(n);
    for (let i = 0; i < 1000; i++) {
      const d = randomDraw();
      expect(d >= 0 && d < 1).toBe(true);
    }
  });

  it('an Event invocation of a weighted alias records the version chosen, which the async runner then runs', async () => {
    await threeVersions();
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }));
    draws = () => 0.1;
    expect((await lambda.send(new InvokeCommand({ FunctionName: 'hello', Qualifier: 'prod', InvocationType: 'Event' }))).StatusCode).toBe(202);
    expect(h.platform.queued.at(-1)).toMatchObject({ qualifier: '2' });
    draws = () => 0.9;
    await lambda.send(new InvokeCommand({ FunctionName: 'hello', Qualifier: 'prod', InvocationType: 'Event' }));
    expect(h.platform.queued.at(-1)).toMatchObject({ qualifier: '1' });
    // The runner resolves the recorded version, with no draw of its own.
    expect(h.store.versions.resolve('acme', 'hello', h.platform.queued.at(-2)?.qualifier ?? undefined, () => undefined)?.fn.published).toBe(2);
  });

  it("a function URL on a weighted alias chooses the alias's version the same way", async () => {
    await threeVersions();
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.25 } } }));
    const url = (await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'hello', Qualifier: 'prod', AuthType: 'NONE' }))).FunctionUrl ?? '';
    draws = () => 0.2;
    expect(await (await fetch(url)).text()).toBe('v2');
    draws = () => 0.25;
    expect(await (await fetch(url)).text()).toBe('v1');
  });

  it('UpdateAlias sets, changes and removes the routing ({} or no weights); left out, it is kept', async () => {
    await threeVersions();
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1' }));
    expect((await lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'prod' }))).RoutingConfig).toBeUndefined();
    const set = await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }));
    expect(set).toMatchObject({ FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } });
    // Left out: kept, with the new version and description.
    expect(await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '3', Description: 'canary' }))).toMatchObject({ FunctionVersion: '3', Description: 'canary', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } });
    // The weight's bounds are both allowed (0.0–1.0, as Lambda's API reference gives them).
    expect((await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', RoutingConfig: { AdditionalVersionWeights: { '2': 1 } } }))).RoutingConfig).toEqual({ AdditionalVersionWeights: { '2': 1 } });
    draws = () => 0.999;
    expect((await invoke('prod')).executed).toBe('2');
    expect((await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', RoutingConfig: { AdditionalVersionWeights: { '2': 0 } } }))).RoutingConfig).toEqual({ AdditionalVersionWeights: { '2': 0 } });
    draws = () => 0;
    expect((await invoke('prod')).executed).toBe('3');
    // No weights: removed.
    const none = await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', RoutingConfig: { AdditionalVersionWeights: {} } }));
    expect(none.RoutingConfig).toBeUndefined();
    expect((await lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'prod' }))).RoutingConfig).toBeUndefined();
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', RoutingConfig: { AdditionalVersionWeights: { '1': 0.5 } } }));
    // An empty RoutingConfig, sent as a plain request (the SDK's serializer may drop an empty structure): removed too.
    const raw = await fetch(`${h.url}/2015-03-31/functions/hello/aliases/prod`, { method: 'PUT', headers: { ...h.bearer(acme), 'Content-Type': 'application/json' }, body: JSON.stringify({ RoutingConfig: {} }) });
    expect(raw.status).toBe(200);
    expect(((await raw.json()) as Record<string, unknown>).RoutingConfig).toBeUndefined();
    expect(h.store.versions.alias('acme', 'hello', 'prod')?.routing).toBeUndefined();
    draws = () => 0;
    expect(await invoke('prod')).toEqual({ executed: '3', answer: 'v3' });
  });

  it("refuses what Lambda refuses, with Lambda's error types, and changes nothing", async () => {
    await threeVersions();
    const refused = (routing: Record<string, number>, version = '1') =>
      lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'bad', FunctionVersion: version, RoutingConfig: { AdditionalVersionWeights: routing } }));
    await refusedWith(refused({ '2': 0.1, '3': 0.1 }), 'InvalidParameterValueException', /Number of items in AdditionalVersionWeights cannot be greater than 1/);
    await refusedWith(refused({ '2': 1.5 }), 'InvalidParameterValueException', /RoutingConfig\.AdditionalVersionWeights\.2: expected a number from 0 to 1, got 1\.5/);
    await expect(refused({ '2': -0.1 })).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await refusedWith(refused({ $LATEST: 0.5 }), 'InvalidParameterValueException', /published version number/);
    await refusedWith(refused({ '1': 0.5 }), 'InvalidParameterValueException', /^Invalid function version 1\. Function version 1 is already included in routing configuration/);
    await refusedWith(refused({ '2': 0.5 }, '$LATEST'), 'InvalidParameterValueException', /^\$LATEST is not supported for an alias pointing to more than 1 version/);
    await refusedWith(refused({ '9': 0.5 }), 'ResourceNotFoundException', /^Function not found: arn:aws:lambda:us-east-1:acme:function:hello:9/);
    await expect(refused({ '2': 0.5 }, '8')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // Both versions must have the same execution role.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Role: 'arn:aws:iam::123456789012:role/other' }));
    expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }))).Version).toBe('4');
    await refusedWith(refused({ '4': 0.5 }), 'InvalidParameterValueException', /^Specified versions must be associated with the same execution role/);
    expect((await lambda.send(new ListAliasesCommand({ FunctionName: 'hello' }))).Aliases).toEqual([]);

    // UpdateAlias checks the alias as it would be: a kept routing against a new version too.
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }));
    const before = await lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'prod' }));
    await refusedWith(lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '2' })), 'InvalidParameterValueException', /Function version 2 is already included in routing configuration/);
    await refusedWith(lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '$LATEST' })), 'InvalidParameterValueException', /\$LATEST is not supported/);
    await expect(lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', RoutingConfig: { AdditionalVersionWeights: { '7': 0.5 } } }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(await lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'prod' }))).toMatchObject({ FunctionVersion: '1', RevisionId: before.RevisionId, RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } });
    // Moving to $LATEST is allowed with the routing removed in the same call.
    expect(await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '$LATEST', RoutingConfig: { AdditionalVersionWeights: {} } }))).toMatchObject({ FunctionVersion: '$LATEST' });
  });

  it('a version an alias routes to cannot be deleted, like one it points to', async () => {
    await threeVersions();
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'prod', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }));
    await refusedWith(lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '2' })), 'ResourceConflictException', /^Unable to delete version because the following aliases reference it: prod/);
    await expect(lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '1' }))).rejects.toMatchObject({ name: 'ResourceConflictException' });
    draws = () => 0;
    expect(await invoke('prod')).toEqual({ executed: '2', answer: 'v2' });
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'prod', RoutingConfig: {} }));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '2' }));
    await expect(invoke('2')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
