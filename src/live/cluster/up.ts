// `fare cluster up`: a whole cluster on this machine for development and tests — nats-server (one,
// or three routed together with R3 state), then the shards, the workers and a gateway, each started
// as its own `fare` process exactly as on separate hosts, and stopped together.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsCluster, type NatsServer } from './nats-server.ts';
import { ADMIN_CREDENTIAL_FILE } from '../assembly.ts';
import type { WithinClass } from '../../core/machine/run-queue.ts';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { goRealtime } from './realtime.ts';

export interface ClusterUpOptions {
  readonly dataDir: string;
  readonly shards: number;
  readonly workers: number;
  /** Gateways (default 1), on `port`, `port` + 1, … (any free ports with port 0), sharing one master key. */
  readonly gateways?: number;
  /** 1, or 3 for a NATS cluster whose JetStream keeps three copies. */
  readonly natsServers: number;
  readonly host: string;
  readonly port: number;
  readonly policy: 'fare' | 'hermod' | 'fifo';
  readonly workerCores: number;
  readonly insecureSingleTenant: boolean;
  /** The `fare` command to start the parts with. */
  readonly bin: string;
  /** Subject prefix (default fare). */
  readonly prefix?: string;
  /** Membership: beat interval and timeout (ms; defaults those of the parts, 500 and 2000). */
  readonly heartbeatMs?: number;
  readonly memberTimeoutMs?: number;
  /** Workers join the shards' idle lists and shards place from them first (default true; see `fare shard --help`). */
  readonly idleLists?: boolean;
  /**
   * Every part serves its metrics on a listener of its own (`--metrics-port`, on 127.0.0.1): shards
   * from this port on, then workers, then gateways (0: each on any free port); undefined: none.
   */
  readonly metricsPort?: number;
  readonly log?: (line: string) => void;
  /** The environment of the parts (default this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the NATS servers listen, and the address the parts reach them at (default `host`). */
  readonly natsHost?: string;
  /**
   * Tests across hosts: a command put before each part's (e.g. `ip netns exec fare-w1`, to run it
   * in its own network namespace), and the address the gateway listens on there.
   */
  readonly wrap?: (part: string) => readonly string[];
  readonly gatewayHost?: string | ((part: string) => string);
  /** The workers' order within a class (`fare worker --within-class`; default the worker's). */
  readonly within?: WithinClass;
  /** The first gateway records its traffic in this file (`fare gateway --record`), gateway i > 0 in `FILE.gateway-i`. */
  readonly record?: string;
  /** The workers keep stem cells (default true where their host allows them; false: `fare worker --no-stem-cells`). */
  readonly stemCells?: boolean;
  /** How long the gateways keep invocation records and function logs, as `fare gateway --retention` takes it (e.g. `7d`, their default). */
  readonly retention?: string;
  /** Every part and the NATS servers under SCHED_RR above the functions (`--realtime`). */
  readonly realtime?: boolean;
  /**
   * On `close`: how long the gateways let their calls in flight finish, and then the workers the jobs
   * they still run (their `--shutdown-grace`; ms, default 30 s, as theirs).
   */
  readonly shutdownGraceMs?: number;
  /**
   * Every part and NATS server in a process group of its own, so that a terminal's Ctrl-C reaches
   * only the caller, which stops them in order (`close`; `fare cluster up`). Else they get it too,
   * all at once (NATS before the parts' drain).
   */
  readonly detached?: boolean;
  /**
   * What the parts print once up (their logs), line by line as it comes, for the caller to show
   * (`fare cluster up` prints it; default: kept only in each part's `output()`).
   */
  readonly relay?: (part: string, lines: string, stream: 'stdout' | 'stderr') => void;
  /** Put on every part's command line (`fare cluster up`'s --log-level and --log-format). */
  readonly partArgs?: readonly string[];
  /**
   * A part that exits on its own (it crashed, or was killed) is started again with the same
   * arguments: after 1 s, then twice as long each time it fails again within a minute of its start,
   * up to 30 s (`fare cluster up`). Else it stays down, said once (tests that kill parts on purpose).
   */
  readonly supervise?: boolean;
}

