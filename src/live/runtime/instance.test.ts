import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FunctionSpec, InvokeOutcome } from '../types.ts';
import { capabilities } from './capabilities.ts';
import { InitError } from './errors.ts';
import { Instance, type InstanceOptions } from './instance.ts';
import { schedPolicy } from './proc.ts';
import { fixture, json, killRuntime, outputWatch, request } from './testing.ts';

const caps = capabilities();
const live: Instance[] = [];

function make(fn: FunctionSpec, over: Partial<InstanceOptions> = {}): Instance {
  const i = new Instance({ fn, ...over });
  live.push(i);
  return i;
}

async function started(fn: FunctionSpec, over: Partial<InstanceOptions> = {}): Promise<Instance> {
  const i = make(fn, over);
  await i.start();
  return i;
}

afterEach(async () => {
  await Promise.all(live.splice(0).map((i) => i.kill()));
});

/** The runtime's host pid among the instance's processes (in the sandbox the helper and its init come first), or -1. */
const doc = (o: InvokeOutcome): Record<string, unknown> => json(o.payload) as Record<string, unknown>;
const sandboxed = caps.sandbox.helper !== null;
/** The uid a function runs as: its instance's own in the sandbox, else nobody as root, else ours. */
const expectedUid = (inst: Instance): number | undefined =>
  sandboxed ? (inst.uid ?? -1) : caps.root ? (caps.runAs?.uid ?? 65534) : process.getuid?.();

describe('handlers return results and see the event and context', () => {
  it('nodejs (ESM, async)', async () => {
    const fn = fixture('node-echo', 'nodejs', 'index.handler');
    const inst = await started(fn);
    const clientContext = Buffer.from(JSON.stringify({ custom: { k: 'v' } })).toString('base64');
    const req = request(fn, { n: 1 }, { fareContext: 'fare.tok', clientContext });
    const o = await inst.invoke(req);
    expect(o.status).toBe('ok');
    const r = json(o.payload) as { event: unknown; context: Record<string, unknown>; env: Record<string, string>; uid: number; cwd: string };
    expect(r.event).toEqual({ n: 1 });
    expect(r.context).toMatchObject({
      awsRequestId: req.requestId,
      functionName: 'node-echo',
      // Never published: Lambda's $LATEST (not Fare's deploy number, 1).
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:test:function:node-echo',
      memoryLimitInMB: '128',
      logGroupName: '/aws/lambda/node-echo',
      fareContext: 'fare.tok',
      clientContext: { custom: { k: 'v' } },
    });
    expect(r.context['logStreamName']).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\]node-echo-v1-/);
    expect(r.context['remainingMs']).toBeGreaterThan(3000);
    expect(r.context['remainingMs']).toBeLessThanOrEqual(5000);
    expect(r.env).toMatchObject({ GREETING: 'hello', TZ: ':UTC', AWS_REGION: 'us-east-1' });
    expect(r.uid).toBe(expectedUid(inst));
    expect(r.cwd).toBe(join(inst.workDir ?? '', 'task'));
    expect(r.env['HOME']).toBe(sandboxed ? '/tmp' : join(inst.workDir ?? '', 'tmp'));
    if (sandboxed) {
      expect(r.uid).toBeGreaterThanOrEqual(caps.uidRange.first);
      expect(r.uid).toBeLessThan(caps.uidRange.first + caps.uidRange.count);
    }
    expect(o.logs).toContain('hello from node-echo');
    expect(o.coldStart).toBe(false);
    expect(o.durationMs).toBeGreaterThan(0);
    expect(o.cpuMs).toBeGreaterThan(0);
    expect(o.maxMemMB).toBeGreaterThan(0);
    expect(o.memGBs).toBeGreaterThan(0);
  });

  it('python', async () => {
    const fn = fixture('py-echo', 'python', 'app.handler');
    const inst = await started(fn);
    const req = request(fn, { n: 2 }, { fareContext: 'fare.py' });
    const o = await inst.invoke(req);
    expect(o.status).toBe('ok');
    const r = json(o.payload) as { event: unknown; context: Record<string, unknown>; env: Record<string, string>; uid: number };
    expect(r.event).toEqual({ n: 2 });
    expect(r.context).toMatchObject({
      aws_request_id: req.requestId,
      function_name: 'py-echo',
      invoked_function_arn: 'arn:aws:lambda:us-east-1:test:function:py-echo',
      memory_limit_in_mb: '128',
      fare_context: 'fare.py',
    });
    expect(r.context['remaining_ms']).toBeGreaterThan(3000);
    expect(r.env).toEqual({ GREETING: 'hello', TZ: ':UTC' });
    expect(r.uid).toBe(expectedUid(inst));
    expect(o.logs).toContain('hello from py-echo');
  });

  it("python's logging writes Lambda's log lines, module-level loggers included, with the request id", async () => {
    const inst = await started(fixture('py-logging', 'python', 'app.handler'));
    const req = request(inst.fn, { n: 7 });
    const o = await inst.invoke(req);
    expect(json(o.payload)).toEqual({ ok: true });
    const line = (level: string, msg: string): RegExp => new RegExp(`^\\[${level}\\]\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t${req.requestId}\\t${msg}$`, 'm');
    expect(o.logs).toMatch(line('INFO', 'handling 7'));
    expect(o.logs).toMatch(line('WARNING', 'root warning'));
    expect(o.logs).toMatch(line('ERROR', 'with traceback'));
    expect(o.logs).toContain('ValueError: caught');
    expect(o.logs).not.toContain('root info is below');
  });

  it('nodejs CommonJS: a callback-style .js handler and a nested export of a .cjs module', async () => {
    const cb = await started(fixture('node-cjs', 'nodejs', 'index.handler'));
    const a = await cb.invoke(request(cb.fn, { n: 21 }));
    expect(json(a.payload)).toMatchObject({ style: 'callback', n: 42 });
    const plain = await started(fixture('node-cjs', 'nodejs', 'plain.api.handler'));
    const b = await plain.invoke(request(plain.fn, { n: 1 }));
    expect(json(b.payload)).toEqual({ style: 'sync', n: 2 });
  });

  it('round-trips a ~1 MB payload (nodejs and python)', async () => {
    const data = 'x'.repeat(1 << 20);
    for (const fn of [fixture('node-echo', 'nodejs', 'index.handler'), fixture('py-echo', 'python', 'app.handler')]) {
      const inst = await started(fn);
      const o = await inst.invoke(request(fn, { data }));
      expect(o.status).toBe('ok');
      expect((json(o.payload) as { event: { data: string } }).event.data).toBe(data);
    }
  });
});

