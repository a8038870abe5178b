// End-to-end: stopping `fare up` with SIGTERM (or SIGHUP, its terminal gone) while calls run. Within --shutdown-grace the calls in
// flight finish (a sync caller gets its answer, an async invocation its recorded outcome) while no
// new connection is taken; past the grace what is left is cut, and an async invocation cut so runs
// again at the next start, once to the end. A second signal stops at once.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const work = mkdtempSync(join(tmpdir(), 'fare-graceful-'));
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };
const started: FareProcess[] = [];
afterAll(async () => {
  for (const f of started) await stopFare(f, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** A fresh `fare up` with the function `sleeper` (sleeps `ms`, then says so; 30 s timeout). */
async function fareWithSleeper(name: string, grace: string, extra: readonly string[] = []): Promise<{ fare: FareProcess; dataDir: string }> {
  const dataDir = join(work, name);
  const fare = await start(dataDir, grace, extra);
  const code = join(work, `${name}-code`);
  mkdirSync(code);
  writeFileSync(join(code, 'index.mjs'), 'export const handler = async (e) => { await new Promise((r) => setTimeout(r, e.ms)); return { slept: e.ms, n: e.n }; };\n');
  const put = await fetch(`${fare.url}/v1/functions/sleeper?runtime=nodejs&handler=index.handler&class=high&timeoutMs=30000`, {
    method: 'PUT', headers: { ...AUTH, 'Content-Type': 'application/zip' }, body: zipDirectory(code),
  });
  expect(put.status).toBe(201);
  await invoke(fare.url, { ms: 0, n: -1 }); // its instance warm
  return { fare, dataDir };
}

async function start(dataDir: string, grace: string, extra: readonly string[] = []): Promise<FareProcess> {
  const fare = await startFare(dataDir, ['--no-examples', '--shutdown-grace', grace, ...extra]);
  started.push(fare);
  return fare;
}

async function invoke(url: string, payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<{ status: number; body: string; id: string }> {
  const r = await fetch(`${url}/2015-03-31/functions/sleeper/invocations`, {
    method: 'POST', headers: { ...AUTH, 'X-Amz-Invocation-Type': type, 'Content-Type': 'application/json' }, body: JSON.stringify(payload),
  });
  return { status: r.status, body: await r.text(), id: r.headers.get('x-amzn-requestid') ?? '' };
}

/** Resolves with the exit code when the process exits, and how long after `since` that was. */
function exited(fare: FareProcess, since: number): Promise<{ code: number | null; ms: number }> {
  return new Promise((resolve) => fare.child.once('exit', (code) => resolve({ code, ms: performance.now() - since })));
}

async function status(url: string, id: string): Promise<{ status: string; attempts: number }> {
  return (await api(url, 'GET', `/v1/invocations/${id}`)).json as { status: string; attempts: number };
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('fare up stopped with SIGTERM', () => {
  // Also with the worker on a thread of its own (src/live/worker/on-thread.ts), which stops after the gateway has drained.
  const modes: [string, string[]][] = [['the worker on the main thread', []], ['the worker on a thread of its own: --worker-thread', ['--worker-thread']]];

  it.each(modes)('lets the calls in flight finish within the grace — the sync caller answered, the async one recorded — and takes no new connection meanwhile (%s)', async (_, extra) => {
    const { fare, dataDir } = await fareWithSleeper(`drain${extra.length}`, '20s', extra);
    const event = await invoke(fare.url, { ms: 1500, n: 2 }, 'Event');
    expect(event.status).toBe(202);
    const sync = invoke(fare.url, { ms: 2000, n: 1 });
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    const exit = exited(fare, t0);
    fare.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // Listening no more: a new connection is refused.
    await expect(fetch(`${fare.url}/healthz`)).rejects.toThrow();
    const answered = await sync;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ slept: 2000, n: 1 });
    const { code, ms } = await exit;
    expect(code).toBe(0);
    // It waited for the calls (about 1.5 s more), not for the whole grace.
    expect(ms).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(15_000);
    expect(fare.output()).toMatch(/Fare is stopping: it takes no new calls, and waits up to 20s for 1 request\(s\) and 1 async invocation\(s\) in flight/);
    // The async invocation's outcome was recorded before the stop: it does not run again.
    const again = await start(dataDir, '20s', extra);
    expect(await status(again.url, event.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
    await stopFare(again);
  }, 60_000);

  it.each(modes)('past the grace cuts what is left: the sync caller sees its connection end, the async invocation runs again at the next start (%s)', async (_, extra) => {
    const { fare, dataDir } = await fareWithSleeper(`cut${extra.length}`, '1s', extra);
    const event = await invoke(fare.url, { ms: 4000, n: 4 }, 'Event');
    expect(event.status).toBe(202);
    const sync = invoke(fare.url, { ms: 8000, n: 3 }).then(() => 'answered', () => 'cut');
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    const exit = exited(fare, t0);
    fare.child.kill('SIGTERM');
    expect(await sync).toBe('cut');
    const { code, ms } = await exit;
    expect(code, fare.output()).toBe(0);
    expect(ms).toBeLessThan(6000);
    // Not recorded as a failed attempt: it was claimed, and runs again (to the end) at the next start.
    const again = await start(dataDir, '20s', extra);
    await until('the cut Event run again', async () => (await status(again.url, event.id)).status === 'succeeded');
    await stopFare(again);
  }, 60_000);

  it('a second signal stops at once', async () => {
    const { fare } = await fareWithSleeper('twice', '60s');
    const sync = invoke(fare.url, { ms: 20_000, n: 5 }).then(() => 'answered', () => 'cut');
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    const exit = exited(fare, t0);
    fare.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    fare.child.kill('SIGINT');
    expect(await sync).toBe('cut');
    const { ms } = await exit;
    expect(ms).toBeLessThan(10_000);
    expect(fare.output()).toMatch(/Fare is stopping now, without waiting/);
  }, 60_000);

  it('its terminal closing (SIGHUP) stops it the same way: the call in flight is answered, and it exits 0', async () => {
    const { fare } = await fareWithSleeper('hangup', '20s');
    const sync = invoke(fare.url, { ms: 1500, n: 6 });
    await new Promise((r) => setTimeout(r, 300));
    const exit = exited(fare, performance.now());
    // What the kernel sends when the terminal goes (it ended fare up at once, its call cut, before).
    fare.child.kill('SIGHUP');
    const answered = await sync;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ slept: 1500, n: 6 });
    expect((await exit).code).toBe(0);
    expect(fare.child.signalCode).toBeNull();
  }, 60_000);

  it('stops cleanly when nobody reads its output any more (fare up | head)', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'fare.js'), 'up', '--port', '0', '--data-dir', join(work, 'piped'), '--no-examples'], {
      env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push({ child, url: '', output: () => '' });
    let out = '', err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    await new Promise<void>((done) => child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('Fare is up')) done();
    }));
    // The reader goes, as head does once it has its lines: what Fare writes next meets a closed pipe.
    child.stdout.destroy();
    const exit = new Promise<{ code: number | null; signal: string | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    // Its stopping line fails (EPIPE): dropped, and the stop goes on (it crashed with an unhandled 'error' before).
    expect(await exit, err).toEqual({ code: 0, signal: null });
    expect(err).not.toMatch(/EPIPE|Unhandled 'error'/);
  }, 60_000);

  it('refuses a grace it cannot keep', async () => {
    await expect(startFare(join(work, 'bad'), ['--shutdown-grace', '2h'])).rejects.toThrow(/--shutdown-grace 2h is too long: give at most 15m/);
    await expect(startFare(join(work, 'bad2'), ['--shutdown-grace', 'soon'])).rejects.toThrow(/--shutdown-grace soon is not a duration/);
  });
});
