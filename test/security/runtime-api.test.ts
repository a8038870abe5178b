// Finding 3 of issue 11: the Runtime API of an instance answers that instance only. Mallory's
// functions find every Runtime API on the machine (/proc/net/tcp lists the listening ports) and try
// to take the victim's next event or to answer its invocation in its place.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, invoke, run, skipReason, sleep, startBench, type Bench } from './harness.ts';

const skip = skipReason('the Runtime API attacks (finding 3)');

interface Try {
  status: number | string;
}

describe.skipIf(skip !== null)("a function cannot poll or answer another instance's Runtime API", () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench();
    await deploy(b, b.victim, 'victim-fn', 'victim-node', { runtime: 'nodejs', handler: 'index.handler', env: { SECRET: 's' } });
    await deploy(b, b.mallory, 'mallory-fn', 'mallory-node', { runtime: 'nodejs', handler: 'index.handler' });
    await deploy(b, b.mallory, 'mallory-sh', 'mallory-sh', { runtime: 'provided', handler: 'bootstrap' });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('finding 3: every other Runtime API answers 403 to /next, /response and /error while the victim runs, and the victim gets its own answer', async () => {
    const port = Number(String((await run(b, b.victim, 'victim-fn', {}))['runtimeApi']).split(':')[1]);
    // The victim busy in an invocation (its event taken, its answer awaited) while mallory attacks.
    const victimRun = invoke(b, b.victim, 'victim-fn', { sleepMs: 1500, echo: 'the real answer' });
    await sleep(300);
    const r = await run(b, b.mallory, 'mallory-fn', { attack: 'runtimeApi', victimRequestId: 'any-id' });
    const results = r['results'] as { port: number; next: Try; response: Try; error: Try; credentials: Try }[];
    const atVictim = results.find((x) => x.port === port);
    expect(atVictim).toMatchObject({ next: { status: 403 }, response: { status: 403 }, error: { status: 403 }, credentials: { status: 403 } });
    // Nowhere did mallory take an event, the victim's credentials, or have an answer accepted.
    for (const x of results) for (const t of [x.next, x.response, x.error, x.credentials]) expect([200, 202]).not.toContain(t.status);
    const v = await victimRun;
    expect(v.status).toBe(200);
    expect((v.body as Record<string, unknown>)['echo']).toBe('the real answer');
    // A provided runtime (shell and curl) fares no better.
    expect(await run(b, b.mallory, 'mallory-sh', { port })).toEqual({ next: '403' });
    // And Fare said so in its log.
    expect(b.fare.output()).toMatch(/refused GET \/2018-06-01\/runtime\/invocation\/next on the Runtime API of instance victim-fn-v1-/);
  });

  it("a function's own invocation credentials reach only its own tenant: the victim's function is denied by ARN, to invoke, read or delete", async () => {
    const r = await run(b, b.mallory, 'mallory-fn', { attack: 'withOwnCredentials', victimArn: 'arn:aws:lambda:us-east-1:victim:function:victim-fn' });
    expect(r['keyId']).toMatch(/^FARECTX/);
    for (const k of ['invoke', 'get', 'del']) expect(r[k]).toEqual({ status: 403, type: 'AccessDeniedException' });
    // The credentials work, for mallory's own tenant.
    expect(r['own']).toMatchObject({ status: 200 });
    expect((await run(b, b.victim, 'victim-fn', { echo: 'still here' }))['echo']).toBe('still here');
  });
});