describe('errors', () => {
  it('a handler error is its error document, Unhandled as Lambda says', async () => {
    const inst = await started(fixture('node-error', 'nodejs', 'index.handler'));
    const o = await inst.invoke(request(inst.fn, {}));
    expect(o).toMatchObject({ status: 'error', functionError: 'Unhandled', errorType: 'ValidationError' });
    expect(doc(o)).toMatchObject({ errorType: 'ValidationError', errorMessage: 'amount must be positive' });
    expect((doc(o)['stackTrace'] as string[])[0]).toBe('ValidationError: amount must be positive');
    expect(inst.state).toBe('idle'); // the instance stays warm
  });

  it('a python exception is its error document, Unhandled as Lambda says', async () => {
    const inst = await started(fixture('py-error', 'python', 'app.handler'));
    const o = await inst.invoke(request(inst.fn, { order: 7 }));
    expect(o).toMatchObject({ status: 'error', functionError: 'Unhandled', errorType: 'ValueError' });
    expect(doc(o)).toMatchObject({ errorMessage: 'no such order: 7' });
    expect(Array.isArray(doc(o)['stackTrace'])).toBe(true);
  });

  it('a throw while the module loads is an init error (nodejs)', async () => {
    const inst = make(fixture('node-init-throw', 'nodejs', 'index.handler'));
    const e = await inst.start().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InitError);
    expect((e as InitError).error).toMatchObject({ errorType: 'Error', errorMessage: 'boom at init' });
    expect((e as InitError).logs).toContain('boom at init');
    expect(inst.state).toBe('dead');
  });

  it('a missing module is Runtime.ImportModuleError (python), a missing export Runtime.HandlerNotFound (nodejs)', async () => {
    const py = make(fixture('py-init-error', 'python', 'app.handler'));
    const e1 = (await py.start().catch((x: unknown) => x)) as InitError;
    expect(e1.error.errorType).toBe('Runtime.ImportModuleError');
    expect(e1.error.errorMessage).toContain("No module named 'not_installed_anywhere'");
    const node = make(fixture('node-echo', 'nodejs', 'index.nothere'));
    const e2 = (await node.start().catch((x: unknown) => x)) as InitError;
    expect(e2.error).toMatchObject({ errorType: 'Runtime.HandlerNotFound', errorMessage: 'index.nothere is undefined or not exported' });
  });

  it('process.exit(3) mid-invocation is an Unhandled Runtime.ExitError and the instance is dead', async () => {
    const inst = await started(fixture('node-exit', 'nodejs', 'index.handler'));
    const req = request(inst.fn, {});
    const o = await inst.invoke(req);
    expect(o).toMatchObject({ status: 'error', functionError: 'Unhandled', errorType: 'Runtime.ExitError' });
    expect(doc(o)['errorMessage']).toBe(`RequestId: ${req.requestId} Error: Runtime exited with error: exit status 3`);
    expect(o.logs).toContain('about to exit');
    expect(inst.state).toBe('dead');
  });

  it('an infinite loop times out like Lambda and the instance is killed', async () => {
    const inst = await started(fixture('node-loop', 'nodejs', 'index.handler', { timeoutMs: 300 }));
    const pid = inst.pid ?? -1;
    const req = request(inst.fn, {});
    const o = await inst.invoke(req);
    expect(o).toMatchObject({ status: 'error', functionError: 'Unhandled', errorType: 'Sandbox.Timedout' });
    expect(doc(o)['errorMessage']).toBe(`RequestId: ${req.requestId} Error: Task timed out after 0.30 seconds`);
    expect(o.durationMs).toBeGreaterThanOrEqual(299);
    expect(o.cpuMs).toBeGreaterThan(150);
    await inst.kill();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(inst.state).toBe('dead');
  });

  it('invoke() on a busy instance is refused', async () => {
    const inst = await started(fixture('node-busy', 'nodejs', 'index.handler'));
    const first = inst.invoke(request(inst.fn, { cpuMs: 50 }));
    await expect(inst.invoke(request(inst.fn, { cpuMs: 1 }))).rejects.toThrow(/FARE_E_INSTANCE_STATE/);
    expect((await first).status).toBe('ok');
  });
});

