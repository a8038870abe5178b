// Starting runtimes without forking Fare. A fork copies the forking process's page tables: on this
// paravirtualised machine `child_process.spawn` from a process of ≈ 200 MB blocks its event loop
// 27 ms (median; 180 ms at worst), and `fare up` spawned every runtime — each cold start, each stem
// cell refill — from its main thread, freezing every invocation meanwhile. Here a small, long-lived
// **launcher process** (launcher-process.mjs: Node.js with nothing loaded but child_process, net
// and fs) spawns them instead; Fare only sends it a request over the IPC channel and hears back the
// pid, later the exit (code, signal), or a spawn error.
//
// The runtime's output does not pass through the launcher: `InstanceOutput.drained()` (output.ts)
// relies on a chunk the runtime wrote before it answered being read within one turn of Fare's event
// loop, which a hop through another process would break. Fare listens on a unix socket of its own
// (`.launcher-p<pid>-<hex>` in the instances directory, mode 0600) while launches wait for their
// streams, and closes it (its file gone) once none does: the streams it accepted live on. For each
// spawn the launcher connects twice, writes a header naming the spawn (a random token) and the
// stream, and passes the two sockets as the child's stdout and stderr — so the runtime writes
// straight into Fare's socket, an AF_UNIX stream socket just like the socketpair Node's own
// `stdio: 'pipe'` gives a child (runtimes cannot tell the difference). A socket file left by a Fare
// killed mid-launch goes with the stale instance directories (reapStaleWorkDirs).
// Passing the child's pipes back over the IPC channel instead (Node can send a net.Socket) would
// lose output: the launcher's end of a pipe reads from the moment it exists, and a handle being
// sent is read and discarded until Fare acknowledges it.
//
// The launcher is forked once (at start-up by `fare up`, else at the first launch), detached (a
// terminal's Ctrl-C does not reach it) and unreferenced (it does not keep Fare alive). It exits when
// its IPC channel closes — Fare exited or was killed, even by SIGKILL — after killing the process
// group of every runtime it started that still runs, stem cells included (and thawing their frozen
// groups: a task frozen by the v1 freezer dies only once thawed); the sandbox helpers die with it
// anyway (PR_SET_PDEATHSIG; the helper's `--parent` is the launcher's pid). So nothing Fare started
// outlives a `kill -9` of Fare (test/fare-killed.test.ts). If the launcher dies while
// Fare runs, Fare cannot hear the exits of the runtimes it started any more: each of those is
// treated as exited — its process group is killed and an exit by SIGKILL is reported — so no
// instance waits for ever; a launch it had not answered is reported as a spawn error; the next
// launch starts a new launcher. Where no launcher can start (it dies before it says it is ready,
// or it cannot reach Fare's socket), or with `FARE_LAUNCHER=off`, runtimes are spawned directly as
// before (`spawnDirect`). They are then Fare's own children, and a `kill -9` of Fare ends them only
// in the sandbox (the helper's parent-death signal). Without it nothing kills them: a runtime of
// Fare's own bootstraps exits when it next calls its Runtime API and finds Fare gone — at once if
// it waits for its next event, when its handler returns if it is busy — but one frozen between
// invocations stays frozen, and a `provided` runtime does what its code does, until the next
// `fare up` kills what is in the groups a dead Fare left (reapStaleGroups).
//
// Past 400 lines: the process handle a launch returns (output held until it is listened to, an exit
// reported a turn later), the launcher's messages and its death, and the output socket's accept and
// matching are one protocol seen from Fare's side; split, each part would reach into the others.

import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A readable stream of a runtime's output, as callers use it: 'data' events. */
export interface OutputStream {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
}

/**
 * A started runtime: what callers use of a ChildProcess (which is one, when spawned directly).
 * They signal it themselves, by process group (`process.kill(-pid, sig)`).
 */
export interface RuntimeProcess {
  /** undefined when the spawn failed ('error' follows). */
  readonly pid?: number | undefined;
  readonly stdout: OutputStream | null;
  readonly stderr: OutputStream | null;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (e: Error) => void): unknown;
  off(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  off(event: 'error', listener: (e: Error) => void): unknown;
}

/** One spawn: the command, its directory and environment, and the late join (see launch.ts). */
export interface SpawnRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly detached: boolean;
  /** Spawn as this user (Node drops privileges itself; only without setpriv and the sandbox). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** `cgroup.procs` files the child's pid is written into right after the spawn. */
  readonly join: readonly string[];
}

