// What this machine lets the worker do with function processes, probed once: cgroups (which version,
// which controllers are writable), the freezer, real-time and idle scheduling (how priorities are
// set — sched_setscheduler through koffi, else chrt — tried on a short-lived child process, never
// on Fare's own threads), the instance sandbox (own uid, namespaces), and the interpreters. Every
// mechanism has a fallback; `describeCapabilities` says in one line each which one is in use, for
// Fare's start-up message, and `isolatesTenants` whether tenants are kept apart.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { chooseMechanisms, type CgroupParents, type Mechanisms, probeCgroupParents } from './cgroups.ts';
import { schedSetter, schedSetterUnavailable, type SchedSetter } from './priority.ts';
import { executableBy, findExecutable, type RunAs, schedPolicy } from './proc.ts';
import { DEFAULT_MAX_TASKS, probeSandbox, type SandboxSupport } from './sandbox.ts';
import { DEFAULT_UID_RANGE, subordinateOverlaps, type UidRange } from './uids.ts';

export interface Capabilities {
  readonly root: boolean;
  /**
   * The user function code runs as without the sandbox: `nobody` (or the configured user) when root,
   * else null (as ourselves). With the sandbox each instance has its own uid from `uidRange`.
   */
  readonly runAs: RunAs | null;
  /** The instance sandbox (own uid and namespaces per instance), when the machine allows it. */
  readonly sandbox: SandboxSupport;
  /** Uids (and gids) instances get under the sandbox. */
  readonly uidRange: UidRange;
  /** Where instance directories go: outside every place the sandbox covers with a private scratch dir. */
  readonly instancesDir: string;
  /** Tasks (processes + threads) one instance may have, where a pids controller is writable. */
  readonly maxTasks: number;
  /** `setpriv`, used to join the instance's cgroups as root and then drop to `runAs` before exec. */
  readonly setpriv: string | null;
  readonly cgroups: CgroupParents;
  readonly mechanisms: Mechanisms;
  /** How scheduling policies are set (priority.ts), and whether each could be set on a test process. */
  readonly sched: SchedSupport;
  /** Interpreters that `runAs` can execute (absolute paths), or null. */
  readonly node: string | null;
  readonly python3: string | null;
  /** Clock ticks per second, for /proc CPU times. */
  readonly clockTicks: number;
  /** `curl` on PATH (custom runtimes written as shell scripts often need it). */
  readonly curl: string | null;
}

/**
 * How instances' scheduling policies are set: `sched_setscheduler` — sched_setscheduler(2) called
 * in Fare through koffi (`schedSetter()`, no child process); `chrt` — its fallback, `chrt -a -p`
 * per process; `none`. `idle`/`fifo`: whether that mechanism put a test process in SCHED_IDLE and
 * in SCHED_FIFO (checked in /proc).
 */
export interface SchedSupport {
  readonly mechanism: 'sched_setscheduler' | 'chrt' | 'none';
  /** `chrt`'s path (null: not found); used only when the mechanism is `chrt`. */
  readonly chrt: string | null;
  readonly idle: boolean;
  readonly fifo: boolean;
  /** Why sched_setscheduler through koffi is not used ('' when it is). */
  readonly why: string;
  /** Why SCHED_FIFO could not be set (the errno), '' when it could or is not known. */
  readonly fifoError: string;
}

export interface ProbeOptions {
  /** User to run functions as when root (default: `nobody`, 65534/65534). */
  readonly runAs?: RunAs;
  /** Name of the Fare parent group under this process's own group (default `fare`). */
  readonly cgroupName?: string;
  /** Instance uids (default 100000–165535). */
  readonly uidRange?: UidRange;
  /** Instance directories (default `/var/lib/fare/instances` with the sandbox, else `<tmp>/fare-instances`). */
  readonly instancesDir?: string;
  readonly maxTasks?: number;
}

const NOBODY: RunAs = { uid: 65534, gid: 65534 };

function nobody(): RunAs {
  const r = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' });
  const uid = Number(r.stdout.trim());
  const gid = Number(g.stdout.trim());
  return r.status === 0 && g.status === 0 && Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : NOBODY;
}

function trySched(chrt: string, args: readonly string[]): boolean {
  return spawnSync(chrt, [...args, 'true'], { stdio: 'ignore', timeout: 2000 }).status === 0;
}

