// The attacker's bench: a real `fare up` with two tenants — `victim`, whose function holds a secret,
// and `mallory`, who deploys hostile functions (Node.js, Python and a `provided` shell bootstrap) —
// and what a test needs to aim an attack: invoke as either tenant, find an instance's cgroups, its
// processes' host pids and its directory (an attacker's worst-case knowledge).

import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { capabilities } from '../../src/live/runtime/capabilities.ts';
import { writeZip, type ZipInput } from '../../src/live/gateway/zip-writer.ts';
import { api, startFare, stopFare, type FareProcess } from '../../support/fare-process.ts';

export const FUNCTIONS = join(import.meta.dirname, 'functions');

/** Why the attacks cannot be tried here, or null when they can (root, Linux, the sandbox helper). */
export function cannotAttack(): string | null {
  const caps = capabilities();
  if (!caps.root) return 'needs root: instances get their own uids and namespaces only when Fare runs as root';
  if (caps.sandbox.helper === null) return `the instance sandbox is unavailable here (${caps.sandbox.why})`;
  return null;
}

/** Skips a suite with the reason printed (never a silent pass). */
export function skipReason(what: string): string | null {
  const why = cannotAttack();
  if (why !== null) console.log(`SKIPPED ${what}: ${why}`);
  return why;
}

export interface Tenant {
  readonly id: string;
  readonly key: string;
}

export interface Bench {
  readonly fare: FareProcess;
  readonly dataDir: string;
  readonly victim: Tenant;
  readonly mallory: Tenant;
  stop(): Promise<void>;
}

/**
 * Where the benches' data dirs go: a folder every user may pass through, and not one the sandbox
 * covers with the instance's private /tmp — so only the data dir's own modes keep an attacker out.
 */
export const DATA_PARENT = '/var/lib/fare-tests';

export async function startBench(args: readonly string[] = [], tenantOpts: Record<string, unknown> = {}): Promise<Bench> {
  mkdirSync(DATA_PARENT, { recursive: true, mode: 0o755 });
  chmodSync(DATA_PARENT, 0o755);
  const dataDir = mkdtempSync(join(DATA_PARENT, 'fare-sec-'));
  // Without the sandbox Fare serves one tenant besides admin: the tests that need no sandbox (budgets,
  // contexts) still run, by saying so; the others skip.
  const single = cannotAttack() !== null ? ['--insecure-single-tenant'] : [];
  const fare = await startFare(dataDir, ['--no-examples', ...single, ...args]);
  const tenant = async (id: string, extra: Record<string, unknown> = {}): Promise<Tenant> => {
    const r = await api(fare.url, 'POST', '/v1/tenants', { id, ...extra });
    if (r.status !== 201) throw new Error(`creating tenant ${id}: ${r.status} ${JSON.stringify(r.json)}`);
    const c = (r.json as { credential: { accessKeyId: string; secret: string } }).credential;
    return { id, key: `${c.accessKeyId}:${c.secret}` };
  };
  const victim = await tenant('victim');
  const mallory = await tenant('mallory', tenantOpts);
  return {
    fare, dataDir, victim, mallory,
    async stop() {
      await stopFare(fare);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The zip of a folder under functions/ (files keep their executable bit), plus extra files. */
export function zipOf(dir: string, extra: readonly ZipInput[] = []): Buffer {
  const root = join(FUNCTIONS, dir);
  const entries: ZipInput[] = readdirSync(root).map((f) => {
    const path = join(root, f);
    return { path: f, data: readFileSync(path), mode: f === 'bootstrap' ? 0o755 : 0o644 };
  });
  return writeZip([...entries, ...extra]);
}

export async function deploy(b: Bench, t: Tenant, name: string, dir: string, cfg: { runtime: string; handler: string; class?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<void> {
  const r = await api(b.fare.url, 'PUT', `/v1/functions/${name}`, { class: 'standard', timeoutMs: 30_000, ...cfg, zipBase64: zipOf(dir).toString('base64') }, t.key);
  if (r.status >= 300) throw new Error(`deploying ${t.id}/${name}: ${r.status} ${JSON.stringify(r.json)}`);
}

export interface Invoked {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The function's answer, parsed. */
  readonly body: unknown;
}

/** A synchronous invocation through the Lambda Invoke API, as tenant `t` (Bearer). */
export async function invoke(b: Bench, t: Tenant, name: string, event: unknown, headers: Record<string, string> = {}): Promise<Invoked> {
  const res = await fetch(`${b.fare.url}/2015-03-31/functions/${name}/invocations`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${t.key}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(event),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** The answer of an invocation that must succeed, as an object. */
export async function run(b: Bench, t: Tenant, name: string, event: unknown, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const r = await invoke(b, t, name, event, headers);
  if (r.status !== 200 || r.headers.get('x-amz-function-error') !== null) throw new Error(`${t.id}/${name} failed: ${r.status} ${r.text.slice(0, 2000)}`);
  return r.body as Record<string, unknown>;
}

/** The cgroup directories of the live instances of `name` in Fare process `pid` (instance ids start with the function's name). */
export function instanceGroups(fare: FareProcess, name: string): string[] {
  const caps = capabilities();
  const parents = [...Object.values(caps.cgroups.v1), ...(caps.cgroups.v2 ? [caps.cgroups.v2.dir] : [])];
  const out: string[] = [];
  const pid = fare.child.pid ?? -1;
  for (const p of parents) {
    let names: string[];
    try {
      names = readdirSync(p);
    } catch {
      continue;
    }
    for (const n of names) if (n.startsWith(`${name}-v`) && n.includes(`-p${pid}-`)) out.push(join(p, n));
  }
  return out;
}

/** Host pids of every process of the live instances of `name`. */
export function instancePids(fare: FareProcess, name: string): number[] {
  const pids = new Set<number>();
  for (const g of instanceGroups(fare, name)) {
    try {
      for (const l of readFileSync(join(g, 'cgroup.procs'), 'utf8').split('\n')) if (l !== '') pids.add(Number(l));
    } catch {
      // gone
    }
  }
  return [...pids];
}

/** The instance ids (directory names) of the live instances of `name`. */
export function instanceIds(fare: FareProcess, name: string): string[] {
  return [...new Set(instanceGroups(fare, name).map((g) => g.slice(g.lastIndexOf('/') + 1)))];
}

/** CPU time used so far by the instances of `name` (ms), from their cpuacct group. */
export function instanceCpuMs(fare: FareProcess, name: string): number {
  const g = instanceGroups(fare, name).find((d) => d.includes('/cpuacct/'));
  if (g === undefined) return NaN;
  return Number(readFileSync(join(g, 'cpuacct.usage'), 'utf8')) / 1e6;
}

/** Pids of processes running as `uid` anywhere on the machine. */
export function processesOf(uid: number): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${n}/status`, 'utf8'));
      if (m && Number(m[1]) === uid) out.push(Number(n));
    } catch {
      // exited
    }
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
