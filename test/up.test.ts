// End-to-end: `fare up` as a real process — the AWS Lambda Invoke API with SigV4, function errors and
// their logs (`fare logs`), class inheritance along a call chain, async invocations and billing
// across a kill -9.

import { afterAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN, ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';
import { signLambda } from './support/sigv4.ts';

const dirs: string[] = [];
const procs: FareProcess[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fare-up-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const p of procs) await stopFare(p);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function up(dataDir: string, args: readonly string[] = []): Promise<FareProcess> {
  const p = await startFare(dataDir, args);
  procs.push(p);
  return p;
}

async function invokeSigned(url: string, fn: string, payload: unknown, opts: { secret?: string; type?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const body = Buffer.from(JSON.stringify(payload));
  const target = `${url}/2015-03-31/functions/${fn}/invocations`;
  const extra = { ...(opts.type ? { 'X-Amz-Invocation-Type': opts.type } : {}), ...(opts.headers ?? {}) };
  const headers = signLambda({ method: 'POST', url: target, body, accessKeyId: ADMIN.id, secret: opts.secret ?? ADMIN.secret, extraHeaders: extra });
  return fetch(target, { method: 'POST', headers, body });
}

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');

/** Runs the `fare` command against a running Fare, as a user would. */
async function fareCli(url: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, FARE_ENDPOINT: url, FARE_KEY: ADMIN_KEY } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function settled(url: string, id: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = ((await api(url, 'GET', `/v1/invocations/${id}`)).json as { status: string }).status;
    if (status === 'succeeded' || status === 'failed') return status;
    if (Date.now() > deadline) throw new Error(`async invocation ${id} still ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Deploys a function from source files given inline. */
async function deploy(url: string, name: string, files: Record<string, string>, cfg: { runtime: string; handler: string; class: string; env?: Record<string, string>; timeoutMs?: number }): Promise<void> {
  const dir = join(tmp(), name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const r = await api(url, 'PUT', `/v1/functions/${name}`, { ...cfg, zipBase64: zipDirectory(dir).toString('base64') });
  expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
}

// Each test also with the worker on a thread of its own (`--worker-thread`, src/live/worker/on-thread.ts).
describe.each([['the worker on the main thread', [] as string[]], ['the worker on a thread of its own: --worker-thread', ['--worker-thread']]])('fare up, %s', (_, extra) => {
  it('answers /healthz and runs the examples through the Lambda Invoke API signed with SigV4', async () => {
    const f = await up(tmp(), extra);
    expect((await fetch(`${f.url}/healthz`)).status).toBe(200);
    const ok = await invokeSigned(f.url, 'page-view', { user: 'ada' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/Welcome, ada/);
    const py = await invokeSigned(f.url, 'profile-view', { user: 'bo' });
    expect(await py.text()).toMatch(/"user": \\"bo\\"|bo/);
    const bad = await invokeSigned(f.url, 'page-view', {}, { secret: 'not-the-secret-at-all' });
    expect(bad.status).toBe(403);
    expect(bad.headers.get('x-amzn-errortype')).toMatch(/InvalidSignature|UnrecognizedClient/);
    const missing = await invokeSigned(f.url, 'no-such-function', {});
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-amzn-errortype')).toMatch(/ResourceNotFoundException/);
  });

  it('reports handler errors and crashes with X-Amz-Function-Error, carries on, and keeps every execution\'s log for fare logs', async () => {
    const f = await up(tmp(), extra);
    await deploy(f.url, 'flaky', { 'index.mjs': 'export const handler = async (e) => { console.log(`handling ${e.tag ?? "untagged"}`); if (e.crash) process.exit(3); if (e.fail) throw new RangeError("bad input"); return { ok: true }; };\n' }, { runtime: 'nodejs', handler: 'index.handler', class: 'standard' });
    const handled = await invokeSigned(f.url, 'flaky', { fail: true, tag: 'sync-fail' });
    expect(handled.status).toBe(200);
    expect(handled.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(JSON.parse(await handled.text())).toMatchObject({ errorType: 'RangeError', errorMessage: 'bad input' });
    const crashed = await invokeSigned(f.url, 'flaky', { crash: true, tag: 'sync-crash' });
    expect(crashed.headers.get('x-amz-function-error')).toBe('Unhandled');
    const fine = await invokeSigned(f.url, 'flaky', { tag: 'sync-ok' });
    expect(await fine.json()).toEqual({ ok: true });
    const queued = await invokeSigned(f.url, 'flaky', { tag: 'async-ok' }, { type: 'Event' });
    expect(queued.status).toBe(202);
    const asyncId = queued.headers.get('x-amzn-requestid') as string;
    expect(await settled(f.url, asyncId)).toBe('succeeded');

    // What the handler printed, sync and async, successes, errors and the crash, oldest first.
    const all = await fareCli(f.url, 'logs', 'flaky');
    expect(all.code, all.stderr).toBe(0);
    const order = ['sync-fail', 'sync-crash', 'sync-ok', 'async-ok'].map((tag) => all.stdout.indexOf(`handling ${tag}\n`));
    expect(order.every((i) => i >= 0), all.stdout).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(all.stdout).toMatch(/^\S+Z START RequestId: \S+ Version: \$LATEST\n/);
    expect(all.stdout).toContain(`END RequestId: ${asyncId}\nREPORT RequestId: ${asyncId}\tDuration: `);
    // Only the failures (the handler's error and the crash), and only what holds a text (either case).
    const failures = await fareCli(f.url, 'logs', 'flaky', '--errors');
    expect(failures.stdout).toContain('handling sync-fail\n');
    expect(failures.stdout).toContain('handling sync-crash\n');
    expect(failures.stdout).not.toContain('handling sync-ok');
    const grepped = await fareCli(f.url, 'logs', 'flaky', '--grep', 'HANDLING ASYNC');
    expect(grepped.stdout).toContain('handling async-ok\n');
    expect(grepped.stdout).not.toContain('handling sync-');
    const latest = await fareCli(f.url, 'logs', 'flaky', '--limit', '1', '--json');
    expect(latest.stdout.trim().split('\n').map((l) => JSON.parse(l) as { requestId: string; type: string })).toEqual([expect.objectContaining({ requestId: asyncId, type: 'async' })]);
    // An async invocation's id: its result, then its log.
    const one = await fareCli(f.url, 'logs', asyncId);
    expect(one.stdout).toContain('"status": "succeeded"');
    expect(one.stdout).toMatch(/--- logs ---\n\S+ START RequestId: \S+ Version: \$LATEST\nhandling async-ok\n/);

    // --follow prints what comes later, until Ctrl-C. Once the first new line is out, the follower has
    // read the log at least once, so the second can only reach it by following.
    const follow = spawn(process.execPath, [BIN, 'logs', 'flaky', '--follow', '--since', new Date().toISOString()], { env: { ...process.env, FARE_ENDPOINT: f.url, FARE_KEY: ADMIN_KEY } });
    let followed = '';
    follow.stdout.on('data', (c: Buffer) => (followed += c.toString()));
    const exited = new Promise<number | null>((done) => follow.once('exit', (code) => done(code)));
    const printed = async (line: string): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!followed.includes(line) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    };
    await invokeSigned(f.url, 'flaky', { tag: 'follow-1' });
    await printed('handling follow-1\n');
    await invokeSigned(f.url, 'flaky', { tag: 'follow-2' });
    await printed('handling follow-2\n');
    follow.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(followed).toMatch(/handling follow-1\n[^]*handling follow-2\n/);
    expect(followed).not.toContain('handling sync-ok');
  });

  it('runs a callee at its caller\'s class when invoked with the caller\'s context, and refuses a forged one', async () => {
    const f = await up(tmp(), extra);
    const env = { API_URL: f.url, API_KEY: `${ADMIN.id}:${ADMIN.secret}` };
    await deploy(f.url, 'callee', { 'index.mjs': 'export const handler = async () => ({ done: true });\n' }, { runtime: 'nodejs', handler: 'index.handler', class: 'low' });
    await deploy(f.url, 'caller', {
      'index.mjs': `export const handler = async (event, context) => {
  const r = await fetch(process.env.API_URL + '/2015-03-31/functions/callee/invocations', {
    method: 'POST', body: '{}',
    headers: { Authorization: 'Bearer ' + process.env.API_KEY, 'X-Fare-Context': context.fareContext },
  });
  return { status: r.status, body: await r.json() };
};
`,
    }, { runtime: 'nodejs', handler: 'index.handler', class: 'high', env });
    const r = await invokeSigned(f.url, 'caller', {});
    expect(await r.json()).toEqual({ status: 200, body: { done: true } });
    // The billing record follows the answer, once the invocation's measurement has ended.
    const calleeClasses = async (): Promise<unknown> => {
      const bill = (await api(f.url, 'GET', '/v1/bill')).json as { functions: { function: string; classes: { cls: string; invocations: number }[] }[] };
      return bill.functions.find((x) => x.function === 'callee')?.classes;
    };
    await expect.poll(calleeClasses, { timeout: 5000 }).toEqual([expect.objectContaining({ cls: 'high', invocations: 1 })]);
    const forged = await invokeSigned(f.url, 'callee', {}, { headers: { 'X-Fare-Context': 'v1.eyJyIjoieCIsImMiOjAsIngiOjk5OTk5OTk5OTk5OTl9.AAAA' } });
    expect(forged.status).toBe(400);
  });

  it('runs a chain of synchronous calls deeper than its cores: a waiting caller gives up its core', async () => {
    const f = await up(tmp(), ['--cores', '1', ...extra]);
    const env = { API_URL: f.url, API_KEY: `${ADMIN.id}:${ADMIN.secret}` };
    // hop(n) calls hop(n-1) through Fare and waits for it; hop0 answers. On one core, hop2 → hop1 → hop0
    // can only finish if each waiting caller lets the core go.
    await deploy(f.url, 'hop0', { 'index.mjs': 'export const handler = async () => ({ depth: 0 });\n' }, { runtime: 'nodejs', handler: 'index.handler', class: 'low' });
    for (const n of [1, 2]) {
      await deploy(f.url, `hop${n}`, {
        'index.mjs': `export const handler = async (event, context) => {
  const r = await fetch(process.env.API_URL + '/2015-03-31/functions/hop${n - 1}/invocations', {
    method: 'POST', body: '{}', headers: { Authorization: 'Bearer ' + process.env.API_KEY, 'X-Fare-Context': context.fareContext },
  });
  const inner = await r.json();
  return { depth: inner.depth + 1 };
};
`,
      }, { runtime: 'nodejs', handler: 'index.handler', class: n === 2 ? 'high' : 'middle', env, timeoutMs: 20_000 });
    }
    // Deadlocked, hop2 would end only at its timeout, with a function error instead of depth 2.
    const r = await invokeSigned(f.url, 'hop2', {});
    expect(r.headers.get('x-amz-function-error')).toBeNull();
    expect(await r.json()).toEqual({ depth: 2 });
  });

  it('keeps tenants apart unless granted, and throttles or degrades a tenant whose spend is out of reason for its budget', async () => {
    const f = await up(tmp(), extra);
    const made = await api(f.url, 'POST', '/v1/tenants', { id: 'acme' });
    expect(made.status).toBe(201);
    const acme = made.json as { credential: { accessKeyId: string; secret: string } };
    const acmeKey = `${acme.credential.accessKeyId}:${acme.credential.secret}`;
    const zeta = (await api(f.url, 'POST', '/v1/tenants', { id: 'zeta' })).json as { credential: { accessKeyId: string; secret: string } };
    const zetaKey = `${zeta.credential.accessKeyId}:${zeta.credential.secret}`;
    const dir = join(tmp(), 'work');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => { let x = 0; for (let i = 0; i < 2e6; i++) x += i; return x; };\n');
    expect((await api(f.url, 'PUT', '/v1/functions/work', { runtime: 'nodejs', handler: 'index.handler', class: 'high', zipBase64: zipDirectory(dir).toString('base64') }, acmeKey)).status).toBe(201);
    const call = (key: string, fn = 'work'): Promise<Response> => fetch(`${f.url}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: '{}' });

    // Isolation: zeta neither sees nor invokes acme's function, until acme grants it.
    expect((await call(zetaKey)).status).toBe(404);
    const arn = encodeURIComponent('arn:aws:lambda:us-east-1:acme:function:work');
    expect((await call(zetaKey, arn)).status).toBe(403);
    expect((await api(f.url, 'POST', '/v1/grants', { grantee: 'zeta', function: 'work' }, acmeKey)).status).toBeLessThan(300);
    expect((await call(zetaKey, arn)).status).toBe(200);

    // Budget: spend past a tiny budget: acme (who pays, also for zeta's call) is throttled with Retry-After…
    expect((await call(acmeKey)).status).toBe(200);
    expect((await api(f.url, 'PATCH', '/v1/tenants/acme', { budgetMicroCents: 0.001, overBudget: 'throttle' }, acmeKey)).status).toBe(200);
    const throttled = await call(acmeKey);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('x-amzn-errortype')).toMatch(/TooManyRequestsException/);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(zetaKey, arn)).status).toBe(429);
    // …and so it is with degrade, at the budget.
    expect((await api(f.url, 'PATCH', '/v1/tenants/acme', { overBudget: 'degrade' }, acmeKey)).status).toBe(200);
    expect((await call(acmeKey)).status).toBe(429);
    // Below the budget, past the allowance at its own class, the invocation runs at the lowest class:
    // a budget of what is spent plus the function's estimate at `low` (the costliest of its runs so
    // far, priced at 0.5 instead of 2 µ¢ per CPU-second) leaves room for one more run there only.
    const logged = async (): Promise<{ cpuMs: number; costMicroCents: number }[]> =>
      ((await api(f.url, 'GET', '/v1/functions/work/logs', undefined, acmeKey)).json as { entries: { cpuMs: number; costMicroCents: number }[] }).entries;
    await expect.poll(async () => (await logged()).length, { timeout: 5000 }).toBe(2); // zeta's and acme's, billed once measured
    const runs = await logged();
    const spent = ((await api(f.url, 'GET', '/v1/bill', undefined, acmeKey)).json as { costMicroCents: number }).costMicroCents;
    const atLow = Math.max(...runs.map((e) => e.costMicroCents - (e.cpuMs / 1000) * (2 - 0.5)));
    expect((await api(f.url, 'PATCH', '/v1/tenants/acme', { budgetMicroCents: (spent + atLow) * (1 + 1e-6) }, acmeKey)).status).toBe(200);
    const degraded = await call(acmeKey);
    expect(degraded.status).toBe(200);
    expect(degraded.headers.get('x-fare-class')).toBe('low');
    expect(degraded.headers.get('x-fare-budget')).toBe('degrade');
  });

  it('loses no accepted async invocation and no billing record when killed with SIGKILL', async () => {
    const dataDir = tmp();
    const first = await up(dataDir, extra);
    await deploy(first.url, 'slow', { 'index.mjs': 'export const handler = async (e) => { await new Promise((r) => setTimeout(r, 300)); return { n: e.n }; };\n' }, { runtime: 'nodejs', handler: 'index.handler', class: 'standard' });
    // Two synchronous invocations, billed before the crash (their records, written in a batch, go
    // at the latest with the first Event accepted after them).
    for (const n of [1, 2]) expect((await invokeSigned(first.url, 'slow', { n })).status).toBe(200);
    // Eight accepted async invocations, then kill -9 at once: some are queued, some running.
    const ids: string[] = [];
    for (let n = 10; n < 18; n++) {
      const r = await invokeSigned(first.url, 'slow', { n }, { type: 'Event' });
      expect(r.status).toBe(202);
      ids.push(r.headers.get('x-amzn-requestid') as string);
    }
    await stopFare(first, 'SIGKILL');

    const second = await up(dataDir, extra);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const states = await Promise.all(ids.map(async (id) => ((await api(second.url, 'GET', `/v1/invocations/${id}`)).json as { status: string }).status));
      if (states.every((s) => s === 'succeeded')) break;
      expect(states.some((s) => s === 'failed'), states.join(',')).toBe(false);
      if (Date.now() > deadline) throw new Error(`async invocations not done after restart: ${states.join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const bill = (await api(second.url, 'GET', '/v1/bill')).json as { functions: { function: string; invocations: number }[] };
    // Every accepted invocation ran and was billed exactly once for its successful run (the two sync ones survived the crash).
    expect(bill.functions.find((x) => x.function === 'slow')?.invocations).toBe(2 + ids.length);
  });
});

describe.each([['the worker on the main thread', [] as string[]], ['the worker on a thread of its own: --worker-thread', ['--worker-thread']]])('fare up and calls that wait on I/O, %s', (_, extra) => {
  it('a call waiting on I/O gives its core to the next: on one core, calls that sleep run side by side, and each still gets its answer', async () => {
    const f = await up(tmp(), ['--cores', '1', '--no-examples', ...extra]);
    await deploy(f.url, 'waits', { 'index.mjs': 'export const handler = async (e) => { const start = Date.now(); await new Promise((r) => setTimeout(r, 600)); return { n: e.n, start, end: Date.now() }; };\n' }, { runtime: 'nodejs', handler: 'index.handler', class: 'high' });
    expect((await api(f.url, 'POST', '/2015-03-31/functions/waits/invocations', { n: 0 })).status).toBe(200);
    const calls = await Promise.all([1, 2, 3, 4].map((n) => api(f.url, 'POST', '/2015-03-31/functions/waits/invocations', { n })));
    // Each one's receipt says how long it waited on I/O, its core given up (not as waiting for its own calls).
    const receipts = await Promise.all(calls.map(async (c) => {
      const r = await api(f.url, 'GET', `/v1/invocations/${c.headers.get('x-amzn-requestid') ?? ''}/receipt`);
      expect(r.status).toBe(200);
      return (r.json as { receipt: { machine: { ioWaitMs?: number; blockedMs: number; startedMs: number; doneMs: number } | null } }).receipt.machine;
    }));
    // And the operator's metrics count them.
    const metrics = await api(f.url, 'GET', '/metrics');
    await stopFare(f);
    const counted = /^fare_io_waits_total\{machine="\d+",class="high"\} (\d+)$/m.exec(String(metrics.json));
    // The worker's instance, in its census as the scrape read it (from the worker's thread too).
    expect(String(metrics.json)).toMatch(/^fare_instances\{machine="0",class="high",state="(idle|running|frozen)"\} [1-9]/m);
    expect(Number(counted?.[1] ?? 0), String(metrics.json).split('\n').filter((l) => l.includes('io_waits')).join('\n')).toBeGreaterThanOrEqual(4);
    for (const m of receipts) {
      expect(m?.blockedMs).toBe(0);
      // Some of its 600 ms asleep (it held the core for two readings first), within its time on the machine.
      expect(m?.ioWaitMs).toBeGreaterThan(0);
      expect(m?.ioWaitMs).toBeLessThanOrEqual((m?.doneMs ?? 0) - (m?.startedMs ?? 0));
    }
    const ran = calls.map((r) => {
      expect(r.status).toBe(200);
      return r.json as { n: number; start: number; end: number };
    });
    expect(ran.map((r) => r.n)).toEqual([1, 2, 3, 4]);
    // Held by its first call for its whole sleep, the core would run them one after the other.
    const overlapping = ran.filter((a) => ran.some((b) => b !== a && b.start < a.end && a.start < b.end));
    expect(overlapping.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  // Root: giving a class's priority back (nice −3 after SCHED_IDLE) needs CAP_SYS_NICE.
  const notRoot = process.getuid?.() !== 0;
  if (notRoot && extra.length === 0) process.stderr.write('SKIPPED the kernel priority of a call waiting on I/O: needs root (CAP_SYS_NICE)\n');
  it.skipIf(notRoot)('a call of a lower class waiting on I/O runs SCHED_IDLE while it waits (it must not take CPU from the call on the core when it wakes), and its instance has its class\'s priority back after', async () => {
    const f = await up(tmp(), ['--cores', '1', '--no-examples', ...extra]);
    await deploy(f.url, 'waits', { 'index.mjs': 'export const handler = async (e) => { await new Promise((r) => setTimeout(r, e.ms)); return { ok: true }; };\n' }, { runtime: 'nodejs', handler: 'index.handler', class: 'middle' });
    expect((await api(f.url, 'POST', '/2015-03-31/functions/waits/invocations', { ms: 0 })).status).toBe(200);
    /** Scheduling policy (0 SCHED_OTHER, 5 SCHED_IDLE) and nice value of each thread of process `pid`, as /proc says. */
    const threads = (pid: string): string[] => readdirSync(`/proc/${pid}/task`).map((t) => {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const fields = st.slice(st.lastIndexOf(')') + 2).split(' ');
      // After the name: state is field 3; nice 19; policy 41.
      return `policy ${fields[41 - 3]} nice ${fields[19 - 3]}`;
    });
    // The instance that served: this Fare's function processes at the middle class's nice value
    // (stem cells waiting for a function run at nice 19).
    const mine = readdirSync('/proc').filter((d) => {
      try {
        return /^\d+$/.test(d) && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`-p${f.child.pid}-`) && threads(d).includes('policy 0 nice -3');
      } catch {
        return false;
      }
    });
    expect(mine.length).toBeGreaterThan(0);
    const policies = (): string[] => [...new Set(mine.flatMap(threads))];
    expect(policies()).toEqual(['policy 0 nice -3']);
    const call = api(f.url, 'POST', '/2015-03-31/functions/waits/invocations', { ms: 1500 });
    await new Promise((r) => setTimeout(r, 700));
    const waiting = policies();
    expect((await call).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    const after = policies();
    await stopFare(f);
    expect(waiting).toEqual(['policy 5 nice -3']);
    expect(after).toEqual(['policy 0 nice -3']);
  }, 60_000);
});

describe('fare up --within-class', () => {
  // A function that computes for e.ms of CPU time (two functions, so the short call needs no second instance of the long one's).
  const SPIN = 'export const handler = async (e) => { const c0 = process.cpuUsage(); let x = 0; for (;;) { for (let i = 0; i < 1e5; i++) x += i; const c = process.cpuUsage(c0); if ((c.user + c.system) / 1000 >= e.ms) break; } return { x: x > 0 }; };\n';
  /** On one core: a 3 s call of the top class runs; a 20 ms one of the same class comes. Which answers first? (`default`: no --within-class.) */
  async function order(within: string, extra: readonly string[] = []): Promise<string[]> {
    const f = await up(tmp(), ['--cores', '1', '--no-examples', ...(within === 'default' ? [] : ['--within-class', within]), ...extra]);
    const words: Record<string, string> = { fcfs: 'first come, first served', ps: 'processor sharing, round robin', default: 'least attained service' };
    expect(f.output()).toMatch(new RegExp(`order within a class: ${words[within]}`));
    for (const name of ['long', 'short']) await deploy(f.url, name, { 'index.mjs': SPIN }, { runtime: 'nodejs', handler: 'index.handler', class: 'high' });
    // Both warm first, so neither waits for a cold start below.
    for (const name of ['long', 'short']) expect((await api(f.url, 'POST', `/2015-03-31/functions/${name}/invocations`, { ms: 1 })).status).toBe(200);
    const done: string[] = [];
    const call = (name: string, ms: number): Promise<void> => api(f.url, 'POST', `/2015-03-31/functions/${name}/invocations`, { ms }).then((r) => {
      expect(r.status).toBe(200);
      done.push(name);
    });
    const long = call('long', 3000);
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all([call('short', 20), long]);
    await stopFare(f);
    return done;
  }

  it('ps: the long call gives its core to the short one of its class once it has had its 20 ms slice, and the short one answers first', async () => {
    expect(await order('ps')).toEqual(['short', 'long']);
  }, 60_000);

  it('las (the default live: LIVE_WITHIN_DEFAULT): a short call of the top class preempts the long one of its class that has run longest, and answers first', async () => {
    expect(await order('default')).toEqual(['short', 'long']);
  }, 60_000);

  it('las with the worker on a thread of its own (--worker-thread): the same preemption, decided on that thread', async () => {
    expect(await order('default', ['--worker-thread'])).toEqual(['short', 'long']);
  }, 60_000);

  it('fcfs (the paper\'s): the short call waits for the long one', async () => {
    expect(await order('fcfs')).toEqual(['long', 'short']);
  }, 60_000);

  it.each([['las (the default)', []], ['ps', ['--within-class', 'ps']]])('%s keeps the order of one function\'s calls live: a flood of one function reuses its instance instead of cold-starting one per call it would overtake', async (_, within) => {
    const f = await up(tmp(), ['--cores', '1', '--no-examples', ...within]);
    await deploy(f.url, 'busy', { 'index.mjs': SPIN }, { runtime: 'nodejs', handler: 'index.handler', class: 'low' });
    expect((await api(f.url, 'POST', '/2015-03-31/functions/busy/invocations', { ms: 1 })).status).toBe(200);
    // A call of 150 ms every 70 ms on one core: many a new call finds the running one past LAS's
    // 100 ms quantum, having had less service itself, but it is a call of the same function.
    const ids = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      await new Promise((res) => setTimeout(res, 70 * i));
      const r = await api(f.url, 'POST', '/2015-03-31/functions/busy/invocations', { ms: 150 });
      expect(r.status).toBe(200);
      return r.headers.get('x-amzn-requestid') ?? '';
    }));
    const cold: string[] = [];
    const preempted: string[] = [];
    for (const id of ids) {
      const r = await api(f.url, 'GET', `/v1/invocations/${id}/receipt`);
      expect(r.status).toBe(200);
      const x = r.json as { receipt: { coldStart: boolean; machine: { preemptions: unknown[] } | null } };
      if (x.receipt.coldStart) cold.push(id);
      if ((x.receipt.machine?.preemptions.length ?? 0) > 0) preempted.push(id);
    }
    await stopFare(f);
    // No call preempted another, and none needed a new instance (a preempted call would have held one).
    expect({ cold, preempted }).toEqual({ cold: [], preempted: [] });
  }, 60_000);

  it('refuses an unknown order, and one with a class-blind policy', async () => {
    await expect(up(tmp(), ['--within-class', 'rr'])).rejects.toThrow(/--within-class rr is not known: use fcfs, las, sef, ps/);
    await expect(up(tmp(), ['--within-class', 'las', '--policy', 'hermod'])).rejects.toThrow(/it goes with --policy fare, not hermod/);
  });
});
