// Finding 6 of issue 11: a context token (X-Fare-Context) is bound to the invocation it was handed
// to. Mallory, granted the right to invoke the victim's low-class function, calls it from her own
// top-class function with her context, and replays her context after its invocation has ended.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../support/fare-process.ts';
import { deploy, invoke, run, startBench, type Bench } from './harness.ts';


describe('a context raises only its own tenant\'s calls, and only while its invocation runs', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench();
    await deploy(b, b.victim, 'victim-low', 'victim-node', { runtime: 'nodejs', handler: 'index.handler', class: 'low' });
    expect((await api(b.fare.url, 'POST', '/v1/grants', { function: 'victim-low', grantee: 'mallory' }, b.victim.key)).status).toBe(201);
    await deploy(b, b.mallory, 'mallory-high', 'mallory-node', { runtime: 'nodejs', handler: 'index.handler', class: 'high' });
    await deploy(b, b.mallory, 'mallory-low', 'mallory-node', { runtime: 'nodejs', handler: 'index.handler', class: 'low' });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it("finding 6: a grantee's top-class context does not raise the owner's function, nor its bill", async () => {
    const call = (target: string): Promise<Record<string, unknown>> => run(b, b.mallory, 'mallory-high', { attack: 'call', url: b.fare.url, key: b.mallory.key, target, token: 'own', payload: { attack: 'token' } });
    // Her context is good: it raises her own low-class function.
    expect(await call('mallory-low')).toMatchObject({ status: 200, cls: 'high' });
    // The victim's function runs at the class the victim chose, and the victim is billed that.
    expect(await call('victim:function:victim-low')).toMatchObject({ status: 200, cls: 'low' });
    // The billing record follows the answer (once the invocation's measurement has ended).
    const billed = async (): Promise<string[] | undefined> => {
      const bill = (await api(b.fare.url, 'GET', '/v1/bill', undefined, b.victim.key)).json as { functions: { function: string; classes: { cls: string }[] }[] };
      return bill.functions.find((f) => f.function === 'victim-low')?.classes.map((c) => c.cls);
    };
    await expect.poll(billed, { timeout: 5000 }).toEqual(['low']);
  });

  it('finding 6: a context taken out of its invocation is refused once the invocation has ended', async () => {
    const { token } = await run(b, b.mallory, 'mallory-high', { attack: 'token' });
    const replay = await invoke(b, b.mallory, 'mallory-low', { attack: 'token' }, { 'X-Fare-Context': String(token) });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('x-fare-error-code')).toBe('FARE_E_CONTEXT_ENDED');
    // And from the victim's side, with her credentials: refused as hers.
    const other = await invoke(b, b.victim, 'victim-low', {}, { 'X-Fare-Context': String(token) });
    expect([other.status, other.headers.get('x-fare-error-code')]).toEqual([403, 'FARE_E_CONTEXT_FORBIDDEN']);
  });
});
