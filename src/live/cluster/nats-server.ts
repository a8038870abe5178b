// Starts real `nats-server` processes (Debian package `nats-server`) with JetStream: one server, or a
// cluster of three with routes between them, for `fare cluster up` and the tests. Fare does no
// replication of its own: a clustered JetStream (R3 streams) is what keeps its state.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface NatsServer {
  readonly name: string;
  /** `nats://host:port` for clients. */
  readonly url: string;
  readonly clusterPort: number | undefined;
  readonly child: ChildProcess;
  /** The server's log so far. */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Where `nats-server` is, or why it is missing (with how to get it). */
export function findNatsServer(): { ok: true; path: string; version: string } | { ok: false; why: string } {
  for (const path of [process.env.FARE_NATS_SERVER, 'nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (!path) continue;
    const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { ok: true, path, version: r.stdout.trim() };
  }
  return { ok: false, why: 'nats-server is not installed: `apt-get install -y nats-server` (Debian/Ubuntu), or set FARE_NATS_SERVER to its path' };
}

/** A TCP port free on `host` now (the kernel's choice). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => done(port));
    });
  });
}

export interface NatsServerOptions {
  /** JetStream's files go under `<dir>/<name>`. */
  readonly dir: string;
  readonly name: string;
  readonly host?: string;
  /** Client port (default: a free one). */
  readonly port?: number;
  /** A cluster: this server's route port and every member's route URL (its own included). */
  readonly cluster?: { readonly name: string; readonly port: number; readonly routes: readonly string[] };
  /** In a process group of its own: a terminal's Ctrl-C reaches only its starter, which stops it in turn (`fare cluster up`). */
  readonly detached?: boolean;
  /**
   * Stopped (SIGTERM) by the kernel when its starter's thread exits, however it exits (PR_SET_PDEATHSIG,
   * through util-linux's `setpriv`, which then becomes the server): a killed `fare cluster up` leaves no
   * server behind. Where `setpriv` cannot, the server is started as it is and outlives a killed starter.
   */
  readonly dieWithParent?: boolean;
}

let setpriv: boolean | undefined;

/** Whether util-linux's `setpriv` can set a parent-death signal here (asked once). */
function canSetParentDeathSignal(): boolean {
  if (setpriv === undefined) {
    const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    setpriv = r.status === 0 && r.stdout.includes('--pdeathsig');
  }
  return setpriv;
}

/** Starts one nats-server with JetStream and resolves once it accepts clients. */
export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServer> {
  const found = findNatsServer();
  if (!found.ok) throw Object.assign(new Error(found.why), { code: 'FARE_E_NO_NATS' });
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const store = join(opts.dir, opts.name);
  mkdirSync(store, { recursive: true });
  // A config file rather than flags: the cluster block has no complete flag form in 2.9.
  const conf = [
    `server_name: ${JSON.stringify(opts.name)}`,
    `listen: ${JSON.stringify(`${host}:${port}`)}`,
    `jetstream { store_dir: ${JSON.stringify(store)} }`,
    ...(opts.cluster
      ? [`cluster { name: ${JSON.stringify(opts.cluster.name)}, listen: ${JSON.stringify(`${host}:${opts.cluster.port}`)}, routes: [${opts.cluster.routes.map((r) => JSON.stringify(r)).join(', ')}] }`]
      : []),
  ].join('\n');
  const confFile = join(opts.dir, `${opts.name}.conf`);
  writeFileSync(confFile, `${conf}\n`);
  const command = opts.dieWithParent === true && canSetParentDeathSignal() ? ['setpriv', '--pdeathsig', 'TERM', '--', found.path] : [found.path];
  const child = spawn(command[0] as string, [...command.slice(1), '-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached === true });
  let text = '';
  const onData = (c: Buffer): void => {
    text += c.toString('utf8');
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`nats-server ${opts.name} did not start within 10 s:\n${text}`)), 10_000);
    const check = (): void => {
      if (/Server is ready/.test(text)) {
        clearTimeout(timer);
        child.off('exit', exited);
        done();
      }
    };
    const exited = (code: number | null): void => {
      clearTimeout(timer);
      fail(new Error(`nats-server ${opts.name} exited (${String(code)}) before it was ready:\n${text}`));
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', exited);
  });
  return {
    name: opts.name,
    url: `nats://${host}:${port}`,
    clusterPort: opts.cluster?.port,
    child,
    output: () => text,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => stopChild(child, signal),
  };
}

/** Starts `n` servers (1, or 3 for a cluster whose JetStream replicates streams three times); `detached` and `dieWithParent` as NatsServerOptions says. */
export async function startNatsCluster(dir: string, n: number, host = '127.0.0.1', detached = false, dieWithParent = false): Promise<NatsServer[]> {
  if (n === 1) return [await startNatsServer({ dir, name: 'nats-1', host, detached, dieWithParent })];
  const routes: number[] = [];
  for (let i = 0; i < n; i++) routes.push(await freePort(host));
  const urls = routes.map((p) => `nats-route://${host}:${p}`);
  return Promise.all(routes.map((p, i) => startNatsServer({ dir, name: `nats-${i + 1}`, host, detached, dieWithParent, cluster: { name: 'fare', port: p, routes: urls } })));
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(hard);
      done();
    });
    child.kill(signal);
  });
}
