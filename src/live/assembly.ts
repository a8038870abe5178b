// What every live process of Fare sets up the same way: a private data directory with the store and
// the admin credential (`fare up`, `fare gateway`), the machine's report and clean-up before it runs
// instances (`fare up`, `fare worker`), and the examples deployed on a fresh data directory.

import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, sep } from 'node:path';
import { DB_FILE, openStore, stageCode, type CodeFile, type Store } from './store/index.ts';
import { capabilities, describeCapabilities, isolatesTenants, type Capabilities } from './runtime/capabilities.ts';
import { startLauncher } from './runtime/launcher.ts';
import { reapStaleGroups } from './runtime/cgroups.ts';
import { allowedCpus, formatCpuList, functionCpus, openFunctionCpuset, type FunctionCpuset } from './runtime/cpus.ts';
import { reapStaleWorkDirs } from './runtime/workdir.ts';
import { describePeerLookup, peerLookup } from './runtime/peer-uid.ts';
import { canRaisePriority } from './worker/local-executor.ts';
import { IO_IDLE_SHARE, IO_READ_MS } from './worker/machine-driver.ts';
import type { RuntimeName } from './types.ts';
import { PS_QUANTUM_MS, type WithinClass } from '../core/machine/run-queue.ts';

/**
 * Cores the machine scheduler hands out when `--cores` is not given: all but one, which is kept for
 * Fare's own process (gateway, shard, machine scheduler, runtime API). A top-class invocation needs
 * that process as much as its instance; when every core runs functions, the control plane and the
 * instance share a core with the lower classes' work and the top class waits (measured on 2 cores:
 * high-class p99 under a flood 1.5–1.8× its p99 alone, against 1.0–1.1× with a core kept).
 * Like Kubernetes' system-reserved CPU. On a single core there is nothing to keep.
 */
export function defaultCores(machineCores: number): number {
  return Math.max(1, machineCores - 1);
}

/** The file, in the data dir, that holds the admin credential created on first start. */
export const ADMIN_CREDENTIAL_FILE = 'admin-credential';

/**
 * Opens (or creates) a private data directory and its store; on first start makes the admin
 * credential (from `adminKey`, `<id>:<secret>`, or a new one) and writes it to a 0600 file.
 */
/**
 * Opens (or creates) the data directory's store and makes sure an administrator exists. `prepare`
 * runs before that check (a cluster gateway first loads the state the cluster shares).
 * `retentionMs`: invocation records and function logs older than this are deleted in the background
 * (store/retention.ts; `fare up --retention`, `fare gateway --retention`); undefined: kept for ever.
 * `deferRetention`: that clean-up starts when the caller says (`store.retention.start()`), not at open.
 * `clock`: the store's (default Date.now; tests move it on to age records).
 */
export async function openDataDir(
  dataDir: string, fsync: boolean, adminKey: string | undefined, prepare?: (store: Store) => Promise<void>, tuning: { readonly retentionMs?: number | undefined; readonly deferRetention?: boolean; readonly clock?: () => number } = {},
): Promise<{ store: Store; fresh: boolean; adminCredentialFile: string | undefined }> {
  // Everything Fare writes is private to its user from the moment it exists (the data dir, the
  // database and its journal, code, the credential file); instance directories set their own modes.
  process.umask(0o077);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const fresh = !existsSync(join(dataDir, DB_FILE));
  const store = openStore({
    dataDir, fsync, checkpoints: 'background', ...(tuning.retentionMs !== undefined ? { retention: { maxAgeMs: tuning.retentionMs, deferStart: tuning.deferRetention === true } } : {}), ...(tuning.clock !== undefined ? { clock: tuning.clock } : {}),
  });
  try {
    await prepare?.(store);
  } catch (e) {
    store.close();
    throw e;
  }
  const admin = await store.bootstrapAdmin('admin', adminKey === undefined ? undefined : parseKey(adminKey));
  let adminCredentialFile: string | undefined;
  if (admin) {
    adminCredentialFile = join(dataDir, ADMIN_CREDENTIAL_FILE);
    const text = `# Fare's admin credential, created ${new Date().toISOString()}. Keep it secret; delete this file once you have stored it elsewhere.\n` +
      `FARE_KEY=${admin.accessKeyId}:${admin.secret}\nAWS_ACCESS_KEY_ID=${admin.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${admin.secret}\n`;
    writeFileSync(adminCredentialFile, text, { mode: 0o600, flag: 'w' });
  }
  return { store, fresh, adminCredentialFile };
}

export interface HostReport {
  readonly caps: Capabilities;
  /** Instances may run at a lower nice value than Fare. */
  readonly nice: boolean;
  readonly cores: number;
  /** What the machine can do (isolation, cgroups, …), for the start-up report. */
  readonly lines: readonly string[];
  /** Then: kernel priorities, clean-up done, cores. */
  readonly after: readonly string[];
  /** The functions' cpuset, where they are kept to `cores` CPUs of more (close it when the instances are gone). */
  readonly cpuset: FunctionCpuset | undefined;
}

/**
 * Looks at what this machine can do and removes what a Fare that died left behind, before instances
 * run here. `launcher: false`: the launcher is not started here (a worker thread starts its own).
 */
