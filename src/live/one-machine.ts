// Fare on one machine (`fare up`): the gateway, one scheduler shard and one worker in one process,
// all state in one SQLite file under the data directory. The shard and the machine scheduler are the
// policy core's `Shard` and `Machine` driven in real time; instances are real processes.

import { availableParallelism, getPriority, setPriority } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, sep } from 'node:path';
import { DEFAULT_PRICE_TABLE, type PriceTable } from '../core/classes.ts';
import { kernelPriority } from '../core/kernel-priority.ts';
import { Rng } from '../core/rng.ts';
import { Shard } from '../core/shard/shard.ts';
import { Machine } from '../core/machine/machine.ts';
import { policyPreset } from '../core/presets.ts';
import { DB_FILE, LOG_TEXT_MAX_BYTES, openStore, stageCode, type CodeFile, type Store } from './store/index.ts';
import { AsyncRunner, createGateway, type Gateway, type Platform, type PlatformResult } from './gateway/index.ts';
import { InstancePool } from './runtime/pool.ts';
import { capabilities, describeCapabilities, isolatesTenants } from './runtime/capabilities.ts';
import { reapStaleGroups } from './runtime/cgroups.ts';
import { reapStaleWorkDirs } from './runtime/workdir.ts';
import { describePeerLookup, peerLookup } from './runtime/peer-uid.ts';
import { MachineDriver, type Executor } from './worker/machine-driver.ts';
import { ShardHost } from './shard/shard-host.ts';
import { SchedulerClient } from './gateway/scheduler-client.ts';
import { InProcessBus } from './transport/in-process.ts';
import { realClock } from './transport/clock.ts';
import type { InvokeRequest, RuntimeName } from './types.ts';

export type LivePolicy = 'fare' | 'hermod' | 'fifo';

export interface UpOptions {
  readonly dataDir: string;
  readonly host: string;
  /** 0 picks a free port (see `Running.port`). */
  readonly port: number;
  readonly policy: LivePolicy;
  /** Cores the machine scheduler hands out to functions (default: the machine's, less one kept for Fare itself; see `defaultCores`). */
  readonly cores?: number;
  /** `<access key id>:<secret>` for the admin credential (FARE_ADMIN_KEY); otherwise one is made and shown once. */
  readonly adminKey?: string;
  /** Deploy the examples on an empty data directory (default true). */
  readonly examples?: boolean;
  /** SCHED_FIFO by class instead of SCHED_IDLE for the cheapest class only. */
  readonly strictPriorities?: boolean;
  readonly prices?: PriceTable;
  /** fsync every commit (survives power loss, not only a crash of Fare); slower. */
  readonly fsync?: boolean;
  /**
   * Serve several tenants even where the machine cannot keep them apart (no instance sandbox): they
   * can then read and signal each other's instances. Without it, such a machine serves one tenant
   * besides the administrators' own.
   */
  readonly insecureSingleTenant?: boolean;
  readonly log?: (line: string) => void;
  /** Security events worth an operator's attention (default: a line on stderr). */
  readonly warn?: (line: string) => void;
}

export interface Running {
  readonly url: string;
  readonly port: number;
  readonly policy: LivePolicy;
  /**
   * Where the admin credential created by this start was written (0600, in the data dir), so it is
   * never printed to a stream that may be logged; undefined when none was created.
   */
  readonly adminCredentialFile: string | undefined;
  /** Paths of the data dir that were readable by other users and were made private at start. */
  readonly tightened: readonly string[];
  readonly capabilities: readonly string[];
  readonly examples: readonly string[];
  readonly store: Store;
  close(): Promise<void>;
}

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

/** May this process give its instances a lower nice value (root or CAP_SYS_NICE)? Tries one step on itself and undoes it. */
function canRaisePriority(): boolean {
  const own = getPriority(0);
  try {
    setPriority(0, own - 1);
  } catch {
    return false;
  }
  setPriority(0, own);
  return true;
}

const EXAMPLES: readonly { name: string; dir: string; runtime: RuntimeName; handler: string; cls: string }[] = [
  { name: 'page-view', dir: 'page-view', runtime: 'nodejs', handler: 'index.handler', cls: 'high' },
  { name: 'profile-view', dir: 'profile-view', runtime: 'python', handler: 'handler.handler', cls: 'middle' },
  { name: 'image-resize', dir: 'image-resize', runtime: 'nodejs', handler: 'index.handler', cls: 'low' },
];