/** A crashed part is started again after this long at first… */
const REVIVE_FIRST_MS = 1000;
/** …twice as long each time it fails again within REVIVE_STABLE_MS of its start, up to this. */
const REVIVE_MAX_MS = 30_000;
const REVIVE_STABLE_MS = 60_000;

/** A part's output after its start is kept up to this many characters (its start in full): the latest. */
const OUTPUT_KEPT = 1 << 20;

/** One part of the cluster, as a child process. */
export interface Part {
  readonly name: string;
  readonly args: readonly string[];
  child: ChildProcess;
  /** Its output so far (of its latest start): all until it was up, then the latest MiB or two. */
  output: () => string;
}

export interface Cluster {
  /** The first gateway's endpoint. */
  readonly url: string;
  /** Every gateway's endpoint (parts `gateway`, `gateway-1`, …), as of its latest start. */
  readonly urls: readonly string[];
  readonly nats: readonly string[];
  readonly natsServers: readonly NatsServer[];
  readonly parts: readonly Part[];
  readonly adminCredentialFile: string;
  /** Starts a part again with the arguments it had (after it was killed). */
  restart(name: string): Promise<Part>;
  /**
   * Stops the parts in the order their work needs: the gateways first (SIGTERM: they take no new
   * calls and let those in flight finish, which needs the shards and the workers), then the workers
   * (the jobs they still run finish) and the shards, then NATS; each part has `shutdownGraceMs` and
   * is killed PART_STOP_MARGIN_MS after it. `now` (again, during a stop): each part is told a second
   * time, which stops it at once, and what is left is killed after 3 s.
   */
  close(now?: boolean): Promise<void>;
}

