import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { capabilities } from './capabilities.ts';
import { Instance } from './instance.ts';
import { InstancePool } from './pool.ts';
import { RuntimeApi } from './runtime-api.ts';
import { StemCell, stemRuntimeOf, type StemRuntime } from './stem-cell.ts';
import { StemCells } from './stem-cells.ts';
import { InitError } from './errors.ts';
import { fixture, json, killRuntime, outputWatch, request, waitFor } from './testing.ts';

const caps = capabilities();
const why = caps.sandbox.helper === null ? `the instance sandbox is unavailable here (${caps.sandbox.why})` : null;
if (why !== null) console.log(`SKIPPED the stem cell process tests: ${why}`);

const echo = fixture('node-echo', 'nodejs', 'index.handler');
const py = fixture('py-echo', 'python', 'app.handler');
const cell = (runtime: StemRuntime): StemCell => new StemCell({ runtime, caps, baseDir: caps.instancesDir, runtimesDir: new URL('../../../runtimes', import.meta.url).pathname });

/** The runtime's host pid among `pids` (not the sandbox helper nor its init, which run the helper's binary), or -1. */
let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.map((f) => f()));
  cleanup = [];
});

describe.skipIf(why !== null)('a stem cell', () => {
  for (const fn of [echo, py]) {
    it(`becomes a ${fn.runtime} instance of the function it is given, with that function's environment and no other`, async () => {
      const c = cell(fn.runtime as StemRuntime);
      await c.ready;
      expect(c.state).toBe('ready');
      // Ready only with its process known (its runtime may ask for a function before the launcher answers).
      expect(c.pid).not.toBeNull();
      const stemDir = `${caps.instancesDir}/${c.id}`;
      expect(existsSync(stemDir)).toBe(true);
      const inst = new Instance({ fn, stem: c });
      cleanup.push(() => inst.kill());
      await inst.start();
      expect(c.state).toBe('taken');
      // Renamed to the instance's id: directory and v1 groups. A v2 group cannot be renamed and keeps
      // the cell's name (moving its processes to a new one cost a cold start an RCU grace period).
      expect(existsSync(stemDir)).toBe(false);
      expect(inst.workDir).toBe(`${caps.instancesDir}/${inst.id}`);
      const v2 = caps.cgroups.v2?.dir;
      expect(inst.cgroupDirs.length).toBeGreaterThan(0);
      for (const d of inst.cgroupDirs) {
        if (v2 !== undefined && d.startsWith(`${v2}/`)) expect(d).toBe(`${v2}/${c.id}`);
        else expect(d.endsWith(`/${inst.id}`)).toBe(true);
        expect(existsSync(d)).toBe(true);
      }
      const o = await inst.invoke(request(fn, { n: 1 }));
      expect(o.status).toBe('ok');
      const r = json(o.payload) as { env: Record<string, string | undefined>; uid: number; context: Record<string, string> };
      expect(r.env['GREETING']).toBe('hello');
      expect(r.env['TZ']).toBe(':UTC');
      expect(r.uid).toBe(inst.uid);
      expect(r.uid).toBeGreaterThanOrEqual(caps.uidRange.first);
      expect(Object.values(r.context).join(' ')).toContain(fn.name);
      expect(o.logs).toContain(`hello from ${fn.name}`);
    });
  }

  it('a cell that cannot be taken is killed by the instance that tried (it is out of the pool\'s set: nothing else would), which launches its own', async () => {
    let killed = 0;
    const unready = {
      runtime: 'nodejs',
      take: (): never => {
        throw new Error('FARE_E_STEM_STATE: stem cell x is starting, not ready to be taken');
      },
      kill: (): Promise<void> => {
        killed++;
        return Promise.resolve();
      },
    } as unknown as StemCell;
    const inst = new Instance({ fn: echo, stem: unready });
    cleanup.push(() => inst.kill());
    await inst.start();
    expect(killed).toBe(1);
    expect((await inst.invoke(request(echo, { n: 1 }))).status).toBe('ok');
  });

  it('killed before it is taken, leaves nothing: its directory and groups are removed', async () => {
    const c = cell('python');
    await c.ready;
    const dir = `${caps.instancesDir}/${c.id}`;
    expect(existsSync(dir)).toBe(true);
    await c.kill();
    expect(c.state).toBe('dead');
    expect(existsSync(dir)).toBe(false);
    expect(() => c.take('x')).toThrow(/FARE_E_STEM_STATE/);
  });

  it('an instance given a cell that died meanwhile launches its runtime instead', async () => {
    const c = cell('nodejs');
    await c.ready;
    await c.kill();
    const inst = new Instance({ fn: echo, stem: c });
    cleanup.push(() => inst.kill());
    await inst.start();
    const o = await inst.invoke(request(echo, {}));
    expect(o.status).toBe('ok');
    expect((json(o.payload) as { env: Record<string, string> }).env['GREETING']).toBe('hello');
  });

  // A regression shows as the test's timeout (20 s) against an init limit of a minute.
  it('an instance born of it whose runtime is killed during the init fails start() at once, naming the signal', { timeout: 20_000 }, async () => {
    const c = cell('nodejs');
    await c.ready;
    const watch = outputWatch('slow init started');
    const inst = new Instance({ fn: fixture('node-slow-init', 'nodejs', 'index.handler'), stem: c, initTimeoutMs: 60_000, onLog: watch.feed });
    cleanup.push(() => inst.kill());
    const starting = inst.start().catch((x: unknown) => x);
    await watch.seen;
    expect(c.state).toBe('taken');
    expect(killRuntime(inst.processes(), caps.sandbox.helper)).toBeGreaterThan(1);
    const e = (await starting) as InitError;
    expect(e).toBeInstanceOf(InitError);
    expect(e.error.errorType).toBe('Runtime.ExitError');
    expect(e.error.errorMessage).toMatch(/^Runtime exited with error: signal: SIGKILL during init/);
    expect(e.error.errorMessage).toContain('slow init started');
  });

  it('killed while it boots, its ready rejects at once, naming the signal', { timeout: 20_000 }, async () => {
    const c = cell('nodejs');
    cleanup.push(() => c.kill());
    // Its process exists once the launch is answered; the runtime inside boots for ≈ 100 ms more.
    let helper: number | null = null;
    await waitFor(() => (helper = c.pid) !== null, 10_000, 'the stem cell launched');
    if (helper !== null && helper > 1) process.kill(helper, 'SIGKILL');
    await expect(c.ready).rejects.toThrow(/exited before it was taken.*signal: SIGKILL|signal: SIGKILL.*exited before it was taken/);
    expect(c.state).toBe('dead');
  });

  it('the pool takes one for a cold start (never for a warm one), and counts it', async () => {
    const stems = new StemCells<StemCell>({ runtimes: ['nodejs'], start: (r) => cell(r), later: () => undefined });
    const pool = new InstancePool({ maxInstances: 4, idleTimeoutMs: 60_000, stems });
    cleanup.push(() => pool.close());
    stems.adjust();
    const [first] = stems.stats();
    expect(first).toMatchObject({ starting: 1 });
    while (stems.stats()[0]?.ready !== 1) await new Promise((r) => setTimeout(r, 10));
    const a = await pool.invoke(request(echo, {}));
    expect(a).toMatchObject({ status: 'ok', coldStart: true });
    const b = await pool.invoke(request(echo, {}));
    expect(b).toMatchObject({ status: 'ok', coldStart: false });
    expect(pool.stats()).toMatchObject({ coldStarts: 1, stemStarts: 1, warmStarts: 1 });
    expect(stems.stats()[0]).toMatchObject({ taken: 1, ready: 0 });
  });
});

