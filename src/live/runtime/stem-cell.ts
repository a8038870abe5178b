// A stem cell: a runtime process (Node.js or Python) started before its function is known, so that a
// cold start does not wait for the interpreter to boot. It is set up exactly as an instance is — in
// the sandbox, with its own uid, its own cgroups, PID, mount and IPC namespaces, a read-only file
// system but its private /tmp, its own Runtime API answering only its uid — with an empty task
// directory. Its runtime (runtimes/*/bootstrap with FARE_STEM=1) boots, imports what it needs, and
// waits on `GET …/runtime/fare/stem` (runtime-api.ts).
//
// When a function has a cold start, the pool takes a ready stem cell and an Instance adopts it
// (instance.ts): the instance directory and cgroups are renamed to the instance's id, the function's
// code is copied into the task directory, and the waiting request is answered with the function's
// environment; the runtime takes it on, loads the code and asks for its first event. From then on it
// is that function's instance, and dies with it: a stem cell serves one function of one tenant, ever.
//
// Before it is taken nothing of any tenant is in it, and what it uses is no tenant's: its CPU
// precedes every invocation's measurement, its memory is the machine's (counted in the machine's
// reading, like Fare's own).

import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { FunctionSpec } from '../types.ts';
import type { Capabilities } from './capabilities.ts';
import { InstanceCgroups } from './cgroups.ts';
import { launch, runtimeFor } from './launch.ts';
import type { RuntimeProcess } from './launcher.ts';
import { describeExit, lastLines } from './outcomes.ts';
import type { RunAs } from './proc.ts';
import { type RefusedRequest, RuntimeApi } from './runtime-api.ts';
import { instanceUidPool, uidInUse } from './uids.ts';
import { prepareBase, prepareWorkDir, removeWorkDir, type WorkDir } from './workdir.ts';

/** The runtimes that have stem cells: the ones Fare's own bootstraps serve. */
export type StemRuntime = 'nodejs' | 'python';
export const STEM_RUNTIMES: readonly StemRuntime[] = ['nodejs', 'python'];

/**
 * Variables an interpreter reads when it starts, not later: a function that sets one gets a runtime
 * started for it (the usual cold start), since a stem cell has started already without it.
 */
const STARTUP_VARIABLE = /^(NODE_|UV_|PYTHON|LD_|MALLOC_|GLIBC_|LC_|OPENSSL_)/;

/** Whether a stem cell can become this function's instance (its runtime, and nothing its interpreter reads at start). */
export function stemRuntimeOf(fn: FunctionSpec): StemRuntime | null {
  if (fn.runtime !== 'nodejs' && fn.runtime !== 'python') return null;
  for (const k of Object.keys(fn.env)) if (STARTUP_VARIABLE.test(k)) return null;
  return fn.runtime;
}

export interface StemCellOptions {
  readonly runtime: StemRuntime;
  /** The machine's capabilities: the sandbox helper must be there. */
  readonly caps: Capabilities;
  /** Where instance directories go (the instances'). */
  readonly baseDir: string;
  readonly runtimesDir: string;
  /** Groups every instance joins besides its own (the functions' cpuset). */
  readonly sharedGroups?: readonly string[];
  /** A process not its own called its Runtime API (for Fare's log). */
  readonly onRefused?: (id: string, r: RefusedRequest) => void;
  /** It died, or was killed, before it was taken. */
  readonly onDeath?: (cell: StemCell) => void;
}

/** What an Instance takes over from a stem cell (see Instance). */
export interface StemParts {
  readonly child: RuntimeProcess;
  readonly api: RuntimeApi;
  readonly cg: InstanceCgroups | null;
  readonly wd: WorkDir;
  readonly uid: number;
  /** What it printed while it waited (normally nothing). */
  readonly output: readonly Buffer[];
}

export type StemState = 'starting' | 'ready' | 'taken' | 'dead';

const ignore = (): void => undefined;

/** The nice value stem cells boot and wait at (Instance.adopt sets 0 on every thread of the one it takes). */
export const STEM_NICE = 19;

export class StemCell {
  readonly id: string;
  readonly runtime: StemRuntime;
  /** Resolves once its runtime waits for a function; rejects if it dies first. */
  readonly ready: Promise<void>;
  private _state: StemState = 'starting';
  private child: RuntimeProcess | null = null;
  private api: RuntimeApi | null = null;
  private cg: InstanceCgroups | null = null;
  private wd: WorkDir | null = null;
  private uid: number | null = null;
  private readonly output: Buffer[] = [];
  private outputBytes = 0;
  private killing: Promise<void> | null = null;
  private settle: { ok: () => void; fail: (e: Error) => void } = { ok: ignore, fail: ignore };

