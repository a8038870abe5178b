// `kill -9` of `fare up` leaves no function process behind: the launcher process notices that Fare
// is gone (its IPC channel closes) and kills every runtime it started, stem cells included; in the
// sandbox each helper dies with the launcher as well. Checked the way an operator would see it —
// the runtime pids in /proc, before and after — with the sandbox (as root) and without it (Fare run
// as nobody, or as ourselves when not root). Spawns that bypass the launcher (FARE_LAUNCHER=off) are
// not covered: see launcher.ts's header.

import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capabilities } from '../src/live/runtime/capabilities.ts';
import { reapStaleGroups } from '../src/live/runtime/cgroups.ts';
import { reapStaleWorkDirs } from '../src/live/runtime/workdir.ts';
import { writeZip } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY, api, startFare, type FareProcess } from '../support/fare-process.ts';
import { eventually } from '../support/wait.ts';

const caps = capabilities();
const NOBODY = caps.runAs ?? { uid: 65534, gid: 65534 };
/**
 * As root, the case without the sandbox runs Fare as NOBODY, who must be able to read this checkout:
 * a clone in a directory only its owner may enter (mktemp -d makes them 0700) cannot be.
 */
const FARE_BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const nobodyReads = !caps.root || spawnSync(process.execPath, ['-e', `require('node:fs').accessSync(${JSON.stringify(FARE_BIN)}, 4)`], { uid: NOBODY.uid, gid: NOBODY.gid, stdio: 'ignore' }).status === 0;

/** A process as /proc shows it: its pid and its start time (so a reused pid is not taken for it). */
interface Proc {
  readonly pid: number;
  readonly start: string;
  readonly cmd: string;
}

function stat(pid: number): { ppid: number; state: string; start: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] ?? '', ppid: Number(f[1]), start: f[19] ?? '' };
  } catch {
    return null;
  }
}

/** Every process descended from `root`, with its command line. */
function descendants(root: number): Proc[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = stat(Number(d));
    if (st !== null) children.set(st.ppid, [...(children.get(st.ppid) ?? []), Number(d)]);
  }
  const out: Proc[] = [];
  const todo = [root];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    for (const c of children.get(p) ?? []) {
      todo.push(c);
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      } catch {
        continue; // gone meanwhile
      }
      out.push({ pid: c, start: stat(c)?.start ?? '', cmd });
    }
  }
  return out;
}

/** Still running: there, the same process (same start time), and not a zombie. */
function alive(p: Proc): boolean {
  const st = stat(p.pid);
  return st !== null && st.start === p.start && st.state !== 'Z' && st.state !== 'X';
}

/** Fare's function processes: runtimes (their bootstraps), the sandbox helpers, the launcher. */
const functionProcess = (p: Proc): boolean => /bootstrap\.(mjs|py)|fare-sandbox|launcher-process\.mjs/.test(p.cmd);

/** Says it runs (a file in its scratch directory, `<instance dir>/tmp`), then sleeps for ten minutes. */
const SLEEPY = writeZip([
  {
    path: 'index.mjs',
    data: Buffer.from(
      'import { writeFileSync } from "node:fs";\n' +
        'export const handler = () => {\n' +
        '  writeFileSync(`${process.env.TMPDIR}/running`, "");\n' +
        '  return new Promise((r) => setTimeout(() => r("late"), 600_000));\n' +
        '};\n',
    ),
    mode: 0o644,
  },
]);

/** Whether the call runs its handler: the file it writes in its instance's scratch directory. */
function handlerRuns(instancesDir: string, farePid: number): boolean {
  try {
    return readdirSync(instancesDir).some((d) => d.startsWith(`sleepy-v1-p${farePid}-`) && existsSync(join(instancesDir, d, 'tmp', 'running')));
  } catch {
    return false;
  }
}

let fare: FareProcess | null = null;
let leftovers: Proc[] = [];
const dirs: string[] = [];

