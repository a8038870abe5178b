import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { schedulerPlatform } from './platform.ts';
import type { SchedulerClient } from './scheduler-client.ts';
import type { FunctionSpec, InvokeOutcome, InvokeRequest } from '../types.ts';

const outcome: InvokeOutcome = { status: 'ok', payload: Buffer.from('1'), durationMs: 1, cpuMs: 1, memGBs: 0, maxMemMB: 1, coldStart: false, initMs: 0, logs: '' };
const fn = (idempotent: boolean): FunctionSpec => ({ tenant: 't', name: 'f', runtime: 'nodejs', handler: 'index.handler', cls: 'high', codeDir: '/x', version: 1, timeoutMs: 1000, env: {}, ...(idempotent ? { idempotent } : {}) });
const lost = (): Error => Object.assign(new Error('invocation r was running on worker 2, which restarted'), { code: 'FARE_E_WORKER_LOST' });

/** A platform over a scheduler whose first `failures` invocations fail as `fail()`. */
function platform(failures: number, fail: () => Error = lost) {
  let calls = 0;
  const scheduler = {
    invoke: (): Promise<InvokeOutcome> => (++calls <= failures ? Promise.reject(fail()) : Promise.resolve(outcome)),
    callStarted: () => () => {},
  } as unknown as SchedulerClient;
  const p = schedulerPlatform({ prices: DEFAULT_PRICE_TABLE, scheduler, fnId: () => 0, tenancy: 'multi', enqueued: () => {} });
  return { p, calls: () => calls };
}

const req = (idempotent: boolean): InvokeRequest => ({ fn: fn(idempotent), requestId: 'r', payload: Buffer.alloc(0), cls: 0 });

describe('schedulerPlatform: a sync call whose worker was lost', () => {
  it('fails with the clear error for a function that is not idempotent', async () => {
    const x = platform(1);
    await expect(x.p.invoke(req(false))).rejects.toMatchObject({ code: 'FARE_E_WORKER_LOST' });
    expect(x.calls()).toBe(1);
  });

  it('runs again for an idempotent function, up to three runs in all', async () => {
    const twice = platform(2);
    await expect(twice.p.invoke(req(true))).resolves.toBe(outcome);
    expect(twice.calls()).toBe(3);
    const thrice = platform(3);
    await expect(thrice.p.invoke(req(true))).rejects.toMatchObject({ code: 'FARE_E_WORKER_LOST' });
    expect(thrice.calls()).toBe(3);
  });

  it('does not run again once its caller has the answer (the worker was lost after it answered)', async () => {
    let calls = 0;
    const scheduler = {
      invoke: (r: InvokeRequest): Promise<InvokeOutcome> => {
        calls++;
        r.onAnswer?.({ status: 'ok', payload: Buffer.from('1') });
        return Promise.reject(lost());
      },
      callStarted: () => () => {},
    } as unknown as SchedulerClient;
    const p = schedulerPlatform({ prices: DEFAULT_PRICE_TABLE, scheduler, fnId: () => 0, tenancy: 'multi', enqueued: () => {} });
    const answers: unknown[] = [];
    await expect(p.invoke({ ...req(true), onAnswer: (a) => answers.push(a) })).rejects.toMatchObject({ code: 'FARE_E_WORKER_LOST' });
    expect(calls).toBe(1);
    expect(answers).toHaveLength(1);
  });

  it('does not run again for other failures', async () => {
    const x = platform(1, () => Object.assign(new Error('no shard'), { code: 'FARE_E_NO_SHARD' }));
    await expect(x.p.invoke(req(true))).rejects.toMatchObject({ code: 'FARE_E_NO_SHARD' });
    expect(x.calls()).toBe(1);
  });
});