const SCHED_FIFO = 1;
const SCHED_IDLE = 5;

/**
 * Whether `set` puts a process in SCHED_IDLE and in SCHED_FIFO, each read back from /proc: tried on
 * a short-lived child (`sleep`), never on Fare's own threads, and the child killed after.
 */
export function probeSchedSetter(set: SchedSetter): { idle: boolean; fifo: boolean; fifoError: string } {
  let child: ChildProcess;
  try {
    child = spawn('sleep', ['60'], { stdio: 'ignore' });
  } catch (e) {
    return { idle: false, fifo: false, fifoError: `no test process (sleep: ${(e as Error).message})` };
  }
  child.on('error', () => undefined);
  child.unref();
  const pid = child.pid;
  if (pid === undefined || pid <= 1) return { idle: false, fifo: false, fifoError: 'no test process (sleep could not be started)' };
  try {
    const idle = set(pid, 'idle', 0) === '' && schedPolicy(pid) === SCHED_IDLE;
    const err = set(pid, 'fifo', 1);
    const fifo = err === '' && schedPolicy(pid) === SCHED_FIFO;
    return { idle, fifo, fifoError: fifo ? '' : err === 'errno 1' ? 'errno 1 (EPERM): needs root or CAP_SYS_NICE' : err };
  } finally {
    if (pid > 1) child.kill('SIGKILL');
  }
}

/** How priorities are set here: sched_setscheduler through koffi, else chrt, each probed on a test process. */
export function probeSched(setter: SchedSetter | null = schedSetter()): SchedSupport {
  const chrt = findExecutable('chrt', null);
  if (setter !== null) return { mechanism: 'sched_setscheduler', chrt, ...probeSchedSetter(setter), why: '' };
  const why = schedSetterUnavailable() || 'not given';
  if (chrt === null) return { mechanism: 'none', chrt, idle: false, fifo: false, why, fifoError: '' };
  return { mechanism: 'chrt', chrt, idle: trySched(chrt, ['--idle', '0']), fifo: trySched(chrt, ['--fifo', '1']), why, fifoError: '' };
}

/** Probes the machine (spawns a few short commands and creates/removes probe cgroups). */
export function probeCapabilities(opts: ProbeOptions = {}): Capabilities {
  const root = process.getuid?.() === 0;
  const runAs = root ? (opts.runAs ?? nobody()) : null;
  const setpriv = root ? findExecutable('setpriv', null) : null;
  const cgroups = probeCgroupParents(opts.cgroupName);
  const sched = probeSched();
  const node = executableBy(process.execPath, runAs) ? process.execPath : findExecutable('node', runAs);
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim());
  const sandbox = probeSandbox(root);
  return {
    root,
    runAs,
    sandbox,
    uidRange: opts.uidRange ?? DEFAULT_UID_RANGE,
    // Not under /tmp: the sandbox covers /tmp (and the other shared places) with the instance's scratch dir.
    instancesDir: opts.instancesDir ?? process.env['FARE_INSTANCES_DIR'] ?? (sandbox.helper !== null ? '/var/lib/fare/instances' : join(tmpdir(), 'fare-instances')),
    maxTasks: opts.maxTasks ?? DEFAULT_MAX_TASKS,
    setpriv,
    cgroups,
    mechanisms: chooseMechanisms(cgroups),
    sched,
    node,
    python3: findExecutable('python3', runAs),
    clockTicks: Number.isInteger(ticks) && ticks > 0 ? ticks : 100,
    curl: findExecutable('curl', runAs),
  };
}

/**
 * Whether tenants are kept apart: every instance in its own sandbox. Without it (not root, no C
 * compiler for the helper, no namespaces) all instances share one user and can read and signal each
 * other, so Fare serves one tenant only unless told `--insecure-single-tenant`.
 */
export function isolatesTenants(c: Capabilities): boolean {
  return c.sandbox.helper !== null;
}

let cached: Capabilities | null = null;

/** The probe, run once per process. */
export function capabilities(): Capabilities {
  cached ??= probeCapabilities();
  return cached;
}