export async function clusterUp(o: ClusterUpOptions): Promise<Cluster> {
  const log = o.log ?? (() => {});
  const prefix = o.prefix ?? 'fare';
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const natsServers = await startNatsCluster(join(o.dataDir, 'nats'), o.natsServers, o.natsHost ?? o.host, o.detached === true, true);
  const nats = natsServers.map((s) => s.url);
  log(`nats: ${natsServers.length} server(s) at ${nats.join(', ')}`);
  if (o.realtime === true) {
    // The NATS servers carry every message between the parts: real-time as they are (they start
    // no processes, and their new threads must stay real-time).
    for (const s of natsServers) {
      const r = await goRealtime(DEFAULT_PRICE_TABLE.classes.length, s.child.pid ?? -1, false);
      log(`${s.name}: ${r.line}`);
    }
  }
  const graceMs = o.shutdownGraceMs ?? DEFAULT_GRACE_MS;
  // Given to the gateways and the workers as their `--shutdown-grace` (in seconds, as it is written).
  const graceArg = `${graceMs / 1000}s`;
  const stopWaitMs = graceMs + PART_STOP_MARGIN_MS;
  const common = ['--nats', nats.join(','), '--prefix', prefix, '--replicas', String(o.natsServers === 3 ? 3 : 1), '--policy', o.policy, ...(o.realtime === true ? ['--realtime'] : []),
    ...(o.heartbeatMs !== undefined ? ['--heartbeat-ms', String(o.heartbeatMs)] : []),
    ...(o.memberTimeoutMs !== undefined ? ['--member-timeout-ms', String(o.memberTimeoutMs)] : [])];
  const parts: Part[] = [];
  const start = async (name: string, args: readonly string[], ready: RegExp): Promise<Part> => {
    const wrap = o.wrap?.(name) ?? [];
    const all = [...args, ...(o.partArgs ?? [])];
    const [cmd, ...cmdArgs] = wrap.length > 0 ? [...wrap, process.execPath, o.bin, ...all] : [process.execPath, o.bin, ...all];
    // Its stdin is a lifeline: the part stops (as at SIGTERM) when this process's end closes, which
    // it does however this process exits, even killed (see the CLI's untilStopped).
    const child = spawn(cmd as string, cmdArgs, { env: { ...(o.env ?? process.env), FARE_LIFELINE: 'stdin' }, stdio: ['pipe', 'pipe', 'pipe'], detached: o.detached === true });
    child.stdin?.on('error', () => {}); // the part gone: nothing was to be written anyway
    // Until it is up, all it says (its start's lines, an error); then what follows, bounded (a
    // gateway logs a line per request), and relayed whole lines at a time.
    let text = '';
    let started = -1;
    // Decoded as a stream (a character cut by a chunk's end is whole in the next).
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    const kept = (c: string): void => {
      text += c;
      if (started >= 0 && text.length - started > 2 * OUTPUT_KEPT) text = `${text.slice(0, started)}…\n${text.slice(-OUTPUT_KEPT)}`;
    };
    child.stdout?.on('data', kept);
    child.stderr?.on('data', kept);
    const part: Part = { name, args, child, output: () => text };
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new Error(`${name} did not start within 60 s:\n${text}`));
      }, 60_000);
      const check = (): void => {
        if (!ready.test(text)) return;
        clearTimeout(timer);
        child.off('exit', exited);
        child.stdout?.off('data', check);
        started = text.length;
        if (o.relay !== undefined) {
          relayLines(child.stdout, (lines) => o.relay?.(name, lines, 'stdout'));
          relayLines(child.stderr, (lines) => o.relay?.(name, lines, 'stderr'));
        }
        done();
      };
      const exited = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        // What it said was wrong (its "fare: …" lines, as a user would read them), else all it printed.
        const said = text.split('\n').filter((l) => l.startsWith('fare: ')).map((l) => l.slice(6));
        const own = /\((FARE_E_[A-Z_]+)\)/.exec(said.join(' '))?.[1];
        fail(Object.assign(new Error(`${name} exited (${String(code ?? signal)}) before it was ready: ${said.length > 0 ? said.join('; ') : `\n${text}`}`), { code: own ?? 'FARE_E_PART' }));
      };
      child.stdout?.on('data', check);
      child.once('exit', exited);
    });
    const metricsAt = /(?:metrics: |Metrics: )(http:\/\/\S+\/metrics)/.exec(text)?.[1];
    log(`${name}: up (pid ${child.pid ?? '?'})${metricsAt !== undefined ? `, metrics at ${metricsAt}` : ''}`);
    const upAt = performance.now();
    child.once('exit', (code, signal) => crashed(name, upAt, String(code ?? signal)));
    return part;
  };
  let closing = false;
  /** Parts being restarted by `restart` (not by the supervision). */
  const restarting = new Set<string>();
  const revival = new Map<string, { delayMs: number; timer: NodeJS.Timeout | undefined }>();
  const readyOf = (name: string): RegExp => (name.startsWith('gateway') ? /Fare gateway is up: (http:\/\/\S+)/ : name.startsWith('shard') ? /Fare shard \d+ is up/ : /Fare worker \d+ is up/);
  const crashed = (name: string, upAt: number, how: string): void => {
    if (closing || restarting.has(name)) return;
    if (o.supervise !== true) {
      log(`${name}: exited (${how})`);
      return;
    }
    const r = revival.get(name) ?? { delayMs: 0, timer: undefined };
    // Up a while: a new failure, started again soon; failing again and again: less and less often.
    r.delayMs = performance.now() - upAt >= REVIVE_STABLE_MS ? REVIVE_FIRST_MS : Math.min(REVIVE_MAX_MS, Math.max(REVIVE_FIRST_MS, r.delayMs * 2));
    revival.set(name, r);
    log(`${name}: exited (${how}); starting it again in ${r.delayMs / 1000} s`);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      void revive(name);
    }, r.delayMs);
  };
  const revive = async (name: string): Promise<void> => {
    const p = parts.find((x) => x.name === name);
    if (closing || p === undefined) return;
    const startedAt = performance.now();
    let q: Part;
    try {
      q = await start(name, p.args, readyOf(name));
    } catch (e) {
      crashed(name, startedAt, `${(e as Error).message.split('\n')[0] ?? ''}`.replace(new RegExp(`^${name} `), ''));
      return;
    }
    if (closing) {
      await stopChild(q.child, stopWaitMs);
      return;
    }
    const before = [...urls];
    replaced(p, q);
    // A gateway on a port picked at start has another now: said.
    const moved = urls.findIndex((u, i) => u !== before[i]);
    if (moved >= 0) log(`${name}: now at ${urls[moved] ?? ''}`);
  };
  /** `p` is now its new start `q`: its process and output, and a gateway's URL. */
  const replaced = (p: Part, q: Part): void => {
    p.child = q.child;
    p.output = q.output;
    const gateway = p.name === 'gateway' ? 0 : /^gateway-(\d+)$/.exec(p.name)?.[1];
    if (gateway !== undefined) urls[Number(gateway)] = (readyOf('gateway').exec(q.output()) as RegExpExecArray)[1] as string;
  };
  const urls: string[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = async (now = false): Promise<void> => {
    closing = true;
    for (const r of revival.values()) clearTimeout(r.timer);
    const first = stopping === undefined;
    stopping ??= (async () => {
      const gateway = (p: Part): boolean => /^gateway(-\d+)?$/.test(p.name);
      await Promise.all(parts.filter(gateway).map((p) => stopChild(p.child, stopWaitMs)));
      await Promise.all(parts.filter((p) => !gateway(p)).map((p) => stopChild(p.child, stopWaitMs)));
      await Promise.all(natsServers.map((s) => s.stop()));
    })();
    if (now) {
      // Parts not told yet (the workers and shards wait for the gateways) get a first signal here.
      const untold = parts.filter((p) => !toldToStop.has(p.child));
      for (const p of untold) tellToStop(p.child);
      // The second signal, apart from the first (two sent together may arrive as one).
      if (first || untold.length > 0) await new Promise((r) => setTimeout(r, 200));
      for (const p of parts) stopNow(p.child);
    }
    return stopping;
  };
  try {
    const metricsArgs = (n: number): string[] => (o.metricsPort === undefined ? [] : ['--metrics-port', String(o.metricsPort === 0 ? 0 : o.metricsPort + n)]);
    const gateways = o.gateways ?? 1;
    const shardArgs = (i: number): string[] => ['shard', '--id', String(i), ...common, ...(o.idleLists === false ? ['--no-idle-lists'] : []), ...metricsArgs(i)];
    const workerArgs = (i: number): string[] => ['worker', '--id', String(i), '--shards', String(o.shards), ...(o.idleLists === false ? ['--no-idle-lists'] : []), '--cores', String(o.workerCores), '--data-dir', join(o.dataDir, `worker-${i}`), ...common, ...(o.insecureSingleTenant ? ['--insecure-single-tenant'] : []),
      // Functions reach the first gateway (its port is known unless it is picked at start).
      ...(o.port !== 0 ? ['--endpoint', `http://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${o.port}`] : []), ...metricsArgs(o.shards + i),
      ...(o.within !== undefined ? ['--within-class', o.within] : []), ...(o.stemCells === false ? ['--no-stem-cells'] : []), '--shutdown-grace', graceArg];
    // One master key for all gateways: the first one's, created here so the others can be given it.
    const masterKey = join(o.dataDir, 'master.key');
    if (!existsSync(masterKey)) writeFileSync(masterKey, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    const gatewayName = (i: number): string => (i === 0 ? 'gateway' : `gateway-${i}`);
    const gatewayArgs = (i: number): string[] => ['gateway', '--id', String(i), '--shards', String(o.shards), '--port', String(o.port === 0 ? 0 : o.port + i),
      '--host', (typeof o.gatewayHost === 'function' ? o.gatewayHost(gatewayName(i)) : o.gatewayHost) ?? o.host, '--data-dir', join(o.dataDir, gatewayName(i)), '--master-key-file', masterKey, ...common, ...metricsArgs(o.shards + o.workers + i),
      ...(o.record !== undefined ? ['--record', i === 0 ? o.record : `${o.record}.${gatewayName(i)}`] : []), ...(o.retention !== undefined ? ['--retention', o.retention] : []),
      // Its calls in flight may finish when it is stopped, within the time stopChild gives a part.
      '--shutdown-grace', graceArg];
    const starts: Promise<Part>[] = [];
    for (let i = 0; i < o.shards; i++) starts.push(start(`shard-${i}`, shardArgs(i), /Fare shard \d+ is up/));
    for (let i = 0; i < o.workers; i++) starts.push(start(`worker-${i}`, workerArgs(i), /Fare worker \d+ is up/));
    parts.push(...(await Promise.all(starts)));
    // The first gateway alone (it makes the admin and the examples), then the others together.
    const up = readyOf('gateway');
    const gateway = await start('gateway', gatewayArgs(0), up);
    parts.push(gateway);
    const more = await Promise.all(Array.from({ length: gateways - 1 }, (_, j) => start(gatewayName(j + 1), gatewayArgs(j + 1), up)));
    parts.push(...more);
    for (const g of [gateway, ...more]) urls.push((up.exec(g.output()) as RegExpExecArray)[1] as string);
    return {
      // A gateway restarted on port 0 gets another port: `url` and `urls` follow.
      get url() {
        return urls[0] as string;
      },
      urls, nats, natsServers, parts,
      adminCredentialFile: join(o.dataDir, 'gateway', ADMIN_CREDENTIAL_FILE),
      async restart(name) {
        const p = parts.find((x) => x.name === name);
        if (p === undefined) throw new Error(`no part named ${name}: ${parts.map((x) => x.name).join(', ')}`);
        restarting.add(name);
        try {
          await stopChild(p.child, stopWaitMs);
          replaced(p, await start(name, p.args, readyOf(name)));
        } finally {
          restarting.delete(name);
        }
        return p;
      },
      close: (now?: boolean) => stopAll(now),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Calls `to` with each run of whole lines `from` (set to utf8) gives from now on (a line cut by a chunk waits for its end). */
function relayLines(from: NodeJS.ReadableStream | null, to: (lines: string) => void): void {
  let partial = '';
  from?.on('data', (c: string) => {
    const t = partial + c;
    const end = t.lastIndexOf('\n') + 1;
    partial = t.slice(end);
    if (end > 0) to(t.slice(0, end));
  });
  from?.on('end', () => {
    if (partial !== '') to(`${partial}\n`);
    partial = '';
  });
}

/** A part still running this long past its grace (`shutdownGraceMs`) once told to stop is killed. */
export const PART_STOP_MARGIN_MS = 5000;
const DEFAULT_GRACE_MS = 30_000;

/** A part told a second time stops at once (its own rule for a second signal); after this long it is killed. */
const STOP_NOW_WAIT_MS = 3000;

/** Tells a part that is stopping to stop at once, and kills it if it has not within STOP_NOW_WAIT_MS. */
function stopNow(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const hard = setTimeout(() => child.kill('SIGKILL'), STOP_NOW_WAIT_MS);
  child.once('exit', () => clearTimeout(hard));
  child.kill('SIGTERM');
}

/** The parts told to stop (a first SIGTERM): a second one stops them at once. */
const toldToStop = new WeakSet<ChildProcess>();

function tellToStop(child: ChildProcess): void {
  toldToStop.add(child);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

/** Tells a part to stop (SIGTERM) and kills it if it has not within `waitMs`. */
function stopChild(child: ChildProcess, waitMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), waitMs);
    child.once('exit', () => {
      clearTimeout(hard);
      done();
    });
    tellToStop(child);
  });
}
