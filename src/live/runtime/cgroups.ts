// Control groups for instances: where the cgroup hierarchies are mounted, which of them this process
// may create groups in, and one instance's groups (join, freeze, thaw, read CPU and memory, limit the
// number of tasks, kill everything in them, remove).
//
// Fare's groups live under this process's own group in each hierarchy, in a `fare` parent:
// `<mount>/<own path>/fare/<instance-id>`. Nesting under our own group keeps instances inside
// whatever limits the worker itself runs under (and is what systemd's delegation expects).
//
// Longer than most files here: it speaks both hierarchies (v1 controllers, and a v2 hierarchy with
// or without some of them) for the same few operations, and each operation's v1 and v2 paths are
// easier to check side by side than in two files.

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { alive } from './proc.ts';

export type V1Controller = 'freezer' | 'cpuacct' | 'memory' | 'pids';

/** Where Fare may create groups, found by probing (see capabilities.ts). */
export interface CgroupParents {
  /** cgroup v1: the Fare parent directory per controller that is mounted and writable. */
  readonly v1: Readonly<Partial<Record<V1Controller, string>>>;
  /** cgroup v2: the Fare parent directory, if writable, and which interface files a child gets. */
  readonly v2: {
    readonly dir: string;
    readonly freeze: boolean;
    readonly cpuStat: boolean;
    readonly memory: boolean;
    /** `cgroup.kill` (Linux ≥ 5.14): kills every task of a group at once, forks in flight included. */
    readonly kill?: boolean;
    readonly pids?: boolean;
  } | null;
}

export type FreezerMechanism = 'cgroup-v1' | 'cgroup-v2' | 'signals';
export type AccountingMechanism = 'cgroup-v1' | 'cgroup-v2' | 'proc';
/** How an instance's task count is limited (fork bombs): a pids controller, or not at all. */
export type PidsMechanism = 'cgroup-v1' | 'cgroup-v2' | 'none';
/** How every task of an instance is killed: `cgroup.kill`, or SIGKILL to each pid of its groups. */
export type KillMechanism = 'cgroup-v2' | 'signals';

interface Mount {
  readonly root: string;
  readonly point: string;
  readonly v2: boolean;
  readonly controllers: readonly string[];
}

function mounts(): Mount[] {
  const out: Mount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fstype = post[0];
    const root = pre[3];
    const point = pre[4];
    if (root === undefined || point === undefined) continue;
    const unescape = (s: string): string => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (fstype === 'cgroup2') out.push({ root, point: unescape(point), v2: true, controllers: [] });
    else if (fstype === 'cgroup') out.push({ root, point: unescape(point), v2: false, controllers: (post[2] ?? '').split(',') });
  }
  return out;
}

/** This process's group path per v1 controller and for v2 (key ''). */
function ownPaths(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const path = line.slice(b + 1);
    const ctrls = line.slice(a + 1, b);
    if (ctrls === '') m.set('', path);
    else for (const c of ctrls.split(',')) m.set(c, path);
  }
  return m;
}

function dirOf(mount: Mount, path: string): string {
  const rel = mount.root === '/' ? path : path.startsWith(mount.root) ? path.slice(mount.root.length) : path;
  return join(mount.point, rel);
}

/** Creates and removes a probe group under `parent`; true if that works and `files` appear in it. */
function probe(parent: string, files: readonly string[]): { ok: boolean; present: boolean[] } {
  const created = !existsSync(parent);
  const child = join(parent, `probe-${process.pid}`);
  try {
    mkdirSync(child, { recursive: true });
    const present = files.map((f) => existsSync(join(child, f)));
    rmdirSync(child);
    if (created) tryRmdir(parent);
    return { ok: true, present };
  } catch {
    return { ok: false, present: files.map(() => false) };
  }
}