/** The start-up line on priorities: the mechanism, why not the preferred one, and which policies it can set. */
export function describeSched(s: SchedSupport): string {
  const policies = `SCHED_IDLE ${s.idle ? 'yes' : 'no'}, SCHED_FIFO ${s.fifo ? 'yes' : `no (${s.fifoError !== '' ? `${s.fifoError}; ` : ''}strict mode unavailable)`}`;
  switch (s.mechanism) {
    case 'sched_setscheduler':
      return `priorities: sched_setscheduler(2) through koffi, on every thread: ${policies}`;
    case 'chrt':
      return `priorities: chrt -a -p per process (sched_setscheduler through koffi unavailable: ${s.why}): ${policies}`;
    case 'none':
      return `priorities: none (sched_setscheduler through koffi unavailable: ${s.why}; chrt not found)`;
    default: {
      const never: never = s.mechanism;
      throw new Error(`unknown priority mechanism ${String(never)}`);
    }
  }
}

/** One human-readable line per mechanism, saying which one is used and why a fallback was taken. */
export function describeCapabilities(c: Capabilities): string[] {
  const v1 = Object.keys(c.cgroups.v1);
  const v2 = c.cgroups.v2;
  const lines: string[] = [];
  lines.push(
    `cgroups: ${[v1.length > 0 ? `v1 writable (${v1.join(', ')})` : 'no writable v1 controller', v2 ? `v2 writable at ${v2.dir}${v2.memory ? '' : ' (no memory controller delegated)'}` : 'no writable v2 group'].join('; ')}`,
  );
  const m = c.mechanisms;
  lines.push(
    `preemption: ${m.freezer === 'cgroup-v1' ? 'cgroup v1 freezer' : m.freezer === 'cgroup-v2' ? 'cgroup v2 freezer (cgroup.freeze)' : 'SIGSTOP/SIGCONT on the process group (no writable freezer cgroup)'}`,
  );
  lines.push(
    `cpu accounting: ${m.cpu === 'cgroup-v1' ? 'cgroup v1 cpuacct.usage' : m.cpu === 'cgroup-v2' ? 'cgroup v2 cpu.stat usage_usec' : `/proc/<pid>/stat utime+stime over the process group (no cpu cgroup; ${1000 / c.clockTicks} ms resolution)`}`,
  );
  lines.push(
    `memory accounting: ${m.memory === 'cgroup-v1' ? 'cgroup v1 memory.usage_in_bytes' : m.memory === 'cgroup-v2' ? 'cgroup v2 memory.current' : '/proc/<pid>/status VmRSS of the runtime process (no memory cgroup)'}, sampled every 10 ms`,
  );
  lines.push(describeSched(c.sched));
  if (c.sandbox.helper !== null) {
    const overlaps = subordinateOverlaps(c.uidRange);
    lines.push(
      `isolation: each instance in its own sandbox — its own uid/gid (from ${c.uidRange.first}), PID, mount and IPC namespaces, a read-only file system, a private /tmp (fare-sandbox)` +
        (overlaps.length > 0 ? `; WARNING: the uid range overlaps ${overlaps.join(', ')}: give Fare another range` : ''),
    );
  } else {
    lines.push(
      c.root && c.runAs
        ? `isolation: NONE between tenants (${c.sandbox.why}): every function runs as uid ${c.runAs.uid}/gid ${c.runAs.gid}${c.setpriv ? ' (setpriv after joining cgroups)' : ' (no setpriv: cgroups are joined just after spawn)'}`
        : `isolation: NONE between tenants (${c.sandbox.why}): functions run as this user (uid ${userInfo().uid})`,
    );
  }
  lines.push(
    `limits: ${m.pids === 'none' ? 'no pids controller writable: an instance may fork without bound' : `${c.maxTasks} tasks per instance (cgroup ${m.pids === 'cgroup-v1' ? 'v1' : 'v2'} pids)`}; ${m.freezer === 'signals' ? 'idle instances are not frozen (no freezer cgroup)' : 'instances frozen once idle for 10 ms'}; ${m.kill === 'cgroup-v2' ? 'killed whole with cgroup.kill' : 'killed pid by pid'}`,
  );
  lines.push(`runtimes: nodejs ${c.node ?? 'unavailable (no node the function user can run)'}; python ${c.python3 ?? 'unavailable (no python3 the function user can run)'}; provided always`);
  return lines;
}
