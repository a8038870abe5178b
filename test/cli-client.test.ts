// End-to-end: the `fare` client commands as a user runs them — fare init, then deploy (named after the
// folder, runtime and handler from its files, created then updated), invoke, ls, bill per function
// and class, rm — against a real `fare up`; and ordinary mistakes, each answered with one line that
// says what to do and exit status 2, never a stack trace.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ADMIN_KEY, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';
import { FLOOD_HANDLER, floodReceived } from '../support/flood.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const work = mkdtempSync(join(tmpdir(), 'fare-cli-client-'));
let fareUp: FareProcess | undefined;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function fare(args: readonly string[], env: Record<string, string> = {}, cwd = work): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The one line a mistake prints (a checkout whose dist/ is older than src/ adds its own notice first). */
function mistake(r: Run): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('fare: running src/ through tsx'));
  expect(r.code, r.stderr).toBe(2);
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  return lines[0] as string;
}

const closedPort = (): Promise<number> =>
  new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => done(typeof a === 'object' && a !== null ? a.port : 1));
    });
  });

beforeAll(async () => {
  fareUp = await startFare(join(work, 'data'), ['--no-examples']);
});
afterAll(async () => {
  if (fareUp) await stopFare(fareUp);
  rmSync(work, { recursive: true, force: true });
});

const as = (): Record<string, string> => ({ FARE_ENDPOINT: fareUp?.url ?? '', FARE_KEY: ADMIN_KEY });

describe('fare init', () => {
  it('makes a function for each runtime whose test passes with the plain test runner, and never writes into a folder that holds something', async () => {
    const node = await fare(['init', 'hello-node']);
    expect(node.code, node.stderr).toBe(0);
    expect(readdirSync(join(work, 'hello-node')).sort()).toEqual(['README.md', 'index.mjs', 'index.test.mjs']);
    expect(spawnSync(process.execPath, ['--test'], { cwd: join(work, 'hello-node'), encoding: 'utf8' }).status).toBe(0);

    const sh = await fare(['init', '--runtime', 'provided', 'hello-sh']);
    expect(sh.code, sh.stderr).toBe(0);
    expect(statSync(join(work, 'hello-sh', 'bootstrap')).mode & 0o111).toBe(0o111);
    expect(spawnSync(process.execPath, ['--test'], { cwd: join(work, 'hello-sh'), encoding: 'utf8' }).status).toBe(0);

    const py = await fare(['init', '--runtime', 'python', 'hello-py']);
    expect(py.code, py.stderr).toBe(0);
    const unittest = spawnSync('python3', ['-m', 'unittest'], { cwd: join(work, 'hello-py'), encoding: 'utf8' });
    if (unittest.error === undefined) expect(unittest.status, unittest.stderr).toBe(0);

    expect(mistake(await fare(['init', 'hello-node']))).toMatch(/hello-node is not empty: fare init writes only into a new or empty folder/);
    expect(mistake(await fare(['init', '--runtime', 'go', 'x']))).toMatch(/--runtime go is not known: use nodejs, python or provided/);
    expect(existsSync(join(work, 'x'))).toBe(false);
  });
});

describe('fare deploy, invoke, ls, bill, rm', () => {
  it('deploys a folder under its own name, says whether it created or updated it, and bills it per function and class', async () => {
    const dir = join(work, 'greeter');
    expect((await fare(['init', dir])).code).toBe(0);
    const created = await fare(['deploy', dir, '--class', 'high'], as());
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^created greeter, named after its folder: version 1, nodejs, handler index\.handler, class high; runtime and handler taken from index\.mjs/);
    const updated = await fare(['deploy', dir], as());
    expect(updated.stdout).toMatch(/^updated greeter, named after its folder: version 2, nodejs, handler index\.handler, class high\n$/);
    const json = await fare(['deploy', dir, '--json'], as());
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'greeter', version: 3 });

    const call = await fare(['invoke', 'greeter', '--payload', '{"name":"Ada"}'], as());
    expect(call.stdout.trim()).toBe('{"greeting":"Hello, Ada!"}');

    const ls = await fare(['ls'], as());
    expect(ls.stdout).toMatch(/^NAME +RUNTIME +CLASS +VERSION +HANDLER\ngreeter +nodejs +high +3 +index\.handler\n$/);

    const bill = await fare(['bill'], as());
    expect(bill.stdout).toMatch(/^FUNCTION +CLASSES +INVOCATIONS +CPU s +MEMORY GB·s +COST µ¢\ngreeter +high +1 /m);
    expect(bill.stdout).toMatch(/^CLASS +INVOCATIONS +CPU s +MEMORY GB·s +COST µ¢\nhigh +1 /m);
    expect(JSON.parse((await fare(['bill', '--json'], as())).stdout)).toMatchObject({ invocations: 1, functions: [{ function: 'greeter', classes: [{ cls: 'high' }] }] });

    expect((await fare(['rm', 'greeter'], as())).stdout).toBe('deleted greeter\n');
    expect(mistake(await fare(['rm', 'greeter'], as()))).toBe('fare: there is no function greeter: fare ls lists yours (FARE_E_FUNCTION_NOT_FOUND)');
    expect(mistake(await fare(['invoke', 'greeter'], as()))).toMatch(/^fare: there is no function greeter: fare ls lists yours/);
  });
});