/** mkdir -p, retried: another worker process may remove the empty `fare` parent in between. */
function mkdirWithRetry(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      mkdirSync(dir, { recursive: true });
      return;
    } catch (e) {
      if (i >= 3 || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

const V1_FILES: Record<V1Controller, string> = { freezer: 'freezer.state', cpuacct: 'cpuacct.usage', memory: 'memory.usage_in_bytes', pids: 'pids.max' };

/** Finds which hierarchies this process can create Fare groups in (creates and removes probe groups). */
export function probeCgroupParents(name = 'fare'): CgroupParents {
  let ms: Mount[];
  let own: Map<string, string>;
  try {
    ms = mounts();
    own = ownPaths();
  } catch {
    return { v1: {}, v2: null };
  }
  const v1: Partial<Record<V1Controller, string>> = {};
  for (const c of ['freezer', 'cpuacct', 'memory', 'pids'] as const) {
    const m = ms.find((x) => !x.v2 && x.controllers.includes(c));
    const path = own.get(c);
    if (!m || path === undefined) continue;
    const parent = join(dirOf(m, path), name);
    const r = probe(parent, [V1_FILES[c]]);
    if (r.ok && r.present[0] === true) v1[c] = parent;
  }
  let v2: CgroupParents['v2'] = null;
  const m2 = ms.find((x) => x.v2);
  const path2 = own.get('');
  if (m2 && path2 !== undefined) {
    const parent = join(dirOf(m2, path2), name);
    const r = probe(parent, ['cgroup.freeze', 'cpu.stat', 'memory.current', 'cgroup.kill', 'pids.max']);
    if (r.ok) {
      v2 = { dir: parent, freeze: r.present[0] === true, cpuStat: r.present[1] === true, memory: r.present[2] === true, kill: r.present[3] === true, pids: r.present[4] === true };
    }
  }
  return { v1, v2 };
}

export interface Mechanisms {
  readonly freezer: FreezerMechanism;
  readonly cpu: AccountingMechanism;
  readonly memory: AccountingMechanism;
  readonly pids: PidsMechanism;
  readonly kill: KillMechanism;
}

/**
 * Which mechanism each job uses, given what is writable. Accounting: v1 first (it is what a hybrid
 * host offers). The freezer: v2 first — idle instances are frozen and thawed for their next
 * invocation, preempted ones too, and on the test machine a v2 `cgroup.freeze` write takes ≈ 25 µs
 * where a v1 `freezer.state` write takes ≈ 1.5 ms; v2 frozen tasks can also be killed without a thaw.
 */
export function chooseMechanisms(p: CgroupParents): Mechanisms {
  return {
    freezer: p.v2?.freeze === true ? 'cgroup-v2' : p.v1.freezer !== undefined ? 'cgroup-v1' : 'signals',
    cpu: p.v1.cpuacct !== undefined ? 'cgroup-v1' : p.v2?.cpuStat === true ? 'cgroup-v2' : 'proc',
    memory: p.v1.memory !== undefined ? 'cgroup-v1' : p.v2?.memory === true ? 'cgroup-v2' : 'proc',
    pids: p.v1.pids !== undefined ? 'cgroup-v1' : p.v2?.pids === true ? 'cgroup-v2' : 'none',
    kill: p.v2?.kill === true ? 'cgroup-v2' : 'signals',
  };
}

/**
 * A cgroup interface file kept open: read whole with one pread from offset 0, written with one
 * write. A quarter of the cost of opening it per access (measured ≈ 2.6 µs against 11 µs), which
 * adds up on the invocation path (CPU and memory readings at start and end, freeze and thaw).
 */
class KernelFile {
  private fd: number | null = null;
  private static readonly buf = Buffer.alloc(4096);

  constructor(readonly path: string, private readonly writable = false) {}

  read(): string {
    const n = readSync(this.open(), KernelFile.buf, 0, KernelFile.buf.length, 0);
    return KernelFile.buf.toString('latin1', 0, n);
  }

  write(text: string): void {
    writeSync(this.open(), text, 0);
  }

  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = null;
  }

  private open(): number {
    return (this.fd ??= openSync(this.path, this.writable ? 'r+' : 'r'));
  }
}

/** One instance's groups: created before its process starts, removed after it has exited. */
export class InstanceCgroups {
  private readonly freezerDir: string | null;
  private readonly cpuFile: KernelFile | null;
  private readonly memFile: KernelFile | null;
  /** freezer.state (v1) or cgroup.freeze (v2), and where the v2 freezer reports its state. */
  private readonly freezeFile: KernelFile | null;
  private readonly eventsFile: KernelFile | null;
  /** The group's directory in each hierarchy it uses. */
  readonly dirs: readonly string[];
  private readonly parents: string[];

  private readonly freezer: FreezerMechanism;
  private readonly cpu: AccountingMechanism;
  /** `cgroup.kill` of the v2 group, when the kernel has it. */
  private readonly killFile: string | null;

  private constructor(private readonly mech: Mechanisms, private readonly byKey: ReadonlyMap<V1Controller | 'v2', string>, private readonly maxTasks?: number) {
    const dirs = byKey;
    this.freezer = mech.freezer;
    this.cpu = mech.cpu;
    const v2 = dirs.get('v2');
    this.killFile = mech.kill === 'cgroup-v2' && v2 !== undefined ? join(v2, 'cgroup.kill') : null;
    this.dirs = [...new Set(dirs.values())];
    this.parents = [...new Set([...dirs.values()].map((d) => join(d, '..')))];
    const at = (k: V1Controller | 'v2', file: string, writable = false): KernelFile | null => {
      const d = dirs.get(k);
      return d === undefined ? null : new KernelFile(join(d, file), writable);
    };
    this.freezerDir = mech.freezer === 'cgroup-v1' ? (dirs.get('freezer') ?? null) : mech.freezer === 'cgroup-v2' ? (dirs.get('v2') ?? null) : null;
    this.cpuFile = mech.cpu === 'cgroup-v1' ? at('cpuacct', 'cpuacct.usage') : mech.cpu === 'cgroup-v2' ? at('v2', 'cpu.stat') : null;
    this.memFile = mech.memory === 'cgroup-v1' ? at('memory', 'memory.usage_in_bytes') : mech.memory === 'cgroup-v2' ? at('v2', 'memory.current') : null;
    this.freezeFile = mech.freezer === 'cgroup-v1' ? at('freezer', 'freezer.state', true) : mech.freezer === 'cgroup-v2' ? at('v2', 'cgroup.freeze', true) : null;
    this.eventsFile = mech.freezer === 'cgroup-v2' ? at('v2', 'cgroup.events') : null;
  }

  /**
   * Creates `<parent>/<id>` in every hierarchy a mechanism needs, with at most `maxTasks` tasks
   * (processes and threads) where a pids controller is writable. Throws if a group cannot be made.
   */
  static create(parents: CgroupParents, id: string, maxTasks?: number): InstanceCgroups {
    const mech = chooseMechanisms(parents);
    const dirs = new Map<V1Controller | 'v2', string>();
    const v1 = (c: V1Controller): void => {
      const p = parents.v1[c];
      if (p !== undefined) dirs.set(c, join(p, id));
    };
    if (mech.freezer === 'cgroup-v1') v1('freezer');
    if (mech.cpu === 'cgroup-v1') v1('cpuacct');
    if (mech.memory === 'cgroup-v1') v1('memory');
    if (mech.pids === 'cgroup-v1' && maxTasks !== undefined) v1('pids');
    const v2Needed = [mech.freezer, mech.cpu, mech.memory, mech.kill].includes('cgroup-v2') || (mech.pids === 'cgroup-v2' && maxTasks !== undefined);
    if (parents.v2 && v2Needed) dirs.set('v2', join(parents.v2.dir, id));
    const made: string[] = [];
    try {
      for (const d of new Set(dirs.values())) {
        mkdirWithRetry(d);
        made.push(d);
      }
      if (maxTasks !== undefined) {
        const d = mech.pids === 'cgroup-v1' ? dirs.get('pids') : mech.pids === 'cgroup-v2' ? dirs.get('v2') : undefined;
        if (d !== undefined) writeFileSync(join(d, 'pids.max'), String(maxTasks));
      }
    } catch (e) {
      for (const d of made) tryRmdir(d);
      throw e;
    }
    return new InstanceCgroups(mech, dirs, maxTasks);
  }

  /**
   * The same groups under another name (a stem cell becoming an instance: stem-cell.ts). A v1 group
   * is renamed, its counters and limits with it. A v2 group cannot be (the kernel refuses renames on
   * the unified hierarchy) and keeps the stem cell's name: moving its processes to a new group cost
   * a cold start 5–22 ms on the test machine, as the first move of a process after a quiet while
   * waits for an RCU grace period (the kernel's cgroup_threadgroup_rwsem; the next moves take
   * ≈ 0.05 ms). Its name only differs: it is found by this object, and a group left by a Fare that
   * died is reaped by the pid in its name, which a stem cell's carries too. Use the returned object
   * from then on; this one is spent.
   */
  moveTo(id: string): InstanceCgroups {
    for (const f of [this.cpuFile, this.memFile, this.freezeFile, this.eventsFile]) f?.close();
    const moved = new Map<string, string>();
    const next = new Map<V1Controller | 'v2', string>();
    for (const [k, d] of this.byKey) {
      const done = moved.get(d);
      if (done !== undefined) {
        next.set(k, done);
        continue;
      }
      let to = join(d, '..', id);
      try {
        renameSync(d, to);
      } catch (e) {
        // The unified hierarchy refuses (EPERM): the group stays as it is.
        if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
        to = d;
      }
      moved.set(d, to);
      next.set(k, to);
    }
    return new InstanceCgroups(this.mech, next, this.maxTasks);
  }

  /** The `cgroup.procs` files a new process writes its pid into before it execs the runtime. */
  procsFiles(): string[] {
    return this.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  /** Pids in the groups (all of the instance's processes, even those that left its process group). */
  pids(): number[] {
    const d = this.dirs[0];
    if (d === undefined) return [];
    try {
      return readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter((s) => s !== '').map(Number);
    } catch {
      return [];
    }
  }

  get hasFreezer(): boolean {
    return this.freezerDir !== null;
  }

  /**
   * Freezes every task in the group and waits until the kernel reports it frozen — or until
   * `wanted()` turns false (a thaw was asked for meanwhile).
   */
  async freeze(wanted: () => boolean = () => true): Promise<void> {
    const d = this.freezerDir;
    if (d === null) throw new Error('FARE_E_NO_FREEZER: this instance has no freezer group');
    const f = this.freezeFile as KernelFile;
    if (this.freezer === 'cgroup-v1') {
      f.write('FROZEN');
      await until(() => !wanted() || f.read().trim() === 'FROZEN', () => {
        if (wanted()) f.write('FROZEN');
      });
    } else {
      f.write('1');
      await until(() => !wanted() || /^frozen 1$/m.test((this.eventsFile as KernelFile).read()));
    }
  }

  async thaw(): Promise<void> {
    const d = this.freezerDir;
    if (d === null) throw new Error('FARE_E_NO_FREEZER: this instance has no freezer group');
    const f = this.freezeFile as KernelFile;
    if (this.freezer === 'cgroup-v1') {
      f.write('THAWED');
      await until(() => f.read().trim() === 'THAWED');
    } else {
      f.write('0');
      await until(() => /^frozen 0$/m.test((this.eventsFile as KernelFile).read()));
    }
  }

  /**
   * Kills every task in the groups: one write to `cgroup.kill` where the kernel has it (atomic, forks
   * in flight included), else SIGKILL to each pid listed, repeated while new ones appear. Frozen v1
   * tasks are thawed so they can die.
   */
  killAll(): void {
    if (this.killFile !== null) {
      try {
        writeFileSync(this.killFile, '1');
        return;
      } catch {
        // the group is gone, or the write was refused: fall back to signals
      }
    }
    for (let round = 0; round < 20; round++) {
      const pids = this.pids();
      if (pids.length === 0) return;
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (this.freezer === 'cgroup-v1') this.thawNow();
    }
  }

  /** Thaws without waiting for the kernel to report it (a parked instance's next invocation; killing: a task frozen by the v1 freezer cannot die). */
  thawNow(): void {
    const f = this.freezeFile;
    if (f === null) return;
    try {
      f.write(this.freezer === 'cgroup-v1' ? 'THAWED' : '0');
    } catch {
      // already gone
    }
  }

  /** CPU time used by the group so far (ns), or null if CPU is not accounted by cgroup. */
  cpuNs(): number | null {
    if (this.cpuFile === null) return null;
    const text = this.cpuFile.read();
    if (this.cpu === 'cgroup-v1') return Number(text.trim());
    const m = /^usage_usec (\d+)$/m.exec(text);
    return m?.[1] === undefined ? null : Number(m[1]) * 1000;
  }

  /** Memory charged to the group (bytes), or null if memory is not accounted by cgroup. */
  memBytes(): number | null {
    if (this.memFile === null) return null;
    return Number(this.memFile.read().trim());
  }

  /**
   * Removes the groups (they must be empty; retried briefly while exiting tasks leave) and empty
   * parents. True when every group is gone: then no task of them is left anywhere.
   */
  async remove(): Promise<boolean> {
    for (const f of [this.cpuFile, this.memFile, this.freezeFile, this.eventsFile]) f?.close();
    for (const d of this.dirs) {
      for (let i = 0; i < 50 && existsSync(d) && !tryRmdir(d); i++) await delay(2);
    }
    for (const p of this.parents) tryRmdir(p);
    return this.dirs.every((d) => !existsSync(d));
  }
}

/**
 * Polls a kernel state until it holds (freezing takes one scheduler pass per task; ~µs–ms): the first
 * checks a turn of the event loop apart (a timer would wait ≥ 1 ms), then every millisecond.
 */
async function until(done: () => boolean, retry?: () => void): Promise<void> {
  for (let i = 0; ; i++) {
    if (done()) return;
    if (i > 2100) throw new Error('FARE_E_FREEZER_TIMEOUT: the cgroup freezer did not settle within 2 s');
    if (retry && i % 10 === 9) retry();
    if (i < 100) await new Promise<void>((r) => setImmediate(r));
    else await delay(1);
  }
}

/**
 * Instances left behind by a Fare process that died (kill -9, a crash): their groups stay, and a
 * process frozen by the v1 freezer stays frozen forever. Thaws and kills what is in every group whose
 * owner (the `-p<pid>-` in its name) is no longer alive, and removes the group. Returns how many.
 */
export function reapStaleGroups(parents: CgroupParents): number {
  const dirs: string[] = [...Object.values(parents.v1)];
  if (parents.v2) dirs.push(parents.v2.dir);
  const stale = new Set<string>();
  for (const parent of dirs) {
    if (parent === undefined || !existsSync(parent)) continue;
    for (const name of readdirSync(parent)) {
      const m = /-p(\d+)-[0-9a-f]+$/.exec(name);
      if (!m || alive(Number(m[1]))) continue;
      const dir = join(parent, name);
      for (const f of ['freezer.state', 'cgroup.freeze']) {
        try {
          writeFileSync(join(dir, f), f === 'freezer.state' ? 'THAWED' : '0');
        } catch {
          // not this hierarchy's file
        }
      }
      for (const pid of readPids(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      stale.add(name);
    }
  }
  // Give the killed processes a moment to leave their groups, then remove the groups.
  for (let i = 0; i < 50 && stale.size > 0; i++) {
    for (const parent of dirs) {
      if (parent === undefined) continue;
      for (const name of stale) {
        const dir = join(parent, name);
        if (existsSync(dir) && readPids(dir).length === 0) tryRmdir(dir);
      }
    }
    if ([...stale].every((n) => dirs.every((p) => p === undefined || !existsSync(join(p, n))))) break;
    const until = Date.now() + 10;
    while (Date.now() < until) {
      // brief wait for the kernel to reap the killed tasks
    }
  }
  return stale.size;
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