describe('provided runtimes run unchanged', () => {
  it.skipIf(caps.curl === null)('a shell + curl bootstrap (AWS tutorial style)', async () => {
    const inst = await started(fixture('provided-curl', 'provided', ''));
    const o = await inst.invoke(request(inst.fn, { q: 1 }));
    expect(o.status).toBe('ok');
    expect(json(o.payload)).toEqual({ runtime: 'sh+curl', echo: { q: 1 } });
    expect(o.logs).toContain('got ');
  });

  it('an executable python bootstrap with a shebang', async () => {
    const inst = await started(fixture('provided-py', 'provided', 'my.handler'));
    for (const q of [1, 2]) {
      const o = await inst.invoke(request(inst.fn, { q }));
      expect(json(o.payload)).toEqual({ runtime: 'python-bootstrap', echo: { q }, handler: 'my.handler' });
    }
  });

  it('a code directory without bootstrap is Runtime.InvalidEntrypoint', async () => {
    const inst = make(fixture('node-echo', 'provided', ''));
    const e = (await inst.start().catch((x: unknown) => x)) as InitError;
    expect(e.error.errorType).toBe('Runtime.InvalidEntrypoint');
  });
});

describe('measurement, preemption and priorities', () => {
  it('CPU time of a busy ~200 ms handler is ≈200 ms', async () => {
    const inst = await started(fixture('node-busy', 'nodejs', 'index.handler'));
    const o = await inst.invoke(request(inst.fn, { cpuMs: 200 }));
    expect(o.status).toBe('ok');
    expect(o.cpuMs).toBeGreaterThanOrEqual(195);
    expect(o.cpuMs).toBeLessThan(260);
    // Wall time can be a little under the CPU time: the process's own count includes V8's helper threads.
    expect(o.durationMs).toBeGreaterThanOrEqual(185);
    // Memory integrated over the run: at least a few MB held for 0.2 s.
    expect(o.memGBs).toBeGreaterThan((1 / 1024) * 0.19);
    expect(o.memGBs).toBeLessThan((o.maxMemMB / 1024) * (o.durationMs / 1000) * 1.01);
  });

  it('freeze stops a busy function using CPU, thaw resumes it, and frozen time does not count toward the timeout', async () => {
    const watch = outputWatch('busy: started');
    // 300 ms of CPU under a 1 s timeout, frozen for 800 ms: it only finishes if the frozen time is not counted.
    const inst = await started(fixture('node-busy', 'nodejs', 'index.handler', { timeoutMs: 1000 }), { onLog: watch.feed });
    const run = inst.invoke(request(inst.fn, { cpuMs: 300 }));
    await watch.seen;
    await inst.freeze();
    expect(inst.isFrozen).toBe(true);
    const c1 = inst.cpuTimeMs();
    await delay(800); // the measured window
    const c2 = inst.cpuTimeMs();
    await inst.thaw();
    const o = await run;
    expect(c2 - c1).toBeLessThan(5);
    expect(o.status).toBe('ok');
    expect(o.cpuMs).toBeGreaterThanOrEqual(295);
    expect(o.durationMs).toBeGreaterThan(1000);
  });

  it('setPriority moves the process tree to SCHED_IDLE, SCHED_FIFO and back', async () => {
    const inst = await started(fixture('node-echo', 'nodejs', 'index.handler'));
    const pid = inst.pid ?? -1;
    if (caps.sched.idle) {
      expect((await inst.setPriority('idle')).ok).toBe(true);
      expect(schedPolicy(pid)).toBe(5);
    }
    if (caps.sched.fifo) {
      expect((await inst.setPriority('fifo', 10)).ok).toBe(true);
      expect(schedPolicy(pid)).toBe(1);
    }
    expect((await inst.setPriority('normal')).ok).toBe(true);
    expect(schedPolicy(pid)).toBe(0);
    await inst.kill();
    expect(await inst.setPriority('idle')).toEqual({ ok: false, detail: 'the instance has no running process' });
  });

  it('kill removes the process, its cgroups and its directory', async () => {
    const inst = await started(fixture('node-echo', 'nodejs', 'index.handler'));
    const dir = inst.workDir ?? '';
    const groups = inst.cgroupDirs;
    if (Object.keys(caps.cgroups.v1).length > 0 || caps.cgroups.v2 !== null) expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) expect(g.endsWith(`/${inst.id}`)).toBe(true);
    expect(existsSync(dir)).toBe(true);
    for (const g of groups) expect(existsSync(g)).toBe(true);
    await inst.kill();
    expect(existsSync(dir)).toBe(false);
    for (const g of groups) expect(existsSync(g)).toBe(false);
    await expect(inst.invoke(request(inst.fn, {}))).rejects.toThrow(/FARE_E_INSTANCE_STATE/);
  });
});