  private readonly onData = (b: Buffer): void => {
    if (this.outputBytes > 4096) return;
    this.output.push(b);
    this.outputBytes += b.length;
  };

  /** Its process ended ('exit': code and signal) or could not be spawned ('error'): it dies, saying how, with its last output. */
  private readonly onExit = (codeOrError: number | Error | null, signal?: NodeJS.Signals | null): void => {
    const how = codeOrError instanceof Error ? `could not be spawned (${codeOrError.message})` : `(${describeExit({ code: codeOrError, signal: signal ?? null })})`;
    const why = lastLines(Buffer.concat(this.output).toString('utf8'), 3);
    this.die(new Error(`FARE_E_STEM_DIED: the ${this.runtime} stem cell ${this.id} exited before it was taken ${how}${why !== '' ? `; last lines of its output: ${why}` : ''}`));
  };

  /** Starts one: its directory, uid, groups, Runtime API and process, in the sandbox. */
  constructor(private readonly opts: StemCellOptions) {
    this.runtime = opts.runtime;
    // The owner's pid is in the id, as an instance's: a later Fare removes what a dead one left.
    this.id = `stem-${opts.runtime}-p${process.pid}-${randomBytes(5).toString('hex')}`;
    this.ready = new Promise<void>((ok, fail) => (this.settle = { ok, fail }));
    this.ready.catch(ignore);
    this.start().catch((e: unknown) => this.die(e instanceof Error ? e : new Error(String(e))));
  }

  get state(): StemState {
    return this._state;
  }

  /** Its process's pid (the sandbox helper's), once launched. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** The instance it became (named in what its Runtime API refuses from then on), once taken. */
  private adoptedAs: string | null = null;

