// Starts `fare up` (or `fare cluster up`) as a real child process on a free port and waits until it
// says where it listens.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ADMIN = { id: 'FARETESTADMIN0000000', secret: 'test-admin-secret-0123456789' };
export const ADMIN_KEY = `${ADMIN.id}:${ADMIN.secret}`;

export interface FareProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
}

/**
 * `env`: the environment of `fare up` (default: this process's, with FARE_ADMIN_KEY set to ADMIN_KEY);
 * `bin`: the `fare` command to run (default this checkout's); `user`: run it as this uid and gid
 * (given by root: Fare then has no sandbox), default this process's; `nodeArgs`: options for node
 * itself (V8's, which NODE_OPTIONS does not take).
 */
export function startFare(
  dataDir: string,
  args: readonly string[] = [],
  env?: NodeJS.ProcessEnv,
  bin = join(import.meta.dirname, '..', 'bin', 'fare.js'),
  user?: { readonly uid: number; readonly gid: number },
  nodeArgs: readonly string[] = [],
): Promise<FareProcess> {
  const child = spawn(process.execPath, [...nodeArgs, bin, 'up', '--port', '0', '--data-dir', dataDir, ...args], {
    env: env ?? { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user !== undefined ? { uid: user.uid, gid: user.gid } : {}),
  });
  let text = '';
  const output = (): string => text;
  child.stderr?.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return new Promise((done, fail) => {
    // Looked for until found only: `fare up` logs a line per request afterwards, and scanning all of
    // its output at every chunk costs the process running the test milliseconds per call.
    let ready = false;
    child.stdout?.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (ready) return;
      const m = /Fare is up: (http:\/\/\S+)/.exec(text);
      if (m) {
        ready = true;
        done({ child, url: m[1] as string, output });
      }
    });
    child.once('exit', (code, signal) => fail(new Error(`fare up exited (${String(code ?? signal)}) before it was ready:\n${text}`)));
  });
}

export async function stopFare(p: FareProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill(signal);
  await exited;
}

/** A call to Fare's REST API (or any path) with the admin's Bearer token. */
export async function api(url: string, method: string, path: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, headers: res.headers };
}

export interface ClusterProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Its stdout and stderr so far. */
  readonly output: () => string;
}

/**
 * Starts `fare cluster up ARGS` (this checkout's) and resolves once it prints its endpoint; fails if
 * it exits first or says nothing within 60 s, with what it printed. `group`: in a process group of
 * its own, as a terminal runs a command (a Ctrl-C there signals the group: `process.kill(-pid)`).
 */
export function startFareCluster(args: readonly string[], env?: NodeJS.ProcessEnv, bin = join(import.meta.dirname, '..', 'bin', 'fare.js'), group = false): Promise<ClusterProcess> {
  const child = spawn(process.execPath, [bin, 'cluster', 'up', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: group, ...(env !== undefined ? { env } : {}) });
  let out = '';
  const output = (): string => out;
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no endpoint after 60 s:\n${out}`)), 60_000);
    child.stdout?.on('data', () => {
      const m = /Fare cluster is up: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done({ child, url: m[1] as string, output });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`fare cluster up exited (${String(code ?? signal)}) before it was ready:\n${out}`));
    });
  });
}