describe('fare invoke --stream', () => {
  it('prints a streamed response as it comes, and a failure after it on stderr with exit status 1', async () => {
    const dir = join(work, 'ticker');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), `export const handler = awslambda.streamifyResponse(async (e, stream) => {
  for (let i = 1; i <= e.n; i++) stream.write('tick ' + i + '\\n');
  if (e.fail) throw new Error('stopped at ' + e.n);
  stream.end();
});\n`);
    expect((await fare(['deploy', dir], as())).code).toBe(0);
    const ok = await fare(['invoke', 'ticker', '--stream', '--payload', '{"n":3}'], as());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('tick 1\ntick 2\ntick 3\n');
    const failed = await fare(['invoke', 'ticker', '--stream', '--payload', '{"n":2,"fail":true}', '--logs'], as());
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('tick 1\ntick 2\n');
    expect(failed.stderr).toMatch(/--- logs ---\n(.|\n)*END RequestId/);
    expect(failed.stderr).toMatch(/ticker failed: Error: stopped at 2\n/);
    expect(mistake(await fare(['invoke', 'ticker', '--stream', '--async'], as()))).toMatch(/--stream .* does not go with --async or --dry-run/);
    expect(mistake(await fare(['invoke', 'nobody', '--stream'], as()))).toMatch(/^fare: there is no function nobody: fare ls lists yours/);
  });
});

describe('fare invoke --stream into a slow pipe', () => {
  it('reads no faster than its stdout is read: the function\'s writes are held meanwhile, and nothing is lost', async () => {
    const dir = join(work, 'flood');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), FLOOD_HANDLER);
    expect((await fare(['deploy', dir, '--timeout', '30000'], as())).code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'invoke', 'flood', '--stream'], { cwd: work, env: { ...process.env, ...as() }, stdio: ['ignore', 'pipe', 'inherit'] });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Its stdout is not read for 3 s: the pipe fills, then fare invoke stops reading its answer.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 3000));
    const parts: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => parts.push(b));
    child.stdout.resume();
    expect(await closed).toBe(0);
    const { intact, writtenMs } = floodReceived(Buffer.concat(parts));
    expect(intact).toBe(true);
    expect(writtenMs).toBeGreaterThan(2000);
  }, 60_000);
});