  /** Hands its process and everything around it to the Instance `instanceId` that adopts it; it is no stem cell any more. */
  take(instanceId: string): StemParts {
    const { child, api, wd, uid } = this;
    if (this._state !== 'ready' || child === null || api === null || wd === null || uid === null || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`FARE_E_STEM_STATE: stem cell ${this.id} is ${this._state}, not ready to be taken`);
    }
    this._state = 'taken';
    this.adoptedAs = instanceId;
    child.stdout?.off('data', this.onData);
    child.stderr?.off('data', this.onData);
    child.off('exit', this.onExit);
    child.off('error', this.onExit);
    return { child, api, cg: this.cg, wd, uid, output: this.output };
  }

  /** Kills it (not once taken: then it is an instance's, and dies with it). Idempotent. */
  kill(): Promise<void> {
    if (this._state === 'taken') return Promise.resolve();
    this.die(new Error(`FARE_E_STEM_DIED: the stem cell ${this.id} was killed before it was taken`));
    return this.killing ?? Promise.resolve();
  }

  /** It was ready once (a death before that is a failure to start: see StemCells). */
  get everReady(): boolean {
    return this.wasReady;
  }

  /** Why it died, once dead. */
  get death(): string | null {
    return this.deathReason;
  }

  private wasReady = false;
  private deathReason: string | null = null;

  private die(e: Error): void {
    if (this._state === 'taken' || this._state === 'dead') return;
    this._state = 'dead';
    this.deathReason = e.message;
    this.settle.fail(e);
    this.killing ??= this.teardown();
    // Told after the turn: a cell that fails as it starts is not reported from inside its constructor.
    queueMicrotask(() => this.opts.onDeath?.(this));
  }

  private async start(): Promise<void> {
    const { caps, runtime } = this.opts;
    const helper = caps.sandbox.helper;
    if (helper === null) throw new Error(`FARE_E_STEM_UNAVAILABLE: stem cells need the instance sandbox (${caps.sandbox.why})`);
    const { src, interp } = runtimeFor({ runtime } as FunctionSpec, caps, this.opts.runtimesDir);
    prepareBase(this.opts.baseDir);
    const uid = instanceUidPool(this.opts.baseDir, caps.uidRange).acquire();
    this.uid = uid;
    const owner: RunAs = { uid, gid: uid };
    const wd = prepareWorkDir(this.opts.baseDir, this.id, null, src, owner, true);
    this.wd = wd;
    const hasCgroups = Object.keys(caps.cgroups.v1).length > 0 || caps.cgroups.v2 !== null;
    this.cg = hasCgroups ? InstanceCgroups.create(caps.cgroups, this.id, caps.maxTasks) : null;
    const onRefused = this.opts.onRefused;
    const api = await RuntimeApi.listen({
      functionName: '',
      stem: true,
      peerUid: uid,
      onReport: ignore,
      onStemWaiting: () => {
        this.waiting = true;
        this.becomeReady();
      },
      ...(onRefused !== undefined ? { onRefused: (r: RefusedRequest) => onRefused(this.adoptedAs ?? this.id, r) } : {}),
    });
    if (this._state !== 'starting') return void (await api.close()); // killed meanwhile (the rest went with teardown)
    this.api = api;
    const file = runtime === 'nodejs' ? 'bootstrap.mjs' : 'bootstrap.py';
    const cmd = [interp ?? (runtime === 'nodejs' ? 'node' : 'python3'), join(wd.runtime, file)];
    this.launching = launch({
      cmd, cwd: wd.task, env: stemEnv(runtime, api.address, interp, wd), owner, setpriv: caps.setpriv,
      procs: [...(this.cg?.procsFiles() ?? []), ...(this.opts.sharedGroups ?? [])],
      // Booted at the lowest priority: a refill takes only the CPU the functions leave.
      sandbox: { helper, scratch: wd.tmp, nice: STEM_NICE },
      socketDir: this.opts.baseDir,
    }).then((child) => {
      this.child = child;
      child.stdout?.on('data', this.onData);
      child.stderr?.on('data', this.onData);
      child.once('error', this.onExit);
      child.once('exit', this.onExit);
      this.becomeReady();
    });
    await this.launching;
  }

  /** Its runtime asked for a function (`onStemWaiting`): it may have asked before the launcher told its process. */
  private waiting = false;

  /**
   * Ready once its runtime waits for a function *and* its process is known: a runtime can ask before
   * the launcher's answer arrives, and a cell taken then would have no process to hand over (the
   * instance would launch its own, and the cell, out of the set, would be left running).
   */
  private becomeReady(): void {
    if (this._state !== 'starting' || !this.waiting || this.child === null) return;
    this._state = 'ready';
    this.wasReady = true;
    this.settle.ok();
  }

  /** The launch (the launcher answers asynchronously): a kill meanwhile waits for its process, to kill it too. */
  private launching: Promise<void> | null = null;

  /** As an instance's teardown: every process, its server, groups and directory; its uid back once nothing of it is left. */
  private async teardown(): Promise<void> {
    await this.launching?.catch(ignore);
    const child = this.child;
    const signal = (sig: NodeJS.Signals): void => {
      if (child?.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // the group is gone
      }
    };
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      signal('SIGKILL');
      this.cg?.killAll();
      await exited;
    }
    signal('SIGKILL');
    this.cg?.killAll();
    await this.api?.close();
    const groupsGone = this.cg !== null && (await this.cg.remove());
    if (this.wd !== null) {
      try {
        removeWorkDir(this.wd);
      } catch {
        // best effort
      }
    }
    const uid = this.uid;
    if (uid !== null && (groupsGone || !uidInUse(uid))) instanceUidPool(this.opts.baseDir, this.opts.caps.uidRange).release(uid);
  }
}

/**
 * A stem cell's environment while it waits: only what every function of its runtime gets alike (the
 * Runtime API, paths, locale, Python's I/O settings, which its interpreter reads at start). The
 * function's own and Lambda's variables come with its orders (runtimeEnv), and replace these.
 */
export function stemEnv(runtime: StemRuntime, apiAddress: string, interp: string | null, wd: WorkDir): NodeJS.ProcessEnv {
  // As runtimeEnv's, which replaces it.
  const path = [...new Set([...(interp ? [dirname(interp)] : []), '/usr/local/bin', '/usr/bin', '/bin'])].join(':');
  return {
    FARE_STEM: '1',
    AWS_LAMBDA_RUNTIME_API: apiAddress,
    LAMBDA_RUNTIME_DIR: wd.runtime,
    TZ: ':UTC',
    HOME: '/tmp',
    TMPDIR: '/tmp',
    PATH: path,
    LANG: 'C.UTF-8',
    ...(runtime === 'python' ? { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } : {}),
  };
}