/** Spawns in this process (the fallback): blocks the event loop for the fork. */
export function spawnDirect(req: SpawnRequest): ChildProcess {
  const child = spawn(req.file, req.args, {
    cwd: req.cwd,
    env: req.env,
    detached: req.detached,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(req.user !== undefined ? { uid: req.user.uid, gid: req.user.gid } : {}),
  });
  if (child.pid !== undefined) {
    for (const f of req.join) {
      try {
        writeFileSync(f, String(child.pid));
      } catch {
        // accounting then misses this group; the instance still runs
      }
    }
  }
  return child;
}

/** What a launched runtime printed before anyone listened is kept (up to this many bytes) for the first listener. */
const EARLY_OUTPUT_BYTES = 1 << 20;

/** A stream of output read from Fare's socket: chunks that come before the first 'data' listener wait for it. */
class Output implements OutputStream {
  private readonly listeners: ((chunk: Buffer) => void)[] = [];
  private early: Buffer[] = [];
  private earlyBytes = 0;

  push(b: Buffer): void {
    if (this.listeners.length > 0) {
      for (const l of [...this.listeners]) l(b);
    } else if (this.earlyBytes < EARLY_OUTPUT_BYTES) {
      this.early.push(b);
      this.earlyBytes += b.length;
    }
  }

  on(_event: 'data', listener: (chunk: Buffer) => void): this {
    this.listeners.push(listener);
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const b of early) this.push(b);
    return this;
  }

  off(_event: 'data', listener: (chunk: Buffer) => void): this {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
    return this;
  }
}

/** A runtime started by the launcher. Its exit and errors are told once its launch has been answered. */
class Launched extends EventEmitter implements RuntimeProcess {
  pid: number | undefined = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdout = new Output();
  readonly stderr = new Output();
  /** The sockets its output comes through (closed at their end). */
  readonly sockets: Socket[] = [];
  private handedOver = false;
  private readonly held: (() => void)[] = [];

  /** Runs `f` now if the caller has the handle (and its listeners), else once it has. */
  tell(f: () => void): void {
    if (this.handedOver) f();
    else this.held.push(f);
  }

  /** The caller has it: what happened meanwhile is told after its `await` (a later turn). */
  handOver(): void {
    setImmediate(() => {
      this.handedOver = true;
      for (const f of this.held.splice(0)) f();
    });
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    this.exitCode = code;
    this.signalCode = signal;
    this.tell(() => this.emit('exit', code, signal));
  }

  failed(e: Error, errno: number): void {
    this.exitCode = errno;
    for (const s of this.sockets) s.destroy();
    this.tell(() => this.emit('error', e));
  }
}

interface Pending {
  readonly id: number;
  readonly token: string;
  readonly handle: Launched;
  /** The socket its streams come to. */
  readonly via: OutputSocket;
  readonly done: (p: RuntimeProcess | null) => void;
  out: boolean;
  err: boolean;
  answered: boolean;
  timer: NodeJS.Timeout | null;
}

type FromLauncher =
  | { t: 'ready'; pid: number }
  | { t: 'spawned'; id: number; pid: number }
  | { t: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { t: 'error'; id: number; stage: 'connect' | 'spawn'; message: string; code?: string; errno?: number; syscall?: string; path?: string };

/** How long a spawned runtime's output sockets may take to reach Fare before the launch counts as failed. */
const STREAMS_WITHIN_MS = 5_000;

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'launcher-process.mjs');

/** Fare's socket for the runtimes' output, and the launches whose streams it waits for (by token). */
class OutputSocket {
  readonly path: string;
  private readonly server: Server;
  private broken = false;
  readonly byToken = new Map<string, Pending>();

  constructor(dir: string) {
    const name = `.launcher-p${process.pid}-${randomBytes(5).toString('hex')}`;
    this.path = Buffer.byteLength(join(dir, name)) <= 100 ? join(dir, name) : join(tmpdir(), name);
    this.server = createServer((s) => this.accept(s));
    this.server.on('error', () => {
      this.broken = true;
    });
    this.server.listen(this.path);
    this.server.unref();
    process.once('exit', this.unlink);
    try {
      chmodSync(this.path, 0o600);
    } catch {
      this.broken = true;
    }
  }

  /** Still usable: listening, and its file still there (a test may remove the directory). */
  get ok(): boolean {
    return !this.broken && existsSync(this.path);
  }

  private closed = false;