describe('fare schedule', () => {
  it('makes, replaces, lists and deletes schedules, and the one made fires', async () => {
    const dir = join(work, 'cron-target');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async (e) => { console.log("scheduled", JSON.stringify(e)); return 1; };\n');
    expect((await fare(['deploy', dir], as())).code).toBe(0);
    const made = await fare(['schedule', 'nightly', '--function', 'cron-target', '--cron', '0 3 * * ? *', '--tz', 'Europe/Paris'], as());
    // 3:00 in Paris is 2:00 UTC in winter, 1:00 in summer.
    expect(made.stdout, made.stderr).toMatch(/^created schedule nightly: invokes cron-target at cron\(0 3 \* \* \? \*\) \(Europe\/Paris\), next at \d{4}-\d\d-\d\d 0[12]:00Z\n$/);
    const replaced = await fare(['schedule', 'nightly', '--function', 'cron-target', '--every', '1h', '--disabled'], as());
    expect(replaced.stdout).toBe('updated schedule nightly: invokes cron-target at rate(1 hour) (UTC), disabled\n');
    // A one-time schedule a second from now fires (and is deleted after).
    const when = new Date(Date.now() + 1500).toISOString().slice(0, 19);
    expect((await fare(['schedule', 'soon', '--function', 'cron-target', '--at', when, '--payload', '{"n":7}'], as())).code).toBe(0);
    const ls = await fare(['schedule', 'ls'], as());
    expect(ls.stdout).toMatch(/^NAME +WHEN +TIME ZONE +STATE +FUNCTION +NEXT +LAST\nnightly +rate\(1 hour\) +UTC +DISABLED +cron-target +— +—\nsoon +at\(/);
    let logs = '';
    for (let i = 0; i < 60 && !logs.includes('scheduled {"n":7}'); i++) {
      await new Promise((r) => setTimeout(r, 250));
      logs = (await fare(['logs', 'cron-target'], as())).stdout;
    }
    expect(logs).toContain('scheduled {"n":7}');
    // What fired last, per schedule: the one-time schedule is gone once it fired (DELETE after completion).
    expect((await fare(['schedule', 'ls'], as())).stdout).not.toMatch(/\nsoon /);
    expect((await fare(['schedule', 'rm', 'nightly'], as())).stdout).toBe('deleted schedule nightly\n');
    expect(mistake(await fare(['schedule', 'rm', 'nightly'], as()))).toBe('fare: there is no schedule nightly: fare schedule ls lists yours (FARE_E_SCHEDULE_NOT_FOUND)');
    expect(mistake(await fare(['schedule', 'x', '--function', 'cron-target', '--every', '90s'], as()))).toMatch(/--every 90s is not a period: give whole minutes, hours or days/);
    expect(mistake(await fare(['schedule', 'x', '--function', 'cron-target'], as()))).toMatch(/give one of --every .*--cron .*--at/);
    expect(mistake(await fare(['schedule', 'x', '--function', 'nobody', '--every', '5m'], as()))).toMatch(/--function nobody: there is no function nobody/);
    expect(mistake(await fare(['schedule', 'x', '--function', 'cron-target', '--cron', '0 3 * * *'], as()))).toMatch(/Invalid Schedule Expression cron\(0 3 \* \* \*\): a cron expression has 6 fields/);
  }, 30_000);
});

describe('fare async', () => {
  it("shows and sets how a function's Event invocations are tried, and a failure's record reaches the function named", async () => {
    const dir = join(work, 'flaky');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => { throw new Error("flaky"); };\n');
    expect((await fare(['deploy', dir], as())).code).toBe(0);
    const sink = join(work, 'sink');
    mkdirSync(sink);
    writeFileSync(join(sink, 'index.mjs'), 'export const handler = async (e) => { console.log("got", e.requestContext.condition, e.requestContext.requestId); return 1; };\n');
    expect((await fare(['deploy', sink], as())).code).toBe(0);
    expect((await fare(['async', 'flaky'], as())).stdout).toBe([
      'flaky: an Event invocation is tried up to 3 times (2 retries, the default), within 6 h of being accepted (the default)',
      '  on success: —',
      '  on failure: —',
      '',
    ].join('\n'));
    const set = await fare(['async', 'flaky', '--retries', '0', '--max-age', '30m', '--on-failure', 'sink'], as());
    expect(set.stdout, set.stderr).toMatch(/^flaky: an Event invocation is tried up to 1 time \(0 retries\), within 30 min of being accepted\n {2}on success: —\n {2}on failure: arn:aws:lambda:us-east-1:admin:function:sink\n$/);
    // Options not given are kept.
    expect((await fare(['async', 'flaky', '--max-age', '3600'], as())).stdout).toMatch(/tried up to 1 time \(0 retries\), within 1 h .*\n.*\n {2}on failure: arn:aws:lambda:us-east-1:admin:function:sink/);
    // The failing Event: tried once, its record to sink.
    const queued = await fare(['invoke', 'flaky', '--async'], as());
    const id = /queued: (\S+)/.exec(queued.stdout)?.[1] ?? '';
    expect(id).not.toBe('');
    let logs = '';
    for (let i = 0; i < 100 && !logs.includes(id); i++) {
      await new Promise((r) => setTimeout(r, 100));
      logs = (await fare(['logs', 'sink'], as())).stdout;
    }
    expect(logs).toContain(`got RetriesExhausted ${id}`);
    expect((await fare(['logs', id], as())).stdout).toMatch(/failed/);
    // Bad input, each one line; then the defaults again.
    expect(mistake(await fare(['async', 'flaky', '--retries', '3'], as()))).toMatch(/--retries 3 must be 0, 1 or 2/);
    expect(mistake(await fare(['async', 'flaky', '--max-age', 'soon'], as()))).toMatch(/--max-age soon is not a duration/);
    expect(mistake(await fare(['async', 'flaky', '--max-age', '10s'], as()))).toMatch(/MaximumEventAgeInSeconds/);
    expect(mistake(await fare(['async', 'flaky', '--on-failure', 'nope'], as()))).toMatch(/--on-failure nope: there is no function nope/);
    expect(mistake(await fare(['async', 'nope'], as()))).toMatch(/there is no function nope/);
    expect((await fare(['async', 'flaky', '--reset'], as())).stdout).toMatch(/tried up to 3 times \(2 retries, the default\)/);
    expect(JSON.parse((await fare(['async', 'flaky', '--json'], as())).stdout)).toBeNull();
  });
});

describe('fare concurrency', () => {
  it("shows, sets and clears a function's concurrency limit; 0 stops its calls with a 429 that says why", async () => {
    const dir = join(work, 'limited');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => 1;\n');
    expect((await fare(['deploy', dir], as())).code).toBe(0);
    expect((await fare(['concurrency', 'limited'], as())).stdout).toBe('limited: no concurrency limit (as many calls at once as the machines take)\n');
    expect((await fare(['concurrency', 'limited', '3'], as())).stdout).toBe('limited: at most 3 calls at once, over all its versions (more are throttled: 429; Events wait)\n');
    expect(JSON.parse((await fare(['concurrency', 'limited', '--json'], as())).stdout)).toEqual({ function: 'limited', reservedConcurrency: 3 });
    expect((await fare(['invoke', 'limited'], as())).code).toBe(0);
    expect((await fare(['concurrency', 'limited', '0'], as())).stdout).toMatch(/^limited: reserved concurrency 0 — no call runs/);
    // fare ls shows the limits once any function has one.
    expect((await fare(['ls'], as())).stdout).toMatch(/NAME +RUNTIME +CLASS +VERSION +HANDLER +AT ONCE\n[^]*\nlimited +nodejs +standard +1 +index\.handler +0 \(stopped\)\n/);
    const stopped = await fare(['invoke', 'limited'], as());
    expect(stopped.code).not.toBe(0);
    expect(stopped.stderr).toMatch(/Function limited has a reserved concurrency of 0: no call runs until it is raised or removed .*\(FARE_E_CONCURRENCY_LIMIT\)/);
    expect((await fare(['concurrency', 'limited', '--clear'], as())).stdout).toBe('limited: no concurrency limit (as many calls at once as the machines take)\n');
    expect((await fare(['invoke', 'limited'], as())).code).toBe(0);
    expect(mistake(await fare(['concurrency', 'limited', 'many'], as()))).toBe('fare: many is not a concurrency limit: give a whole number ≥ 0 (0 stops the function), or --clear to remove it (FARE_E_USAGE)');
    expect(mistake(await fare(['concurrency', 'limited', '2', '--clear'], as()))).toMatch(/--clear removes the limit: give it without a number/);
    expect(mistake(await fare(['concurrency', 'nope', '2'], as()))).toMatch(/there is no function nope: fare ls lists yours/);
    expect(mistake(await fare(['concurrency', 'limited', '100001'], as()))).toMatch(/reserved/);
  });
});

describe('ordinary mistakes: one line, what to do, exit status 2', () => {
  it('a wrong credential, a missing folder or file, a folder that is not a function name', async () => {
    expect(mistake(await fare(['ls'], { ...as(), FARE_KEY: 'FARETESTADMIN0000000:wrong' }))).toMatch(/did not accept the credential FARETESTADMIN0000000:…: set FARE_KEY or --key/);
    expect(mistake(await fare(['invoke', 'x'], { ...as(), FARE_KEY: 'NOSUCHKEY:wrong' }))).toMatch(/did not accept the credential NOSUCHKEY:…/);
    expect(mistake(await fare(['deploy', join(work, 'nope')], as()))).toMatch(/nope does not exist: give the folder holding the function's code/);
    expect(mistake(await fare(['invoke', 'x', '--payload-file', join(work, 'nope.json')], as()))).toMatch(/--payload-file .*nope\.json: there is no such file/);
    const badName = join(work, 'bad name');
    mkdirSync(badName);
    writeFileSync(join(badName, 'index.mjs'), 'export const handler = async () => 1;\n');
    expect(mistake(await fare(['deploy', badName], as()))).toMatch(/the folder name "bad name" is not a function name .*: give one with --name/);
  });

  it('Fare not running, and a port in use for fare up', async () => {
    const port = await closedPort();
    expect(mistake(await fare(['ls'], { FARE_ENDPOINT: `http://127.0.0.1:${port}`, FARE_KEY: ADMIN_KEY }))).toBe(
      `fare: Fare is not running at http://127.0.0.1:${port} (connection refused): start Fare with "fare up", or set FARE_ENDPOINT or --endpoint to where it listens (FARE_E_UNREACHABLE)`,
    );
    const busy = new URL(fareUp?.url ?? '').port;
    const second = await fare(['up', '--port', busy, '--data-dir', join(work, 'second'), '--no-examples'], { FARE_ADMIN_KEY: ADMIN_KEY });
    expect(mistake(second)).toMatch(new RegExp(`^fare: port ${busy} on 127\\.0\\.0\\.1 is in use .*--port 0 picks a free one\\) \\(FARE_E_PORT_IN_USE\\)$`));
  });
});