const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'examples', 'functions');

/** The file, in the data dir, that holds the admin credential created on first start. */
export const ADMIN_CREDENTIAL_FILE = 'admin-credential';

export async function up(opts: UpOptions): Promise<Running> {
  const log = opts.log ?? (() => {});
  const warn = opts.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const prices = opts.prices ?? DEFAULT_PRICE_TABLE;
  // Everything Fare writes is private to its user from the moment it exists (the data dir, the
  // database and its journal, code, the credential file); instance directories set their own modes.
  process.umask(0o077);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const fresh = !existsSync(join(opts.dataDir, DB_FILE));
  const store = openStore({ dataDir: opts.dataDir, fsync: opts.fsync ?? false, checkpoints: 'background' });
  const admin = await store.bootstrapAdmin('admin', opts.adminKey === undefined ? undefined : parseKey(opts.adminKey));
  let adminCredentialFile: string | undefined;
  if (admin) {
    adminCredentialFile = join(opts.dataDir, ADMIN_CREDENTIAL_FILE);
    const text = `# Fare's admin credential, created ${new Date().toISOString()}. Keep it secret; delete this file once you have stored it elsewhere.\n` +
      `FARE_KEY=${admin.accessKeyId}:${admin.secret}\nAWS_ACCESS_KEY_ID=${admin.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${admin.secret}\n`;
    writeFileSync(adminCredentialFile, text, { mode: 0o600, flag: 'w' });
  }

  const caps = capabilities();
  const capLines = describeCapabilities(caps);
  if (isolatesTenants(caps)) capLines.push(describePeerLookup(await peerLookup()));
  const tenancy = isolatesTenants(caps) || opts.insecureSingleTenant === true ? 'multi' : 'single';
  if (!isolatesTenants(caps)) {
    const served = store.tenants.list().filter((t) => t.id !== 'admin');
    capLines.push(tenancy === 'single'
      ? 'tenants: ONE besides admin, as this machine cannot isolate them (--insecure-single-tenant to serve more, unsafely)'
      : 'tenants: several, WITHOUT isolation between them (--insecure-single-tenant): they can read each other\'s data');
    if (tenancy === 'single' && served.length > 1) {
      store.close();
      throw Object.assign(new Error(
        `FARE_E_SINGLE_TENANT: this machine cannot keep tenants apart (${caps.sandbox.why}), and the data dir holds ${served.length} tenants besides admin (${served.map((t) => t.id).join(', ')}): ` +
        'run Fare as root on Linux with a C compiler for its sandbox helper, or start with --insecure-single-tenant to serve them anyway (they could then read each other\'s data)'), { code: 'FARE_E_SINGLE_TENANT' });
    }
  }
  const nice = canRaisePriority();
  capLines.push(nice
    ? 'kernel priorities: instances by class from nice −5 (top class) to 0, SCHED_IDLE for the lowest'
    : 'kernel priorities: instances at nice 0 (lowering nice needs root or CAP_SYS_NICE), SCHED_IDLE for the lowest class');
  const stale = reapStaleGroups(caps.cgroups);
  const staleDirs = reapStaleWorkDirs(caps.instancesDir);
  if (stale > 0 || staleDirs > 0) capLines.push(`cleanup: removed ${stale} instance group(s) and ${staleDirs} instance director(ies) left by a Fare that died (their processes were killed)`);
  const cores = opts.cores ?? defaultCores(availableParallelism());
  capLines.push(`cores: ${cores} of ${availableParallelism()} for functions${cores < availableParallelism() ? `, the rest kept for Fare's own gateway, shard and runtime API` : ''} (--cores to change)`);
  const root = new Rng(0, 'live');
  const policy = opts.policy;
  const preset = policyPreset(policy, { idleList: false });

  const pool = new InstancePool({
    maxInstances: Math.max(64, cores * 32),
    idleTimeoutMs: 10 * 60_000,
    // An invocation's output is kept up to what its stored log entry holds (`fare logs NAME`), less room for START/END/REPORT.
    instanceOptions: {
      logTailBytes: LOG_TEXT_MAX_BYTES - 1024,
      onRefused: (instance, r) => warn(`fare: refused ${r.method} ${r.path} on the Runtime API of instance ${instance} (${r.reason}; peer ${r.remoteAddress}:${r.remotePort}, found by ${r.mechanism})`),
    },
    onStart: (requestId, instance) => {
      // Kernel priorities as an assist to the machine scheduler (only where classes matter on the machine).
      if (!preset.classAware) return;
      const cls = classOf.get(requestId);
      if (cls === undefined) return;
      const p = kernelPriority(cls, prices.classes.length, { strict: opts.strictPriorities === true, canRaise: nice });
      switch (p.kind) {
        case 'fifo':
          void instance.setPriority('fifo', p.priority);
          break;
        case 'idle':
          void instance.setPriority('idle');
          break;
        case 'nice':
          void instance.setPriority('nice', p.nice);
          break;
        case 'none':
          break;
      }
    },
  });
  const classOf = new Map<string, number>();
  const exec: Executor = {
    run: async (req) => {
      classOf.set(req.requestId, req.cls);
      try {
        return await pool.invoke(req);
      } finally {
        classOf.delete(req.requestId);
      }
    },
    pause: (id) => pool.pause(id),
    resume: (id) => pool.resume(id),
  };
  // The gateway, shard 0 and worker 0 as the parts of a cluster of one, talking only through the Bus.
  const bus = new InProcessBus({ clock: realClock });
  const machine = new Machine({
    id: 0, cores, policy: preset.machine, classes: prices.classes.length, memoryMB: Infinity,
    swap: { enabled: false, targetFraction: 0.95 }, dispatcher: undefined,
  }, root.fork('machine/0'));
  const worker = new MachineDriver(machine, exec, bus, realClock);
  worker.start();
  const shard = new Shard({ id: 0, prices, selection: preset.selection, machines: 1, k: 1, useIdleList: preset.idleList, maxOutstandingPolls: 1024 }, root.fork('shard/0'));
  const shardHost = new ShardHost(shard, bus, realClock);
  const scheduler = new SchedulerClient(bus, realClock, { id: 0, shards: 1 });
  const fnIds = new Map<string, number>();
  const fnId = (req: InvokeRequest): number => {
    const key = `${req.fn.tenant}/${req.fn.name}`;
    let id = fnIds.get(key);
    if (id === undefined) fnIds.set(key, (id = fnIds.size));
    return id;
  };

  const late: { runner?: AsyncRunner } = {};
  const platform: Platform = {
    prices,
    async invoke(req): Promise<PlatformResult> {
      // A caller waiting for this call gives up its core until the answer (else a chain of calls as
      // deep as the cores would deadlock).
      const ended = req.waitingCaller === undefined ? undefined : scheduler.callStarted(req.waitingCaller);
      try {
        return await scheduler.invoke(req, fnId(req));
      } catch (e) {
        if ((e as { code?: string }).code === 'FARE_E_POOL_FULL') {
          return { status: 'throttled', retryAfterS: 1, reason: 'ConcurrentInvocationLimitExceeded' };
        }
        throw e;
      } finally {
        ended?.();
      }
    },
    enqueued: () => late.runner?.wake(),
    tenancy,
    functionChanged: (tenant, name, version) => {
      if (version === null) pool.retireAll(tenant, name);
      else pool.retire(tenant, name, version);
    },
  };
  const gateway: Gateway = createGateway({ store, platform });
  const runner = new AsyncRunner({ store, platform, contexts: gateway.context.contexts });
  late.runner = runner;

  const examples: string[] = [];
  if (fresh && opts.examples !== false) {
    for (const ex of EXAMPLES) {
      await deployDir(store, 'admin', ex.name, join(EXAMPLES_DIR, ex.dir), { runtime: ex.runtime, handler: ex.handler, cls: ex.cls, timeoutMs: 30_000, env: {} });
      examples.push(`${ex.name} (${ex.cls})`);
    }
  }

  await gateway.listen(opts.port, opts.host);
  const address = gateway.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  runner.wake();
  const reaper = setInterval(() => pool.reap(), 30_000);
  reaper.unref();
  log(`Fare is up on ${url} (policy ${policy}, ${cores} cores, data in ${opts.dataDir})`);

  let closing: Promise<void> | undefined;
  return {
    url, port, policy, store,
    adminCredentialFile,
    tightened: store.tightened,
    capabilities: capLines,
    examples,
    close: () => (closing ??= (async () => {
      clearInterval(reaper);
      await runner.stop();
      await gateway.close();
      await pool.close();
      scheduler.close();
      shardHost.close();
      worker.close();
      store.close();
    })()),
  };
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