  /** Stops listening (the file goes with it); the streams it accepted go on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.unlink);
    this.server.close();
  }

  /** At Fare's exit: the file would otherwise stay until a later Fare removes it (reapStaleWorkDirs). */
  private readonly unlink = (): void => {
    try {
      unlinkSync(this.path);
    } catch {
      // gone already
    }
  };

  /** A stream from the launcher: `<token> 1|2\n`, then the runtime's output. */
  private accept(s: Socket): void {
    s.on('error', () => s.destroy());
    let head: Buffer = Buffer.alloc(0);
    const unmatched = setTimeout(() => s.destroy(), STREAMS_WITHIN_MS);
    const onHead = (b: Buffer): void => {
      head = head.length === 0 ? b : Buffer.concat([head, b]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > 64) s.destroy();
        return;
      }
      s.off('data', onHead);
      clearTimeout(unmatched);
      const m = /^([0-9a-f]{32}) ([12])$/.exec(head.subarray(0, nl).toString('latin1'));
      const p = m !== null ? this.byToken.get(m[1] ?? '') : undefined;
      if (m === null || p === undefined) {
        s.destroy();
        return;
      }
      const out = m[2] === '1' ? p.handle.stdout : p.handle.stderr;
      if (m[2] === '1') p.out = true;
      else p.err = true;
      p.handle.sockets.push(s);
      s.on('data', (c: Buffer) => out.push(c));
      s.once('end', () => s.destroy());
      const rest = head.subarray(nl + 1);
      if (rest.length > 0) out.push(rest);
      settle(p);
    };
    s.on('data', onHead);
  }
}

let socket: OutputSocket | null = null;
let launcher: Launcher | null = null;
/** Why runtimes are spawned directly for good (the launcher could not start here), or null. */
let unavailable: string | null = process.env['FARE_LAUNCHER'] === 'off' ? 'FARE_LAUNCHER=off' : null;
let nextId = 1;

/** Answers a launch once its pid and both its streams are in (or it failed). */
function settle(p: Pending): void {
  if (p.answered || p.handle.pid === undefined || !p.out || !p.err) return;
  p.answered = true;
  unlist(p);
  p.done(p.handle);
  p.handle.handOver();
}

function fail(p: Pending, e: Error, errno: number): void {
  if (p.answered) return;
  p.answered = true;
  unlist(p);
  p.handle.failed(e, errno);
  p.done(p.handle);
  p.handle.handOver();
}

/** Kills a runtime's process group (one whose exit can no longer be heard). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined || pid <= 1) return; // kill(-1) would signal every process there is
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** The launcher process, and the launches it has not finished (by request id). */
class Launcher {
  readonly proc: ChildProcess;
  readonly pid: number;
  private ready = false;
  private dead = false;
  /** Launches not answered yet, and runtimes whose exit is still to come. */
  private readonly open = new Map<number, Pending>();