describe('fallbacks when no cgroup is writable', () => {
  const bare = { ...caps, cgroups: { v1: {}, v2: null }, mechanisms: { freezer: 'signals', cpu: 'proc', memory: 'proc', pids: 'none', kill: 'signals' } } as const;

  it('accounts CPU from /proc, memory from VmRSS, and preempts with SIGSTOP/SIGCONT', async () => {
    const watch = outputWatch('busy: started');
    const inst = await started(fixture('node-busy', 'nodejs', 'index.handler'), { caps: bare, onLog: watch.feed });
    const run = inst.invoke(request(inst.fn, { cpuMs: 200 }));
    await watch.seen;
    await inst.freeze();
    const c1 = inst.cpuTimeMs();
    await delay(300); // the measured window
    const c2 = inst.cpuTimeMs();
    await inst.thaw();
    const o = await run;
    expect(c2 - c1).toBeLessThanOrEqual(10); // one clock tick
    expect(o.status).toBe('ok');
    expect(o.cpuMs).toBeGreaterThanOrEqual(190);
    expect(o.cpuMs).toBeLessThan(280);
    expect(o.maxMemMB).toBeGreaterThan(10); // VmRSS counts the whole node process
  });

  it('an instance left frozen by a preemption that raced its answer is thawed for its next invocation (freezer and SIGSTOP)', async () => {
    // The machine scheduler preempts a job just as its function answers: the freeze lands after the
    // answer, the job has left (nobody resumes it), and the instance goes back to the pool frozen.
    for (const c of [caps, bare]) {
      const inst = await started(fixture('node-echo', 'nodejs', 'index.handler'), { caps: c });
      expect((await inst.invoke(request(inst.fn, { n: 1 }))).status).toBe('ok');
      await inst.freeze();
      const o = await Promise.race([inst.invoke(request(inst.fn, { n: 2 })), delay(5000).then(() => 'hung' as const)]);
      expect(o === 'hung' ? o : o.status).toBe('ok');
      await inst.kill();
    }
  });

  it("runs as this process's user when asked", async () => {
    const inst = await started(fixture('node-echo', 'nodejs', 'index.handler'), { runAs: 'self' });
    const o = await inst.invoke(request(inst.fn, {}));
    expect((json(o.payload) as { uid: number }).uid).toBe(process.getuid?.());
  });
});

