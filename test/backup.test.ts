// End-to-end: `fare backup` of a running `fare up` under a steady stream of calls, then Fare started
// from the backup — the restore. What was committed when the backup was taken is all there and
// consistent (every billed call in the bill, the tenant's credential, functions, a published version,
// their code and downloads, an accepted Event not yet run, which runs once allowed).

import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient, PublishVersionCommand, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const work = mkdtempSync(join(tmpdir(), 'fare-backup-'));
const running: FareProcess[] = [];
afterAll(async () => {
  for (const f of running) await stopFare(f);
  rmSync(work, { recursive: true, force: true });
});

const client = (url: string, id: string, secret: string): LambdaClient => new LambdaClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: id, secretAccessKey: secret }, maxAttempts: 1 });

describe('fare backup', () => {
  it('copies a running fare up under load; Fare started from the copy has everything that was committed, consistent, and runs it', async () => {
    const data = join(work, 'data');
    const fare = await startFare(data, ['--no-examples']);
    running.push(fare);
    const made = await api(fare.url, 'POST', '/v1/tenants', { id: 'acme' });
    const cred = (made.json as { credential: { accessKeyId: string; secret: string } }).credential;
    const key = `${cred.accessKeyId}:${cred.secret}`;
    const lambda = client(fare.url, cred.accessKeyId, cred.secret);
    const src = mkdtempSync(join(work, 'src-'));
    writeFileSync(join(src, 'index.mjs'), 'export const handler = async (e) => ({ n: e.n, v: process.env.V });\n');
    const zip = zipDirectory(src);
    for (const FunctionName of ['hello', 'held']) {
      await lambda.send(new CreateFunctionCommand({ FunctionName, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::1:role/x', Code: { ZipFile: zip }, Environment: { Variables: { V: 'sealed' } } }));
    }
    await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    // An Event accepted and held back (its function stopped): it is in the backup, still to run.
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'held', ReservedConcurrentExecutions: 0 }));
    const event = await lambda.send(new InvokeCommand({ FunctionName: 'held', InvocationType: 'Event', Payload: Buffer.from('{"n":-1}') }));
    expect(event.StatusCode).toBe(202);
    // Calls keep coming while the backup is taken.
    let load = true;
    let done = 0;
    const loader = (async () => {
      for (let n = 0; load; n++) {
        const r = await lambda.send(new InvokeCommand({ FunctionName: n % 2 === 0 ? 'hello' : 'hello:1', Payload: Buffer.from(JSON.stringify({ n })) }));
        expect(r.StatusCode).toBe(200);
        done++;
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const out = join(work, 'backup');
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'backup', out, '--data-dir', data, '--json']);
    const summary = JSON.parse(stdout) as { tenants: number; functions: number; versions: number; pendingInvocations: number; billingRecords: number; codeTrees: number; zips: number };
    await new Promise((r) => setTimeout(r, 300));
    load = false;
    await loader;
    expect(summary).toMatchObject({ tenants: 2, functions: 2, versions: 1, pendingInvocations: 1, codeTrees: 2, zips: 1 });
    expect(summary.billingRecords).toBeGreaterThan(0);
    expect(summary.billingRecords).toBeLessThan(done);
    // A usage mistake says what to do.
    await expect(promisify(execFile)(process.execPath, [BIN, 'backup', out, '--data-dir', data])).rejects.toMatchObject({ stderr: expect.stringMatching(/exists and is not an empty directory: give a new place for the backup/) as unknown, code: 2 });
    await stopFare(fare);
    running.length = 0;

    // The restore: Fare started from the backup.
    const restored = await startFare(out, ['--no-examples']);
    running.push(restored);
    const again = client(restored.url, cred.accessKeyId, cred.secret);
    // The bill holds exactly the calls billed when the backup was taken, all of them.
    const bill = (await api(restored.url, 'GET', '/v1/bill', undefined, key)).json as { invocations: number };
    expect(bill.invocations).toBe(summary.billingRecords);
    // Functions, the published version and the sealed environment run as before.
    const r = await again.send(new InvokeCommand({ FunctionName: 'hello:1', Payload: Buffer.from('{"n":7}') }));
    expect(JSON.parse(Buffer.from(r.Payload ?? []).toString())).toEqual({ n: 7, v: 'sealed' });
    const got = await again.send(new GetFunctionCommand({ FunctionName: 'hello' }));
    const download = Buffer.from(await (await fetch(got.Code?.Location ?? '')).arrayBuffer());
    expect(createHash('sha256').update(download).digest('base64')).toBe(got.Configuration?.CodeSha256);
    // The held Event runs once its function may run again.
    await api(restored.url, 'DELETE', '/v1/functions/held/concurrency', undefined, key);
    const id = event.$metadata.requestId ?? '';
    let status = '';
    for (let i = 0; i < 100 && status !== 'succeeded'; i++) {
      status = ((await api(restored.url, 'GET', `/v1/invocations/${id}`, undefined, key)).json as { status: string }).status;
      if (status !== 'succeeded') await new Promise((res) => setTimeout(res, 100));
    }
    expect(status).toBe('succeeded');
    lambda.destroy();
    again.destroy();
  }, 90_000);
});
