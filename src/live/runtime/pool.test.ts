import { afterEach, describe, expect, it } from 'vitest';
import { InstancePool, type PoolOptions } from './pool.ts';
import { fixture, json, request, waitFor } from './testing.ts';

let pools: InstancePool[] = [];
let now = 0;

function pool(over: Partial<PoolOptions> = {}): InstancePool {
  const p = new InstancePool({ maxInstances: 4, idleTimeoutMs: 60_000, clock: () => now, ...over });
  pools.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
  now = 0;
});

const echo = fixture('node-echo', 'nodejs', 'index.handler');
const py = fixture('py-echo', 'python', 'app.handler');

describe('warm instances', () => {
  it('starts an instance on the first invocation (a timed cold start) and reuses it for the next', async () => {
    const p = pool();
    const a = await p.invoke(request(echo, { i: 1 }));
    expect(a).toMatchObject({ status: 'ok', coldStart: true });
    expect(a.initMs).toBeGreaterThan(0);
    const b = await p.invoke(request(echo, { i: 2 }));
    expect(b).toMatchObject({ status: 'ok', coldStart: false, initMs: 0 });
    expect(p.stats()).toMatchObject({ instances: 1, idle: 1, coldStarts: 1, warmStarts: 1, initFailures: 0 });
    expect(p.stats().initMsTotal).toBeCloseTo(a.initMs, 6);
  });

  it('counts its instances by class and state, with their resident memory (census, for the metrics)', async () => {
    const p = pool();
    expect(p.census()).toEqual([]);
    await Promise.all([p.invoke(request(echo, {})), p.invoke(request(echo, {}))]);
    const rows = p.census();
    expect(rows.map((r) => ({ cls: r.cls, state: r.state, count: r.count, swappedBytes: r.swappedBytes }))).toEqual([{ cls: echo.cls, state: 'idle', count: 2, swappedBytes: 0 }]);
    expect(rows[0]?.residentBytes).toBeGreaterThan(0);
  });

  it('keeps one instance per concurrent invocation', async () => {
    const p = pool();
    const [a, b] = await Promise.all([p.invoke(request(py, {})), p.invoke(request(py, {}))]);
    expect([a.coldStart, b.coldStart]).toEqual([true, true]);
    expect(p.stats()).toMatchObject({ instances: 2, idle: 2 });
  });

  it('reports an init failure as an Unhandled cold-start outcome and keeps no instance', async () => {
    const p = pool();
    const o = await p.invoke(request(fixture('node-init-throw', 'nodejs', 'index.handler'), {}));
    expect(o).toMatchObject({ status: 'error', functionError: 'Unhandled', errorType: 'Error', coldStart: true });
    expect(o.initMs).toBeGreaterThan(0);
    expect(p.stats()).toMatchObject({ instances: 0, initFailures: 1 });
  });

  it('drops an instance that died during its invocation', async () => {
    const p = pool();
    const o = await p.invoke(request(fixture('node-exit', 'nodejs', 'index.handler'), {}));
    expect(o.errorType).toBe('Runtime.ExitError');
    expect(p.stats().instances).toBe(0);
  });
});

