// One instance: one process of one function version, running one invocation at a time through its
// own Lambda Runtime API server. It owns the process, its sandbox (uid, namespaces), its cgroups and
// its directory, and carries out the worker's mechanism requests: start, invoke, freeze/thaw
// (preemption), scheduling priority (priority.ts), kill. Between invocations it is frozen
// ("parked", as Lambda freezes an execution environment): it uses no CPU that no invocation pays for.
// What it prints is kept by output.ts, its uid comes from uids.ts.
//
// Longer than most files here because what is left is one state machine: the lifecycle (`new` →
// `starting` → `idle`/`busy` → `dead`), the frozen and parked flags, the open invocation and its
// measured tail, and the kill that may interrupt any of them are read and written by each other's
// transitions (a preemption racing an answer, a park racing the next invocation, an exit during
// init). Split across files, each part would reach into the others' fields.

import { randomBytes } from 'node:crypto';
import { getPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { FunctionSpec, InvokeOutcome, InvokeRequest } from '../types.ts';
import { capabilities, type Capabilities } from './capabilities.ts';
import { InstanceCgroups } from './cgroups.ts';
import { FareRuntimeError, InitError } from './errors.ts';
import { findRuntimesDir, JOIN_FAILED, launch, runtimeCommand, runtimeEnv, runtimeFor } from './launch.ts';
import type { RuntimeProcess } from './launcher.ts';
import { InvocationMeter, LogTail, type Measured, type Probe } from './meter.ts';
import { describeExit, type ExitInfo, handledOutcome, lastLines, okOutcome, unhandledOutcome } from './outcomes.ts';
import { InstanceOutput } from './output.ts';
import { PausableTimer } from './pausable-timer.ts';
import { InstancePriority, type PriorityKind, type PriorityResult, schedSetter } from './priority.ts';
import { allSleeping, processGroupCpuNs, processGroupPids, processGroupResidentBytes, processState, type RunAs } from './proc.ts';
import { type ErrorDocument, MAX_RESPONSE_BYTES, type RefusedRequest, RuntimeApi, type RuntimeReport } from './runtime-api.ts';
import { instanceUidPool, uidInUse } from './uids.ts';
import type { StemCell, StemParts } from './stem-cell.ts';
import { adoptWorkDir, prepareBase, prepareWorkDir, removeWorkDir, type WorkDir } from './workdir.ts';

/**
 * How long an instance that answered stays unfrozen, waiting for its next invocation, before it is
 * parked (ms). Traffic that keeps an instance busier than that never pays for a freeze and a thaw
 * (≈ 0.1 ms more latency on this machine: every thread of the runtime must wake); an instance that
 * is idle is frozen within this time, and what it runs meanwhile is billed to its last invocation.
 */
export const PARK_AFTER_MS = 10;

interface Tail {
  readonly o: Open;
  readonly make: (m: Measured, logs: string) => InvokeOutcome;
  readonly logs: string;
  readonly omitted: number;
}

/** Bytes of stderr kept during an init, for the message of an init that ends in an exit. */
const INIT_STDERR_BYTES = 2048;

/** Stands in for a measurement when only the answer of an outcome is wanted. */
const NOT_MEASURED: Measured = { cpuMs: 0, memGBs: 0, maxMemMB: 0, durationMs: 0 };

/** `read()`, or `dflt` if it throws (a cgroup or process gone). */
function readOr(read: () => number, dflt: number): number {
  try {
    return read();
  } catch {
    return dflt;
  }
}

export type InstanceState = 'new' | 'starting' | 'idle' | 'busy' | 'dead';

export interface InstanceOptions {
  readonly fn: FunctionSpec;
  /** What the machine supports (default: the process-wide probe). */
  readonly caps?: Capabilities;
  readonly id?: string;
  /** Where instance directories go (default `caps.instancesDir`). */
  readonly baseDir?: string;
  /** Fare's `runtimes/` folder (default: found above this file). */
  readonly runtimesDir?: string;
  /** AWS_LAMBDA_FUNCTION_MEMORY_SIZE (reported to the function; not enforced). Default 128. */
  readonly memoryMB?: number;
  /** Variables of the platform (AWS_REGION, FARE_ENDPOINT, AWS_ENDPOINT_URL_LAMBDA), read at each launch. */
  readonly platformEnv?: () => Readonly<Record<string, string>>;
  /**
   * Who runs the code: by default its own uid from `caps.uidRange` inside the sandbox where the
   * machine has it, else `caps.runAs` (nobody when root); a RunAs runs it as that user without the
   * sandbox; 'self' runs it as this process's user without the sandbox.
   */
  readonly runAs?: RunAs | 'self';
  /** How long the runtime may take to first call /next (default 10 s, Lambda's init limit). */
  readonly initTimeoutMs?: number;
  /** Bytes of stdout/stderr kept per invocation: all, or its beginning and end (default 4096). */
  readonly logTailBytes?: number;
  /** Bytes of the instance's latest output kept across invocations, for `recentLogs` and init errors (default 4096). */
  readonly recentLogBytes?: number;
  /** Memory sampling period while an invocation runs (default 10 ms). */
  readonly sampleIntervalMs?: number;
  /** Everything the instance prints (stdout and stderr), as it arrives: for streaming logs. */
  readonly onLog?: (chunk: Buffer) => void;
  /** A process that is not the instance's called its Runtime API and was refused (for Fare's log). */
  readonly onRefused?: (instanceId: string, r: RefusedRequest) => void;
  /** `cgroup.procs` files of groups shared by all instances that each joins at launch, besides its own (the functions' cpuset). */
  readonly sharedGroups?: readonly string[];
  /**
   * A ready stem cell (stem-cell.ts) of the function's runtime, started with these same options:
   * `start()` adopts it — its process, sandbox, uid, groups and Runtime API — instead of launching.
   */
  readonly stem?: StemCell;
}

interface Open {
  readonly req: InvokeRequest;
  readonly meter: InvocationMeter;
  readonly timer: PausableTimer;
  readonly done: (o: InvokeOutcome) => void;
}

export class Instance {
  readonly id: string;
  readonly fn: FunctionSpec;
  private readonly caps: Capabilities;
  private readonly opts: InstanceOptions;
  private _state: InstanceState = 'new';
  private child: RuntimeProcess | null = null;
  private api: RuntimeApi | null = null;
  private cg: InstanceCgroups | null = null;
  /** Its processes as sleepsOnIo last listed them, and when (performance.now()). */
  private ioPids: { at: number; pids: number[] } = { at: -Infinity, pids: [] };
  private wd: WorkDir | null = null;
  private exit: ExitInfo | null = null;
  private readonly exitWaiters: (() => void)[] = [];
  /** The instance's processes are frozen (preempted, or parked between invocations). */
  private frozen = false;
  /** Frozen because no invocation is running (set with `frozen`); a preemption takes it over. */
  private parked = false;
  /** The uid the sandbox gave this instance (released once nothing of it is left). */
  private ownUid: number | null = null;
  private open: Open | null = null;
  private init: { readonly t0: number; readonly timer: PausableTimer; readonly ok: (ms: number) => void; readonly fail: (e: InitError) => void } | null = null;
  private killing: Promise<void> | null = null;
  private serial: Promise<unknown> = Promise.resolve();
  /** What it prints; an invocation's output is captured from invoke() until its outcome is made (a turn after the response). */
  private readonly output: InstanceOutput;
  private readonly priority: InstancePriority;

  constructor(opts: InstanceOptions) {
    this.opts = opts;
    this.fn = opts.fn;
    this.caps = opts.caps ?? capabilities();
    // The owner's pid is part of the id, so a later Fare can tell groups left behind by a dead one.
    this.id = opts.id ?? `${opts.fn.name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-v${opts.fn.version}-p${process.pid}-${randomBytes(5).toString('hex')}`;
    this.output = new InstanceOutput(opts.logTailBytes ?? 4096, opts.recentLogBytes ?? 4096, opts.onLog);
    // Its processes: its cgroups' members, or else its process group.
    // As the capability probe found: sched_setscheduler through koffi, else chrt.
    this.priority = new InstancePriority({
      chrt: this.caps.sched.chrt,
      sched: this.caps.sched.mechanism === 'sched_setscheduler' ? schedSetter() : null,
      processes: () => {
        const pid = this.pid;
        if (pid === null || this.exit !== null) return null;
        const pids = this.cg?.pids() ?? [];
        return pids.length > 0 ? pids : processGroupPids(pid);
      },
    });
  }

  get state(): InstanceState {
    return this._state;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Frozen by a preemption (not merely parked between invocations). */
  get isFrozen(): boolean {
    return this.frozen && !this.parked;
  }

  /** Frozen between invocations. */
  get isParked(): boolean {
    return this.parked;
  }

  /** The instance's cgroup directories (one per hierarchy it uses), once started. */
  get cgroupDirs(): readonly string[] {
    return this.cg?.dirs ?? [];
  }

  /** The uid the function runs as (its own in the sandbox), once started. */
  get uid(): number | null {
    return this.ownUid ?? this.runAs()?.uid ?? (this.child !== null ? (process.getuid?.() ?? null) : null);
  }

  /** The request id of the invocation in progress, if any. */
  get requestId(): string | null {
    return this.open?.req.requestId ?? null;
  }

  /** The instance's directory (task/, runtime/, tmp/), once started; removed by kill(). */
  get workDir(): string | null {
    return this.wd?.dir ?? null;
  }

  /** Output printed so far (start-up included), bounded. */
  get recentLogs(): string {
    return this.output.recent;
  }

  /** Spawns the runtime; resolves when it first asks for an event, rejects with an InitError otherwise. */
  async start(): Promise<{ initMs: number }> {
    if (this._state !== 'new') throw new FareRuntimeError('FARE_E_INSTANCE_STATE', `instance ${this.id} is ${this._state}; start() runs once on a new instance`);
    this._state = 'starting';
    const t0 = performance.now();
    const ready = new Promise<number>((ok, fail) => {
      const timeoutMs = this.opts.initTimeoutMs ?? 10_000;
      const timer = new PausableTimer(timeoutMs, () =>
        this.failInit({ errorType: 'Sandbox.Timedout', errorMessage: `Init timed out after ${(timeoutMs / 1000).toFixed(2)} seconds` }),
      );
      this.init = { t0, timer, ok, fail };
    });
    try {
      await this.spawn();
    } catch (e) {
      const doc: ErrorDocument =
        e instanceof InitError ? e.error : { errorType: 'Runtime.StartError', errorMessage: e instanceof Error ? e.message : String(e) };
      this.failInit(doc);
    }
    const ms = await ready;
    return { initMs: ms };
  }

  /** Runs one invocation; never rejects for what the function did (that is the outcome), only for misuse. */
  invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    if (this._state !== 'idle' || this.api === null) {
      return Promise.reject(new FareRuntimeError('FARE_E_INSTANCE_STATE', `instance ${this.id} is ${this._state}; invoke() needs an idle instance`));
    }
    this._state = 'busy';
    const api = this.api;
    this.output.begin();
    // The last invocation's measurement ends where this one's begins — at one reading of the CPU
    // counter, so no CPU time falls between the two; a pending park is off. Parked since then: thaw
    // now (the event waits in the socket meanwhile). A preemption that froze it before it started
    // keeps it frozen until resumed.
    const probe = this.probe();
    const cpuNow = this.tail !== null ? readOr(() => probe.cpuNs(), NaN) : undefined;
    this.endTail(cpuNow);
    if (this.parkTimer !== null) clearTimeout(this.parkTimer);
    this.parkTimer = null;
    if (this.parked) this.unpark();
    // Frozen by a preemption that raced the last invocation's end (the freeze landed after its
    // answer, and its job, gone, is never resumed): the new invocation thaws it, else it would wait
    // frozen for ever with its timeout paused. Frozen for this very invocation (preempted while it
    // waited for the instance): it stays frozen until resumed.
    else if (this.frozen && this.frozenFor !== req.requestId) this.thawNow();
    return new Promise<InvokeOutcome>((done) => {
      const timeoutMs = this.fn.timeoutMs;
      const timer = new PausableTimer(timeoutMs, () => this.timedOut());
      const interval = this.opts.sampleIntervalMs ?? 10;
      const meter = new InvocationMeter(probe, interval, this.caps.mechanisms.cpu === 'proc', cpuNow, this.recentMemory(interval));
      this.open = { req, meter, timer, done };
      if (this.frozen) timer.pause();
      const ev = {
        requestId: req.requestId,
        payload: req.payload,
        deadlineMs: Date.now() + timeoutMs,
        ...(req.clientContext !== undefined ? { clientContext: Buffer.from(req.clientContext, 'base64').toString('utf8') } : {}),
        ...(req.fareContext !== undefined ? { fareContext: req.fareContext } : {}),
        ...(req.traceId !== undefined ? { traceId: req.traceId } : {}),
        ...(req.invokedArn !== undefined ? { invokedArn: req.invokedArn } : {}),
        ...(req.stream === true && req.onChunk !== undefined ? { onChunk: req.onChunk } : {}),
      };
      api.deliver(ev);
    });
  }

  /**
   * Preemption: stops every process of the instance (cgroup freezer, else SIGSTOP to its process group).
   * With `forRequest`, only while that invocation is still open: a preemption that loses the race with
   * the invocation's own completion must not freeze the instance under its next invocation.
   */
  freeze(forRequest?: string, hold?: { readonly next: string }): Promise<void> {
    return this.queue(async () => {
      if (forRequest !== undefined && this.requestId !== forRequest) return;
      // Whom the freeze is for: the next invocation, when it holds the instance before handing it
      // over (its request was preempted while it waited), else whatever runs now.
      this.frozenFor = hold?.next ?? forRequest ?? null;
      if (this.frozen) {
        // Parked (between invocations, or before this one was handed over): the preemption holds it now.
        this.parked = false;
        return;
      }
      if (this.child === null || this.exit !== null || this.killing) return;
      this.frozen = true;
      this.init?.timer.pause();
      this.open?.timer.pause();
      if (this.cg?.hasFreezer) await this.cg.freeze();
      else this.signal('SIGSTOP');
    });
  }

  thaw(): Promise<void> {
    return this.queue(async () => {
      // A parked instance stays parked: a late resume must not wake it between invocations.
      if (!this.frozen || this.parked || this.child === null || this.exit !== null || this.killing) return;
      if (this.cg?.hasFreezer) await this.cg.thaw();
      else this.signal('SIGCONT');
      this.frozen = false;
      this.init?.timer.resume();
      this.open?.timer.resume();
    });
  }

  /**
   * Kernel scheduling priority of every process of the instance (see priority.ts): `idle`
   * (SCHED_IDLE), `fifo` (SCHED_FIFO at `prio`), `normal` (SCHED_OTHER) or `nice` (nice value
   * `prio` on every thread). Best-effort: says what failed rather than throwing.
   */
  setPriority(kind: PriorityKind, prio = 1): Promise<PriorityResult> {
    return this.priority.set(kind, prio);
  }

  /** Cumulative CPU time of the instance so far (ms). */
  cpuTimeMs(): number {
    try {
      const ns = this.probe().cpuNs();
      return Number.isFinite(ns) ? ns / 1e6 : 0;
    } catch {
      return 0;
    }
  }

  /**
   * Whether all its processes sleep on I/O now (a socket, a timer), rather than compute, wait for a
   * core, or stall on memory or the disk (a page fault on swap): see proc.ts allSleeping. Undefined
   * when that cannot be read (no process).
   */
  sleepsOnIo(): boolean | undefined {
    // Its processes, listed again at most every second (asked every few ms of each call that waits).
    const now = performance.now();
    if (now - this.ioPids.at > 1000) {
      const pids = this.cg?.pids() ?? [];
      this.ioPids = { at: now, pids: pids.length > 0 ? pids : this.processes() };
    }
    return allSleeping(this.ioPids.pids);
  }

  /** The instance's processes (its process group: the runtime and what it started, the sandbox helper too). */
  processes(): number[] {
    const pid = this.pid;
    if (pid === null) return [];
    try {
      return processGroupPids(pid);
    } catch {
      return [pid];
    }
  }

  /**
   * Did the runtime die while the instance was frozen (killed by the OOM killer, an operator, a
   * signal)? In the sandbox it is its namespace's pid 2 under an init that, frozen with it, cannot
   * reap it nor report: Fare hears of the death only when the instance is thawed — after a swap-in
   * of memory nobody will use. Seen here instead: the runtime (or its init) a zombie, or gone.
   * Without the sandbox the runtime is the launcher's (or Fare's) own child and its exit is heard at once.
   */
  diedFrozen(): boolean {
    const helper = this.pid;
    if (helper === null || !this.frozen || this.exit !== null) return false;
    // The instance's own namespace: its init is pid 1 there, the runtime pid 2.
    const inNs = new Map<number, string>();
    for (const p of this.processes()) {
      if (p === helper) continue;
      const st = processState(p);
      if (st !== null && st.nsPid !== p) inNs.set(st.nsPid, st.state);
    }
    if (inNs.size === 0) return false; // no sandbox (or not yet forked): its exit is heard directly
    const gone = (st: string | undefined): boolean => st === undefined || st === 'Z' || st === 'X';
    return gone(inNs.get(1)) || gone(inNs.get(2));
  }

  /** Its memory was swapped out (set by the worker's pager; cleared when it is read back). */
  swappedOut = false;

  /**
   * Memory the instance holds now (bytes). `maxAgeMs`: a reading this recent (the meter's, taken as
   * the function answered) is as good — the meter itself samples every ~10 ms.
   */
  memoryBytes(maxAgeMs = 0): number {
    return this.recentMemory(maxAgeMs) ?? readOr(() => this.probe().memBytes(), 0);
  }

  /** The last reading of the instance's memory if it is at most `maxAgeMs` old (and not swapped out since). */
  private recentMemory(maxAgeMs: number): number | undefined {
    return maxAgeMs > 0 && !this.swappedOut && performance.now() - this.memRead.at <= maxAgeMs ? this.memRead.bytes : undefined;
  }

  /** The last reading of the instance's memory, and when it was taken (performance.now()). */
  private readonly memRead = { bytes: 0, at: -Infinity };

  /** Resolves once the process has exited (immediately if it never started). */
  exited(): Promise<ExitInfo | null> {
    if (this.child === null || this.exit !== null) return Promise.resolve(this.exit);
    return new Promise((resolve) => this.exitWaiters.push(() => resolve(this.exit)));
  }

  /** Kills every process of the instance and removes its cgroups, server and directory. Idempotent. */
  kill(): Promise<void> {
    this.killing ??= this.teardown();
    return this.killing;
  }

  // ---- internals ---------------------------------------------------------------------------------

  private queue(op: () => Promise<void>): Promise<void> {
    const p = this.serial.then(op, op);
    this.serial = p.catch(() => undefined);
    return p;
  }

  private probe(): Probe {
    const cg = this.cg;
    const pid = this.child?.pid ?? 0;
    const m = this.caps.mechanisms;
    return {
      // A cgroup gone (the instance killed) reads as nothing, not as 0: the meter keeps what it had.
      cpuNs: () => (m.cpu !== 'proc' && cg ? (cg.cpuNs() ?? NaN) : processGroupCpuNs(pid, this.caps.clockTicks)),
      // Swapped out, its processes' resident sets: a v1 memory cgroup still counts the pages written
      // to swap while they sit in the swap cache (until the kernel needs the RAM), and they are not
      // the instance's use of memory any more.
      memBytes: () => {
        const bytes = m.memory !== 'proc' && cg && !this.swappedOut ? (cg.memBytes() ?? 0) : processGroupResidentBytes(pid);
        this.memRead.bytes = bytes;
        this.memRead.at = performance.now();
        return bytes;
      },
    };
  }

  /** Whether this instance runs in the sandbox (the default where the machine has it; always when born of a stem cell). */
  private get sandboxed(): boolean {
    return this.opts.stem !== undefined || (this.caps.sandbox.helper !== null && this.opts.runAs === undefined);
  }

  private runAs(): RunAs | null {
    if (!this.caps.root || this.opts.runAs === 'self') return null;
    if (this.ownUid !== null) return { uid: this.ownUid, gid: this.ownUid };
    return this.opts.runAs ?? this.caps.runAs;
  }

  private get baseDir(): string {
    return this.opts.baseDir ?? this.caps.instancesDir;
  }

  private async spawn(): Promise<void> {
    if (this.opts.stem !== undefined) {
      // A cell whose process has just exited (its exit not heard yet) cannot be taken: launch instead.
      let parts: StemParts | null = null;
      try {
        parts = this.opts.stem.take(this.id);
      } catch {
        // Out of the pool's set already: killed here, or nothing would (its process, server, groups and uid).
        void this.opts.stem.kill();
        parts = null;
      }
      if (parts !== null) return this.adopt(parts);
    }
    const fn = this.fn;
    const { src, interp } = runtimeFor(fn, this.caps, this.opts.runtimesDir ?? findRuntimesDir());
    const helper = this.sandboxed ? this.caps.sandbox.helper : null;
    prepareBase(this.baseDir);
    if (helper !== null) this.ownUid = instanceUidPool(this.baseDir, this.caps.uidRange).acquire();
    const owner = this.runAs();
    const wd = prepareWorkDir(this.baseDir, this.id, fn.codeDir, src, owner, helper !== null);
    this.wd = wd;
    const cmd = runtimeCommand(fn, interp, wd);
    const hasCgroups = Object.keys(this.caps.cgroups.v1).length > 0 || this.caps.cgroups.v2 !== null;
    this.cg = hasCgroups ? InstanceCgroups.create(this.caps.cgroups, this.id, this.caps.maxTasks) : null;
    // Only this instance's processes (its own uid) may talk to its Runtime API.
    const onRefused = this.opts.onRefused;
    const platform = this.opts.platformEnv?.();
    const api = await RuntimeApi.listen({
      functionName: fn.name,
      tenant: fn.tenant,
      ...(platform?.AWS_REGION !== undefined ? { region: platform.AWS_REGION } : {}),
      ...(fn.published !== undefined ? { published: fn.published } : {}),
      onReport: (r) => this.onReport(r),
      ...(helper !== null ? { peerUid: this.ownUid } : {}),
      ...(onRefused !== undefined ? { onRefused: (r: RefusedRequest) => onRefused(this.id, r) } : {}),
    });
    if (this.killing !== null) return void (await api.close()); // killed meanwhile (the rest went with teardown)
    this.api = api;
    const env = runtimeEnv({ fn, instanceId: this.id, apiAddress: api.address, wd, interp, memoryMB: this.opts.memoryMB ?? 128, sandboxed: helper !== null, ...(platform !== undefined ? { platform } : {}) });
    const launching = launch({
      cmd, cwd: wd.task, env, owner, setpriv: this.caps.setpriv, procs: [...(this.cg?.procsFiles() ?? []), ...(this.opts.sharedGroups ?? [])],
      ...(helper !== null ? { sandbox: { helper, scratch: wd.tmp } } : {}),
      socketDir: this.baseDir,
    }).then((child) => {
      this.child = child;
      this.watch(child);
    });
    this.launching = launching;
    try {
      await launching;
    } finally {
      this.launching = null;
    }
  }

  /** Its stderr during the init, the end kept: named in the error of an init that ends in an exit. */
  private readonly initStderr = new LogTail(INIT_STDERR_BYTES);

  private readonly onStderr = (b: Buffer): void => {
    this.output.push(b);
    if (this.init !== null) this.initStderr.push(b);
  };

  /** The launch in progress (the launcher answers asynchronously): a kill meanwhile waits for its process, to kill it too. */
  private launching: Promise<void> | null = null;

  /** Reads the runtime's output and learns of its end. */
  private watch(child: RuntimeProcess): void {
    child.stdout?.on('data', this.output.push);
    // One listener: a launched runtime's output that came before it is listened to goes to the first only.
    child.stderr?.on('data', this.onStderr);
    child.once('error', (e) => {
      this.output.note(e.message);
      this.onExit({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => this.onExit({ code, signal }));
  }

  /**
   * Becomes the stem cell's function instance: takes its process and everything around it (first,
   * so a failure below kills them with this instance; `parts` from `StemCell.take`), renames its directory and groups to this
   * instance's id, copies the code into its task directory, and answers its runtime's wait with the
   * function's environment. Its first /next then ends the init, as a launched runtime's does.
   */
  private adopt(parts: StemParts): void {
    const fn = this.fn;
    this.child = parts.child;
    this.api = parts.api;
    this.cg = parts.cg;
    this.wd = parts.wd;
    this.ownUid = parts.uid;
    for (const b of parts.output) this.output.push(b);
    const child = parts.child;
    this.watch(child);
    if (child.exitCode !== null || child.signalCode !== null) return this.onExit({ code: child.exitCode, signal: child.signalCode });
    this.wd = adoptWorkDir(parts.wd, this.id, fn.codeDir);
    if (parts.cg !== null) {
      this.cg = null; // spent by the move, whatever its outcome
      this.cg = parts.cg.moveTo(this.id);
    }
    // It waited at the lowest priority (STEM_NICE): every thread back to Fare's own (as a launched one's; the
    // pool's onStart may then set its class's).
    void this.priority.set('nice', getPriority(0));
    const { interp } = runtimeFor(fn, this.caps, this.opts.runtimesDir ?? findRuntimesDir());
    const platform = this.opts.platformEnv?.();
    const env = runtimeEnv({ fn, instanceId: this.id, apiAddress: parts.api.address, wd: this.wd, interp, memoryMB: this.opts.memoryMB ?? 128, sandboxed: true, ...(platform !== undefined ? { platform } : {}) });
    const orders: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) orders[k] = v;
    parts.api.go({ functionName: fn.name, tenant: fn.tenant, ...(platform?.AWS_REGION !== undefined ? { region: platform.AWS_REGION } : {}), ...(fn.published !== undefined ? { published: fn.published } : {}) }, (r) => this.onReport(r), { env: orders });
  }

  private onReport(r: RuntimeReport): void {
    switch (r.kind) {
      case 'next':
        if (r.first && this.init) {
          const { t0, timer, ok } = this.init;
          timer.cancel();
          this.init = null;
          // Parked soon unless its first invocation comes first (it usually does: a cold start is for one).
          this._state = 'idle';
          this.parkLater();
          ok(performance.now() - t0);
        }
        return;
      case 'init-error':
        this.failInit(r.error);
        return;
      case 'response': {
        const streamed = r.streamed;
        this.finish(r.requestId, streamed === undefined ? (m, logs) => okOutcome(r.body, m, logs) : (m, logs) => ({ ...okOutcome(r.body, m, logs), streamed }));
        return;
      }
      case 'error': {
        const streamed = r.streamed;
        if (streamed === undefined) return this.finish(r.requestId, (m, logs) => handledOutcome(r.error, m, logs));
        // A streamed response that ended in an error: the function's (handled), or too big (unhandled, as Lambda says).
        const { errorType, errorMessage } = r.error;
        this.finish(r.requestId, errorType === 'Function.ResponseSizeTooLarge' ? (m, logs) => ({ ...unhandledOutcome(errorType, errorMessage, m, logs), streamed }) : (m, logs) => ({ ...handledOutcome(r.error, m, logs), streamed }));
        return;
      }
      case 'response-too-large':
        this.finish(r.requestId, (m, logs) =>
          unhandledOutcome('Function.ResponseSizeTooLarge', `Response payload size (${r.bytes} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`, m, logs),
        );
        return;
      default: {
        const never: never = r;
        throw new Error(`unhandled runtime report ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * The function answered (or the invocation ended otherwise): once what it printed has been read
   * (its runtime flushes before it answers), its logs are final and the caller is told the answer
   * (`onAnswer`). The instance is then idle, but the invocation is still measured — its "tail" —
   * until the instance is parked (`PARK_AFTER_MS` later) or its next invocation starts, whichever
   * comes first: CPU it burns after answering is this invocation's, and busy traffic never pays for
   * a freeze and a thaw. The outcome, with its measurement, resolves when the tail ends.
   */
  private finish(requestId: string, make: (m: Measured, logs: string) => InvokeOutcome): void {
    const o = this.open;
    if (o === null || o.req.requestId !== requestId) return;
    this.open = null;
    o.timer.cancel();
    o.meter.answered();
    void this.output.drained().then(() => {
      const { logs, omitted } = this.output.end();
      const tail: Tail = { o, make, logs, omitted };
      this.tail = tail;
      if (this._state === 'busy') this._state = this.exit === null && !this.killing ? 'idle' : 'dead';
      if (o.req.onAnswer !== undefined) {
        const { status, payload, functionError, errorType, streamed } = make(NOT_MEASURED, logs);
        o.req.onAnswer({ status, payload, ...(functionError !== undefined ? { functionError } : {}), ...(errorType !== undefined ? { errorType } : {}), ...(streamed !== undefined ? { streamed } : {}) });
      }
      if (this.tail !== tail) return; // a next invocation took the instance already, ending the tail
      if (this._state === 'idle') this.parkLater();
      else this.endTail();
    });
  }

  /** The answered invocation still being measured, if any. */
  private tail: Tail | null = null;
  private parkTimer: NodeJS.Timeout | null = null;

  /** Ends the tail's measurement now (at `cpuNow`, the CPU counter just read, if it was) and hands over its outcome. */
  private endTail(cpuNow?: number): void {
    const t = this.tail;
    if (t === null) return;
    this.tail = null;
    if (this.parkTimer !== null) clearTimeout(this.parkTimer);
    this.parkTimer = null;
    const m = t.o.meter.stop(cpuNow);
    const outcome = t.make(m, t.logs);
    t.o.done(t.omitted > 0 ? { ...outcome, logsOmittedBytes: t.omitted } : outcome);
  }

  /** Parks the idle instance `PARK_AFTER_MS` from now (unless an invocation comes first), ending a tail there. */
  private parkLater(): void {
    if (this.parkTimer !== null) clearTimeout(this.parkTimer);
    if (this.cg === null || !this.cg.hasFreezer) {
      this.endTail();
      return;
    }
    this.parkTimer = setTimeout(() => {
      this.parkTimer = null;
      const t = this.tail;
      void this.park()
        .catch(() => undefined)
        .then(() => {
          if (this.tail === t) this.endTail();
        });
    }, PARK_AFTER_MS);
  }

  /**
   * Freezes the instance between invocations (where there is a freezer cgroup). Already frozen by a
   * preemption that raced its end: it simply stays frozen, now parked.
   */
  private park(): Promise<void> {
    return this.queue(async () => {
      if (this._state !== 'idle') return; // an invocation took it meanwhile
      if (this.frozen) {
        this.parked = true;
        return;
      }
      const cg = this.cg;
      if (cg === null || !cg.hasFreezer || this.child === null || this.exit !== null || this.killing) return;
      this.frozen = true;
      this.parked = true;
      // Stop waiting if the next invocation thaws it before the kernel reports it frozen.
      await cg.freeze(() => this.parked);
    });
  }

  /** The request a freeze was for (see freeze), or null. */
  private frozenFor: string | null = null;

  /** Thaws a frozen idle instance at once (the freezer's synchronous thaw, or SIGCONT). */
  private thawNow(): void {
    this.frozen = false;
    if (this.child === null || this.exit !== null || this.killing) return;
    if (this.cg?.hasFreezer) this.cg.thawNow();
    else this.signal('SIGCONT');
  }

  /** Thaws a parked instance for its next invocation (synchronous: the kernel wakes it). */
  private unpark(): void {
    this.parked = false;
    this.frozen = false;
    this.cg?.thawNow();
  }

  private timedOut(): void {
    const o = this.open;
    if (o === null) return;
    this.api?.abandon();
    const secs = (this.fn.timeoutMs / 1000).toFixed(2);
    this._state = 'dead';
    // Its CPU is read before the kill takes its cgroup (and the counter) away.
    o.meter.readCpu();
    this.finish(o.req.requestId, (m, logs) => unhandledOutcome('Sandbox.Timedout', `RequestId: ${o.req.requestId} Error: Task timed out after ${secs} seconds`, m, logs));
    void this.kill();
  }

  private failInit(error: ErrorDocument): void {
    const init = this.init;
    if (init === null) return;
    init.timer.cancel();
    this.init = null;
    this._state = 'dead';
    const ms = performance.now() - init.t0;
    void this.kill().then(() => init.fail(new InitError(error, this.output.recent, ms)));
  }

  private onExit(e: ExitInfo): void {
    if (this.exit !== null) return;
    this.exit = e;
    this._state = 'dead';
    const how = describeExit(e);
    if (this.init) {
      // Its init fails now, not at the init limit: once what it wrote last has been read (the
      // pipes drained), so its last lines of stderr are in the message. A report that comes
      // meanwhile (its /init/error, posted before it exited) wins.
      const failInit = (): void => {
        const said = lastLines(this.initStderr.text());
        this.failInit(
          e.code === JOIN_FAILED
            ? { errorType: 'Runtime.StartError', errorMessage: `could not set up the instance (its cgroups or sandbox)${said !== '' ? `: ${said}` : '; see logs'}` }
            : { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${how} during init${said !== '' ? `; last lines of its stderr: ${said}` : ' (it wrote nothing to stderr)'}` },
        );
      };
      void this.output.drained().then(failInit, failInit);
    }
    const o = this.open;
    if (o) this.finish(o.req.requestId, (m, logs) => unhandledOutcome('Runtime.ExitError', `RequestId: ${o.req.requestId} Error: Runtime exited with error: ${how}`, m, logs));
    for (const w of this.exitWaiters.splice(0)) w();
    void this.kill();
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is gone
    }
  }

  /** Every process of the instance: its groups whole (cgroup.kill, else each pid), and its process group. */
  private killAll(): void {
    this.signal('SIGKILL');
    this.cg?.killAll(); // thaws v1-frozen tasks, which only die once thawed
    if (this.frozen && !this.cg?.hasFreezer) this.signal('SIGCONT');
  }

  private async teardown(): Promise<void> {
    if (this._state !== 'busy') this._state = 'dead';
    this.endTail();
    this.api?.abandon();
    if (this.launching !== null) await this.launching.catch(() => undefined);
    if (this.child !== null && this.exit === null) {
      this.killAll();
      await this.exited();
    }
    this.killAll(); // processes that outlived the runtime (left its group, or daemonized)
    this.frozen = false;
    this.parked = false;
    await this.api?.close();
    const groupsGone = this.cg !== null && (await this.cg.remove());
    if (this.wd) {
      try {
        removeWorkDir(this.wd);
      } catch {
        // best effort
      }
    }
    // The uid goes back only when nothing of this instance can still run as it.
    const uid = this.ownUid;
    if (uid !== null && (groupsGone || !uidInUse(uid))) instanceUidPool(this.baseDir, this.caps.uidRange).release(uid);
  }
}