describe('kill', () => {
  it('kills a frozen instance (cgroup freezer and SIGSTOP)', async () => {
    const bare = { ...caps, cgroups: { v1: {}, v2: null }, mechanisms: { freezer: 'signals', cpu: 'proc', memory: 'proc', pids: 'none', kill: 'signals' } } as const;
    for (const c of [caps, bare]) {
      const watch = outputWatch('busy: started');
      const inst = await started(fixture('node-busy', 'nodejs', 'index.handler'), { caps: c, onLog: watch.feed });
      const run = inst.invoke(request(inst.fn, { cpuMs: 10_000 }));
      await watch.seen;
      await inst.freeze();
      await inst.kill();
      const o = await run;
      expect(o).toMatchObject({ status: 'error', functionError: 'Unhandled', errorType: 'Runtime.ExitError' });
      expect(doc(o)['errorMessage']).toMatch(/signal: SIGKILL$/);
    }
  });
});

describe('start-up', () => {
  it('an init that never calls /next times out, and the process is killed', async () => {
    const inst = make(fixture('provided-hang', 'provided', ''), { initTimeoutMs: 200 });
    const e = (await inst.start().catch((x: unknown) => x)) as InitError;
    expect(e.error).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: 'Init timed out after 0.20 seconds' });
    expect(await inst.exited()).toMatchObject({ signal: 'SIGKILL' });
  });

  // The init limit is a minute here and the test's own limit 20 s: an instance that waited for its
  // init limit instead of hearing the exit fails by the test's timeout. Both spawn paths: through the
  // launcher process, and directly (FARE_LAUNCHER=off, read when launcher.ts loads: a fresh copy of
  // the modules is imported with it set).
  for (const how of ['launcher', 'direct'] as const) {
    it(`a runtime killed with SIGKILL during its init fails start() at once, naming the signal and its last output (${how} spawn)`, { timeout: 20_000 }, async () => {
      let Made = Instance;
      if (how === 'direct') {
        vi.stubEnv('FARE_LAUNCHER', 'off');
        vi.resetModules();
        Made = (await import('./instance.ts')).Instance;
        expect((await import('./launcher.ts')).startLauncher()).toMatch(/FARE_LAUNCHER=off/);
      }
      try {
        const watch = outputWatch('slow init started');
        const inst = new Made({ fn: fixture('node-slow-init', 'nodejs', 'index.handler'), caps, initTimeoutMs: 60_000, onLog: watch.feed });
        live.push(inst);
        const starting = inst.start().catch((x: unknown) => x);
        await watch.seen;
        expect(killRuntime(inst.processes(), caps.sandbox.helper)).toBeGreaterThan(1);
        const e = (await starting) as InitError;
        expect(e).toBeInstanceOf(Error);
        expect(e.error.errorType).toBe('Runtime.ExitError');
        expect(e.error.errorMessage).toMatch(/^Runtime exited with error: signal: SIGKILL during init/);
        expect(e.error.errorMessage).toContain('slow init started');
        expect(inst.state).toBe('dead');
      } finally {
        vi.unstubAllEnvs();
      }
    });
  }

  it('a runtime that exits at once during its init fails start() with its exit status and what it wrote to stderr', async () => {
    const inst = make(fixture('provided-exit-early', 'provided', ''), { initTimeoutMs: 60_000 });
    const e = (await inst.start().catch((x: unknown) => x)) as InitError;
    expect(e.error).toEqual({ errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited with error: exit status 3 during init; last lines of its stderr: cannot find my config' });
    expect(e.logs).toContain('cannot find my config');
  });

  it('a runtime without an interpreter is Runtime.Unavailable', async () => {
    const inst = make(fixture('py-echo', 'python', 'app.handler'), { caps: { ...caps, python3: null } });
    const e = (await inst.start().catch((x: unknown) => x)) as InitError;
    expect(e.error.errorType).toBe('Runtime.Unavailable');
  });

  it.skipIf(!caps.root)('the function can write its scratch directory but not its code', async () => {
    const inst = await started(fixture('node-fs', 'nodejs', 'index.handler'));
    const o = await inst.invoke(request(inst.fn, {}));
    // Not writable: by its mode (EACCES), and in the sandbox also by a read-only mount (EROFS).
    expect(json(o.payload)).toEqual({ tmp: 'ok', task: caps.sandbox.helper !== null ? 'EROFS' : 'EACCES' });
  });
});