describe('reaping, retiring, the cap', () => {
  it('reaps instances idle longer than the idle timeout, on the owner’s clock', async () => {
    const p = pool({ idleTimeoutMs: 5000 });
    now = 100;
    await p.invoke(request(echo, {}));
    expect(p.nextReapAt()).toBe(5100);
    expect(p.reap(5100)).toBe(0);
    expect(p.reap(5101)).toBe(1);
    expect(p.stats()).toMatchObject({ instances: 0, reaped: 1 });
    expect(p.nextReapAt()).toBe(Infinity);
    expect((await p.invoke(request(echo, {}))).coldStart).toBe(true);
  });

  it('retires instances of older versions when a newer version is invoked', async () => {
    const p = pool();
    await p.invoke(request(echo, {}));
    const v2 = { ...echo, version: 2 };
    const o = await p.invoke(request(v2, {}));
    expect(o.coldStart).toBe(true);
    expect(p.stats()).toMatchObject({ instances: 1, retired: 1 });
    expect(p.retire(echo.tenant, echo.name, 3)).toBe(1);
    expect(p.stats().instances).toBe(0);
  });

  it('keeps a published version’s instances warm when $LATEST moves on, until they idle out', async () => {
    const p = pool({ idleTimeoutMs: 5000 });
    const v1 = { ...echo, version: 1, published: 1 };
    await p.invoke(request(v1, {}));
    // $LATEST is updated (version 2) and invoked; then version 1 again, and again after another update.
    expect(p.retire(echo.tenant, echo.name, 2)).toBe(0);
    await p.invoke(request({ ...echo, version: 2 }, {}));
    expect((await p.invoke(request(v1, {}))).coldStart).toBe(false);
    await p.invoke(request({ ...echo, version: 3 }, {}));
    expect(p.stats()).toMatchObject({ instances: 2, retired: 1 });
    expect((await p.invoke(request(v1, {}))).coldStart).toBe(false);
    // An unpublished old version is still retired; the published one idles out like any other.
    expect(p.reap(now + 5001)).toBe(2);
    // Deleting the function forgets which versions were published.
    await p.invoke(request(v1, {}));
    expect(p.retireAll(echo.tenant, echo.name)).toBe(1);
    await p.invoke(request({ ...echo, version: 4 }, {}));
    expect(p.retire(echo.tenant, echo.name, 5)).toBe(1);
  });

  it('gives $LATEST and a published version of the same code instances of their own, each told which it runs', async () => {
    const p = pool();
    const latest = { ...echo, version: 1 };
    const published = { ...echo, version: 1, published: 1 };
    const seen = async (fn: typeof echo) => {
      const o = await p.invoke(request(fn, {}));
      const r = json(o.payload) as { context: { functionVersion: string; logStreamName: string } };
      return { cold: o.coldStart, version: r.context.functionVersion, stream: /\[(.*)\]/.exec(r.context.logStreamName)?.[1] };
    };
    expect(await seen(latest)).toEqual({ cold: true, version: '$LATEST', stream: '$LATEST' });
    expect(await seen(published)).toEqual({ cold: true, version: '1', stream: '1' });
    expect(await seen(latest)).toEqual({ cold: false, version: '$LATEST', stream: '$LATEST' });
    expect(await seen(published)).toEqual({ cold: false, version: '1', stream: '1' });
    expect(p.stats()).toMatchObject({ instances: 2, idle: 2 });
  });

  it('evicts the least recently used idle instance at the cap, and refuses when every instance is busy', async () => {
    const p = pool({ maxInstances: 1 });
    await p.invoke(request(echo, {}));
    const busy = fixture('node-busy', 'nodejs', 'index.handler');
    const running = p.invoke(request(busy, { cpuMs: 100 }));
    expect(p.stats().evicted).toBe(1);
    expect(p.hasCapacity(echo)).toBe(false);
    await expect(p.invoke(request(echo, {}))).rejects.toThrow(/FARE_E_POOL_FULL/);
    expect((await running).status).toBe('ok');
    expect(p.hasCapacity(echo)).toBe(true);
  });
});

describe('preemption by request id', () => {
  it('pause during a cold start freezes the instance once it exists; resume lets it finish', async () => {
    const p = pool();
    const busy = fixture('node-busy', 'nodejs', 'index.handler');
    const req = request(busy, { cpuMs: 50 });
    const run = p.invoke(req);
    p.pause(req.requestId);
    const inst = p.instanceFor(req.requestId);
    expect(inst).not.toBeNull();
    await waitFor(() => inst?.isFrozen === true && inst.state === 'busy', 5000, 'the invocation to be delivered to a frozen instance');
    p.resume(req.requestId);
    const o = await run;
    expect(o).toMatchObject({ status: 'ok', coldStart: true });
  });
});