afterEach(() => {
  // A failed assertion leaves no processes on the machine either.
  if (fare?.child.pid !== undefined && fare.child.pid > 1 && fare.child.exitCode === null) fare.child.kill('SIGKILL');
  for (const p of leftovers) {
    if (p.pid > 1 && alive(p)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  leftovers = [];
  fare = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  // What the killed Fare left, as the next `fare up` removes it: its instance groups and directories.
  reapStaleGroups(caps.cgroups);
  reapStaleWorkDirs(caps.instancesDir);
});

/**
 * Starts `fare up` (as `user`, if given), deploys a function whose handler sleeps for ten minutes,
 * calls it, kills Fare with SIGKILL while the call runs and waits for every function process it had
 * to be gone. Returns what ran before the kill.
 */
async function killFareMidCall(user?: { uid: number; gid: number }, extra: readonly string[] = []): Promise<Proc[]> {
  mkdirSync('/var/tmp', { recursive: true });
  const dataDir = mkdtempSync('/var/tmp/fare-killed-');
  dirs.push(dataDir);
  const env: NodeJS.ProcessEnv = { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY };
  let instancesDir = caps.instancesDir;
  if (user !== undefined) {
    // Its data and its instances in a folder of its own; tsx's cache and HOME where it may write.
    chmodSync(dataDir, 0o700);
    chownSync(dataDir, user.uid, user.gid);
    instancesDir = join(dataDir, 'instances');
    env['FARE_INSTANCES_DIR'] = instancesDir;
    env['HOME'] = '/tmp';
  }
  fare = await startFare(join(dataDir, 'data'), ['--no-examples', ...extra], env, undefined, user);
  const f = fare;
  const r = await api(f.url, 'PUT', '/v1/functions/sleepy', { class: 'standard', runtime: 'nodejs', handler: 'index.handler', timeoutMs: 900_000, zipBase64: SLEEPY.toString('base64') });
  expect(r.status).toBeLessThan(300);
  const call = fetch(`${f.url}/2015-03-31/functions/sleepy/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` }, body: '{}' }).catch(() => null);
  const farePid = f.child.pid ?? -1;
  expect(farePid).toBeGreaterThan(1);
  // Killed while the handler runs: a runtime killed earlier, in its init, would end by itself when
  // its first /next found Fare gone.
  await eventually('the call runs its handler', () => handlerRuns(instancesDir, farePid), 60_000);
  const before = descendants(farePid).filter(functionProcess);
  // The call's runtime: one started for it, or a stem cell it was given if one was ready first
  // (whichever it is, it is among the processes that must all be gone after the kill).
  const runtimes = before.filter((p) => p.cmd.includes('bootstrap.mjs') && !p.cmd.includes('fare-sandbox'));
  expect(runtimes.filter((p) => p.cmd.includes('/sleepy-')).length + (runtimes.some((p) => p.cmd.includes('/stem-nodejs-')) ? 1 : 0), JSON.stringify(runtimes)).toBeGreaterThanOrEqual(1);
  leftovers = before;
  if (farePid > 1) process.kill(farePid, 'SIGKILL');
  try {
    await eventually('every function process of the killed Fare gone', () => before.every((p) => !alive(p)), 10_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}; still running: ${before.filter(alive).map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
  }
  await call;
  return before;
}

if (!caps.root || caps.sandbox.helper === null) {
  console.warn(`test/fare-killed.test.ts: the sandbox case is skipped: ${!caps.root ? 'it needs root (the sandbox does)' : 'no sandbox helper on this machine (build/fare-sandbox: npm ci builds it with the C compiler)'}`);
}

if (!nobodyReads) {
  console.warn(`test/fare-killed.test.ts: the case without the sandbox is skipped: uid ${NOBODY.uid}, whom Fare runs as there, cannot read ${FARE_BIN} (a directory above it lets only its owner in: chmod o+x it, or clone elsewhere)`);
}

describe('kill -9 of fare up', () => {
  it.skipIf(!caps.root || caps.sandbox.helper === null)('with the sandbox: its runtimes, stem cells, sandbox helpers and launcher are gone', async () => {
    const before = await killFareMidCall();
    // What was there: the launcher, the call's runtime in its helper, and stem cells' runtimes.
    expect(before.filter((p) => p.cmd.includes('launcher-process.mjs'))).toHaveLength(1);
    expect(before.some((p) => p.cmd.includes('fare-sandbox'))).toBe(true);
    expect(before.some((p) => p.cmd.includes('/stem-'))).toBe(true);
  });

  it.skipIf(!caps.root || caps.sandbox.helper === null)('with the worker on a thread of its own (--worker-thread): the launcher it started, its runtimes and stem cells are gone', async () => {
    const before = await killFareMidCall(undefined, ['--worker-thread']);
    // One launcher (the worker thread's; the main thread starts none), the call's runtime, stem cells.
    expect(before.filter((p) => p.cmd.includes('launcher-process.mjs'))).toHaveLength(1);
    expect(before.some((p) => p.cmd.includes('fare-sandbox'))).toBe(true);
    expect(before.some((p) => p.cmd.includes('/stem-'))).toBe(true);
  });

  it.skipIf(!nobodyReads)('without the sandbox: its runtimes and launcher are gone', async () => {
    // As root Fare runs as nobody here (no sandbox without root); otherwise as ourselves.
    const before = await killFareMidCall(caps.root ? NOBODY : undefined);
    expect(before.filter((p) => p.cmd.includes('launcher-process.mjs'))).toHaveLength(1);
    expect(before.some((p) => p.cmd.includes('fare-sandbox'))).toBe(false);
  });
});
