// GetFunction's Code.Location answers the zip as it was uploaded: its bytes are the upload's and their
// SHA-256 is CodeSha256, for $LATEST and for every published version, whether the code came through
// Lambda's CreateFunction / UpdateFunctionCode or Fare's PUT /v1/functions. The kept zip
// (`<data>/zips/<sha256>.zip`) lives while $LATEST or a published version has that code.

import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  LambdaClient,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { startHarness, writeZip, type Harness } from './testing.ts';
import { readZip } from './zip.ts';
import { zipDirectory } from './zip-writer.ts';

let h: Harness;
let acme: IssuedCredential;
let lambda: LambdaClient;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  lambda = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials: { accessKeyId: acme.accessKeyId, secretAccessKey: acme.secret }, maxAttempts: 1 });
});
afterEach(async () => {
  lambda.destroy();
  await h.close();
});

/** A zip unlike any Fare would rebuild: STORED and DEFLATE entries, a folder entry, modes 0644. */
const code = (answer: string): Buffer =>
  writeZip([
    { name: 'lib/' },
    { name: 'lib/answer.js', data: `module.exports = ${JSON.stringify(answer)};\n`, method: 0 },
    { name: 'index.js', data: "exports.handler = async () => require('./lib/answer.js');\n" },
  ]);
const b64sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('base64');
const hexsha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const keptZip = (zip: Uint8Array): string => join(h.store.dataDir, 'zips', `${hexsha(zip)}.zip`);
const kept = (): string[] => (existsSync(join(h.store.dataDir, 'zips')) ? readdirSync(join(h.store.dataDir, 'zips')).sort() : []);

/** GetFunction, then the download of its Code.Location: the bytes and the CodeSha256 reported. */
async function download(name: string, qualifier?: string): Promise<{ bytes: Buffer; codeSha256: string | undefined }> {
  const got = await lambda.send(new GetFunctionCommand({ FunctionName: name, ...(qualifier !== undefined ? { Qualifier: qualifier } : {}) }));
  const r = await fetch(got.Code?.Location ?? '');
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/zip');
  const bytes = Buffer.from(await r.arrayBuffer());
  expect(Number(r.headers.get('content-length'))).toBe(bytes.length);
  return { bytes, codeSha256: got.Configuration?.CodeSha256 };
}

const create = (name: string, zip: Uint8Array, extra: Record<string, unknown> = {}) =>
  lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: zip }, ...extra }));

describe('the code location', () => {
  it('answers the upload itself after CreateFunction, after UpdateFunctionCode, and for a published version after a later update', async () => {
    const one = code('one');
    const two = code('two');
    const three = code('three');
    const made = await create('hello', one);
    expect(made.CodeSha256).toBe(b64sha(one));
    const first = await download('hello');
    expect(first.bytes.equals(one)).toBe(true);
    expect(b64sha(first.bytes)).toBe(first.codeSha256);
    // A zip rebuilt from the unpacked code would not do: its bytes (and hash) differ.
    expect(zipDirectory(h.store.functions.get('acme', 'hello')?.codeDir ?? '').equals(one)).toBe(false);

    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: two, Publish: true }));
    const second = await download('hello');
    expect(second.bytes.equals(two)).toBe(true);
    expect(b64sha(second.bytes)).toBe(second.codeSha256);
    // The first code is no function's any more: its zip is gone.
    expect(existsSync(keptZip(one))).toBe(false);

    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: three }));
    // A change of settings only is a new internal version with the same code, and the same zip.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Timeout: 9 }));
    const v1 = await download('hello', '1');
    expect(v1.bytes.equals(two)).toBe(true);
    expect(b64sha(v1.bytes)).toBe(v1.codeSha256);
    expect(v1.codeSha256).toBe(b64sha(two));
    const latest = await download('hello', '$LATEST');
    expect(latest.bytes.equals(three)).toBe(true);
    expect(b64sha(latest.bytes)).toBe(latest.codeSha256);
    expect(kept()).toEqual([`${hexsha(two)}.zip`, `${hexsha(three)}.zip`].sort());
  });

  it('answers the upload of PUT and PATCH /v1/functions (a raw zip or zipBase64) too', async () => {
    const one = code('one');
    const put = await fetch(`${h.url}/v1/functions/rest?runtime=nodejs&handler=index.handler`, { method: 'PUT', headers: { ...h.bearer(acme), 'Content-Type': 'application/zip' }, body: one });
    expect(put.status).toBe(201);
    expect(((await put.json()) as { codeSha256: string }).codeSha256).toBe(hexsha(one));
    expect((await download('rest')).bytes.equals(one)).toBe(true);
    const two = code('two');
    const patch = await fetch(`${h.url}/v1/functions/rest`, { method: 'PATCH', headers: { ...h.bearer(acme), 'Content-Type': 'application/json' }, body: JSON.stringify({ zipBase64: two.toString('base64') }) });
    expect(patch.status).toBe(200);
    const d = await download('rest');
    expect(d.bytes.equals(two)).toBe(true);
    expect(b64sha(d.bytes)).toBe(d.codeSha256);
    expect(kept()).toEqual([`${hexsha(two)}.zip`]);
  });

  it('keeps a zip while a published version needs it and deletes it with the last one', async () => {
    const one = code('one');
    const two = code('two');
    await create('hello', one, { Publish: true });
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: two }));
    // Version 1 needs the first zip, $LATEST the second.
    expect(existsSync(keptZip(one))).toBe(true);
    expect(existsSync(keptZip(two))).toBe(true);
    await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    // Deleting version 1 frees the first zip; version 2 and $LATEST share the second.
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '1' }));
    expect(existsSync(keptZip(one))).toBe(false);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '2' }));
    expect(existsSync(keptZip(two))).toBe(true);
    expect((await download('hello')).bytes.equals(two)).toBe(true);
    // The function deleted: its zips go with it.
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: one, Publish: true }));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: two }));
    expect(kept()).toHaveLength(2);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello' }));
    expect(kept()).toEqual([]);
  });

  it('keeps one zip for functions uploaded the same bytes, until the last of them goes', async () => {
    const same = code('same');
    await create('a', same);
    await create('b', same);
    expect(kept()).toEqual([`${hexsha(same)}.zip`]);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'a' }));
    expect((await download('b')).bytes.equals(same)).toBe(true);
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'b', ZipFile: code('other') }));
    expect(existsSync(keptZip(same))).toBe(false);
  });

  it('keeps nothing when the upload is refused or is a dry run', async () => {
    await expect(create('bad', writeZip([{ name: 'other.js', data: 'x' }]))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await create('hello', code('one'));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: code('two'), DryRun: true }));
    await expect(create('hello', code('three'))).rejects.toMatchObject({ name: 'ResourceConflictException' });
    expect(kept()).toEqual([`${hexsha(code('one'))}.zip`]);
    expect(readdirSync(join(h.store.dataDir, 'code', '.staging'))).toEqual([]);
  });

  it('falls back to a zip rebuilt from the code for code whose upload was not kept (deployed before Fare kept them)', async () => {
    const one = code('one');
    await create('old', one);
    rmSync(keptZip(one));
    const d = await download('old');
    expect(d.bytes.equals(one)).toBe(false);
    expect(b64sha(d.bytes)).not.toBe(d.codeSha256);
    expect((await readZip(d.bytes)).filter((e) => !e.isDir).map((e) => e.path).sort()).toEqual(['index.js', 'lib/answer.js']);
  });
});