describe('which functions a stem cell can serve', () => {
  it('Node.js and Python whose environment sets nothing their interpreter reads at start', () => {
    expect(stemRuntimeOf(echo)).toBe('nodejs');
    expect(stemRuntimeOf(py)).toBe('python');
    expect(stemRuntimeOf({ ...echo, runtime: 'provided' })).toBeNull();
    for (const k of ['NODE_OPTIONS', 'PYTHONPATH', 'LD_PRELOAD', 'LC_ALL', 'UV_THREADPOOL_SIZE']) expect(stemRuntimeOf({ ...echo, env: { [k]: 'x' } })).toBeNull();
  });
});

describe("a stem cell's Runtime API", () => {
  const get = async (api: RuntimeApi, path: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`http://${api.address}/2018-06-01/runtime/${path}`);
    return { status: res.status, body: await res.json() };
  };

  it('holds fare/stem until go(), answers it with the orders once, and then reports to the new owner', async () => {
    let waiting = 0;
    const reports: string[] = [];
    const api = await RuntimeApi.listen({ functionName: '', stem: true, onReport: () => reports.push('stem'), onStemWaiting: () => waiting++ });
    cleanup.push(() => api.close());
    const asked = get(api, 'fare/stem');
    while (waiting === 0) await new Promise((r) => setTimeout(r, 5));
    expect(api.stemReady).toBe(true);
    api.go({ functionName: 'f', tenant: '123456789012' }, (r) => reports.push(r.kind), { env: { A: '1' } });
    expect(await asked).toEqual({ status: 200, body: { env: { A: '1' } } });
    expect((await get(api, 'fare/stem')).status).toBe(403);
    const next = fetch(`http://${api.address}/2018-06-01/runtime/invocation/next`);
    while (reports.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(reports).toEqual(['next']);
    api.deliver({ requestId: 'r1', payload: Buffer.from('{}'), deadlineMs: Date.now() + 1000 });
    expect((await next).headers.get('lambda-runtime-invoked-function-arn')).toBe('arn:aws:lambda:us-east-1:123456789012:function:f');
  });

  it('answers a wait that has no orders yet with {"wait": true}, and the orders on a later ask', async () => {
    const api = await RuntimeApi.listen({ functionName: '', stem: true, onReport: () => undefined });
    cleanup.push(() => api.close());
    expect(await get(api, 'fare/stem')).toEqual({ status: 200, body: { wait: true } });
    api.go({ functionName: 'f' }, () => undefined, { env: { B: '2' } });
    expect(await get(api, 'fare/stem')).toEqual({ status: 200, body: { env: { B: '2' } } });
  });

  it('is not there on an instance that was not started as a stem cell', async () => {
    const api = await RuntimeApi.listen({ functionName: 'f', onReport: () => undefined });
    cleanup.push(() => api.close());
    expect((await get(api, 'fare/stem')).status).toBe(404);
  });
});