export async function prepareHost(coresOpt: number | undefined, o: { readonly launcher?: boolean } = {}): Promise<HostReport> {
  const caps = capabilities();
  const lines = describeCapabilities(caps);
  if (isolatesTenants(caps)) lines.push(describePeerLookup(await peerLookup()));
  if (o.launcher !== false) lines.push(startLauncher());
  const nice = canRaisePriority();
  const after: string[] = [nice
    ? 'kernel priorities: instances by class from nice −5 (top class) to 0, SCHED_IDLE for the lowest'
    : 'kernel priorities: instances at nice 0 (lowering nice needs root or CAP_SYS_NICE), SCHED_IDLE for the lowest class'];
  const stale = reapStaleGroups(caps.cgroups);
  const staleDirs = reapStaleWorkDirs(caps.instancesDir);
  if (stale > 0 || staleDirs > 0) after.push(`cleanup: removed ${stale} instance group(s) and ${staleDirs} instance director(ies) left by a Fare that died (their processes were killed)`);
  const allowed = allowedCpus() ?? Array.from({ length: availableParallelism() }, (_, i) => i);
  const cores = coresOpt ?? defaultCores(allowed.length);
  const pinned = functionCpus(cores, allowed);
  let cpuset: FunctionCpuset | undefined;
  let where = '';
  if (pinned !== null) {
    const c = openFunctionCpuset(pinned);
    if (c.ok) cpuset = c.set;
    where = c.ok
      ? ` (CPU ${formatCpuList(pinned)}, by a cpuset; the pager pages from there)`
      : ` (on any CPU: ${c.why})`;
  }
  after.push(`cores: ${cores} of ${allowed.length} for functions${where}${cores < allowed.length ? `, the rest kept for Fare's own gateway, shard and runtime API` : ''} (--cores to change)`);
  return { caps, nice, cores, lines, after, cpuset };
}

const EXAMPLES: readonly { name: string; dir: string; runtime: RuntimeName; handler: string; cls: string }[] = [
  { name: 'page-view', dir: 'page-view', runtime: 'nodejs', handler: 'index.handler', cls: 'high' },
  { name: 'profile-view', dir: 'profile-view', runtime: 'python', handler: 'handler.handler', cls: 'middle' },
  { name: 'image-resize', dir: 'image-resize', runtime: 'nodejs', handler: 'index.handler', cls: 'low' },
];

const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'examples', 'functions');

/** Deploys the examples (admin's); returns their names with their classes. */
export async function deployExamples(store: Store): Promise<string[]> {
  const out: string[] = [];
  for (const ex of EXAMPLES) {
    await deployDir(store, 'admin', ex.name, join(EXAMPLES_DIR, ex.dir), { runtime: ex.runtime, handler: ex.handler, cls: ex.cls, timeoutMs: 30_000, env: {} });
    out.push(`${ex.name} (${ex.cls})`);
  }
  return out;
}

function parseKey(key: string): { accessKeyId: string; secret: string } {
  const i = key.indexOf(':');
  if (i <= 0 || i === key.length - 1) {
    throw Object.assign(new Error('FARE_ADMIN_KEY must be "<access key id>:<secret>", e.g. FAREADMIN0000000000:a-long-secret'), { code: 'FARE_E_ADMIN_KEY' });
  }
  return { accessKeyId: key.slice(0, i), secret: key.slice(i + 1) };
}

/** Deploys a function from a directory on this machine (used for the examples and `fare deploy`'s server side). */
export async function deployDir(store: Store, tenant: string, name: string, dir: string, cfg: { runtime: RuntimeName; handler: string; cls: string; timeoutMs: number; env: Record<string, string> }): Promise<void> {
  const files: CodeFile[] = [];
  const hash = createHash('sha256');
  let size = 0;
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(d, entry.name);
      const rel = relative(dir, full).split(sep).join('/');
      if (entry.isDirectory()) {
        files.push({ path: rel, isDir: true, mode: 0o755, read: () => Buffer.alloc(0) });
        walk(full);
      } else if (entry.isFile()) {
        const content = readFileSync(full);
        hash.update(rel).update(content);
        size += content.length;
        files.push({ path: rel, isDir: false, mode: statSync(full).mode & 0o777, read: () => content });
      } else if (entry.isSymbolicLink()) {
        // Kept if it stays inside the code (stageCode checks), as in an uploaded zip.
        const target = readlinkSync(full);
        hash.update(rel).update(`-> ${target}`);
        files.push({ path: rel, isDir: false, mode: 0o777, symlink: target, read: () => Buffer.from(target) });
      }
    }
  };
  walk(dir);
  const staged = await stageCode(store.dataDir, files);
  store.functions.deploy(tenant, name, cfg, { stagedDir: staged, sha256: hash.digest('hex'), size });
}

const WITHIN_WORDS: Record<WithinClass, string> = {
  fcfs: 'first come, first served (the paper\'s)',
  las: 'least attained service (a new call preempts the one of its class that has run longest)',
  sef: 'shortest expected first (by each function\'s observed durations)',
  ps: `processor sharing, round robin (a call that has run ${PS_QUANTUM_MS} ms gives its core to the next of its class)`,
};

/** The start-up line that says the machine scheduler's order within a class. */
export function describeWithin(within: WithinClass): string {
  return `order within a class: ${WITHIN_WORDS[within]} (--within-class to change)`;
}

/**
 * The start-up line that says how a call waiting on I/O gives its core up (machine-driver.ts);
 * `lowers`: its kernel priority drops meanwhile (classes matter on the machine, and the priority
 * can be given back: strict priorities, or root).
 */
export function describeIoWaits(lowers: boolean): string {
  return `I/O waits: a call that uses under ${Math.round(IO_IDLE_SHARE * 100)} % of its core for ${IO_READ_MS} ms, asleep (waiting on a database, a service, a timer), gives the core to the next call until it computes again${lowers ? ' (meanwhile, below the top class, at SCHED_IDLE)' : ''}`;
}