  constructor() {
    // Nothing of Fare's Node.js options (a loader, a profiler): the launcher stays small.
    const { NODE_OPTIONS: _options, ...env } = process.env;
    this.proc = fork(SCRIPT, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [],
      env,
      detached: true,
    });
    if (this.proc.pid === undefined) throw new Error('the launcher process could not be started');
    this.pid = this.proc.pid;
    this.proc.unref();
    this.proc.on('message', (m: FromLauncher) => this.onMessage(m));
    this.proc.once('exit', () => this.died());
    this.proc.once('disconnect', () => this.died());
    this.proc.on('error', () => this.died());
    this.refresh();
  }

  get alive(): boolean {
    return !this.dead;
  }

  send(req: SpawnRequest, out: OutputSocket): Promise<RuntimeProcess | null> {
    return new Promise((done) => {
      const id = nextId++;
      const token = randomBytes(16).toString('hex');
      const p: Pending = { id, token, handle: new Launched(), via: out, done, out: false, err: false, answered: false, timer: null };
      this.open.set(id, p);
      out.byToken.set(token, p);
      this.refresh();
      const { user, ...rest } = req;
      this.proc.send({ t: 'spawn', id, token, socket: out.path, ...rest, ...(user !== undefined ? { uid: user.uid, gid: user.gid } : {}) });
    });
  }

  private onMessage(m: FromLauncher): void {
    if (m.t === 'ready') {
      this.ready = true;
      return;
    }
    const p = this.open.get(m.id);
    if (p === undefined) return;
    switch (m.t) {
      case 'spawned':
        p.handle.pid = m.pid;
        // Its streams were connected before the spawn; they can only be late, not missing, unless Fare's socket broke.
        p.timer = setTimeout(() => {
          killGroup(m.pid);
          this.forget(p);
          fail(p, new Error(`FARE_E_LAUNCHER: the output of runtime ${m.pid} did not reach Fare within ${STREAMS_WITHIN_MS} ms; it was killed`), -1);
        }, STREAMS_WITHIN_MS);
        settle(p);
        return;
      case 'exit':
        this.forget(p);
        p.handle.exited(m.code, m.signal);
        return;
      case 'error': {
        this.forget(p);
        if (m.stage === 'connect') {
          // Nothing was spawned: Fare's socket is unusable (a new one next time); this one is spawned directly.
          if (socket === p.via) socket = null;
          p.answered = true;
          unlist(p);
          p.done(null);
          return;
        }
        const e = Object.assign(new Error(m.message), { code: m.code, errno: m.errno, syscall: m.syscall, path: m.path });
        fail(p, e, m.errno ?? -1);
        return;
      }
      default: {
        const never: never = m;
        throw new Error(`unknown launcher message ${JSON.stringify(never)}`);
      }
    }
  }

  private forget(p: Pending): void {
    this.open.delete(p.id);
    this.refresh();
  }

  /** The IPC channel keeps Fare's event loop alive only while an answer or an exit is awaited. */
  private refresh(): void {
    const ch = this.proc.channel;
    if (ch === undefined || ch === null) return;
    if (this.open.size > 0) ch.ref();
    else ch.unref();
  }

  /**
   * The launcher is gone: the runtimes it started are treated as exited (their process groups
   * killed), launches it had not answered as failed — or, if it never got ready (nothing was
   * spawned), they are spawned directly and so is every later one.
   */
  private died(): void {
    if (this.dead) return;
    this.dead = true;
    if (launcher === this) launcher = null;
    try {
      this.proc.kill('SIGKILL');
    } catch {
      // gone
    }
    if (!this.ready) unavailable = 'the launcher process exited before it was ready';
    const open = [...this.open.values()];
    this.open.clear();
    for (const p of open) {
      if (p.answered) {
        killGroup(p.handle.pid);
        p.handle.exited(null, 'SIGKILL');
      } else if (!this.ready) {
        p.answered = true;
        unlist(p);
        p.done(null);
      } else {
        killGroup(p.handle.pid);
        fail(p, new Error('FARE_E_LAUNCHER_LOST: the launcher process died during the launch'), -1);
      }
    }
  }
}

/** A launch no longer waits for its streams; the socket closes when no launch does. */
function unlist(p: Pending): void {
  p.via.byToken.delete(p.token);
  if (p.timer !== null) clearTimeout(p.timer);
  if (p.via.byToken.size > 0) return;
  p.via.close();
  if (socket === p.via) socket = null;
}

/** The launcher, started if needed (null where it cannot be: then spawn directly). */
function currentLauncher(): Launcher | null {
  if (unavailable !== null) return null;
  if (launcher?.alive) return launcher;
  try {
    launcher = new Launcher();
  } catch (e) {
    unavailable = `the launcher process could not be started: ${(e as Error).message}`;
    launcher = null;
  }
  return launcher;
}

/**
 * Starts the launcher now (`fare up` at start-up, so that no launch pays for its fork). Returns a
 * line for the start-up report.
 */
export function startLauncher(): string {
  const l = currentLauncher();
  if (l === null) return `runtime spawns: by Fare itself (${unavailable ?? 'no launcher'}), each blocking its event loop for the fork`;
  return `runtime spawns: by a launcher process (pid ${l.pid}), so Fare's event loop never forks`;
}

/**
 * Spawns through the launcher: `make(parent)` builds the request for the runtime's parent pid (the
 * sandbox helper checks it). Resolves with the runtime once its pid and output streams are in (a
 * failed spawn: `pid` undefined, 'error' follows), or null where there is no launcher (spawn directly).
 * `dir`: where Fare's output socket goes if none is open (the instances directory).
 */
export async function spawnViaLauncher(make: (parent: number) => SpawnRequest, dir: string): Promise<RuntimeProcess | null> {
  const l = currentLauncher();
  if (l === null) return null;
  if (socket === null || !socket.ok) socket = new OutputSocket(dir);
  return l.send(make(l.pid), socket);
}

/** The launcher's pid, if one runs (for tests and diagnostics). */
export function launcherPid(): number | null {
  return launcher?.alive ? launcher.pid : null;
}
