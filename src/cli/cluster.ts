// `fare gateway`, `fare shard`, `fare worker` and `fare cluster up`: Fare on many machines, each part
// its own process over NATS. Parses options into the cluster's configs; no policy here.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_PRICE_TABLE } from '../core/classes.ts';
import { formatDuration, METRICS_OPTIONS, metricsListen, parse, RETENTION_OPTION, retentionMs, SHUTDOWN_GRACE_OPTION, shutdownGraceMs, UsageError, withinClass } from './args.ts';
import { createLogger, LOG_HELP, logOptions, logSettings } from './logger.ts';
import { claimDataDir } from './data-dir-claim.ts';
import { onStopSignals, say, sayError } from './stopping.ts';

const COMMON = `  --nats URL[,URL…]   NATS servers (default nats://127.0.0.1:4222)
  --prefix P          first token of the cluster's subjects and buckets (default fare)
  --replicas 1|3      copies JetStream keeps of the cluster's state (3 on a 3-node NATS cluster)
  --policy fare|hermod|fifo   (the same on every part)
  --heartbeat-ms 500  how often each part announces itself
  --member-timeout-ms 2000    a part not heard for this long is dropped (its jobs fail or move)
  --realtime          run this part under SCHED_RR, above every function instance (needs root or
                      CAP_SYS_NICE): a message between the parts is handled the moment it comes,
                      whatever the functions compute. The price: the part's own work goes before the
                      functions on its host (the kernel keeps a share of each CPU for others). The
                      processes it starts (functions' instances) begin under SCHED_OTHER
${LOG_HELP}`;

const METRICS_HELP = `  --metrics-port N    serve this process's Prometheus metrics on GET /metrics of a listener of its
                      own, with no credential (0: any free port; default: none)
  --metrics-host H    where that listener binds (default 127.0.0.1: the metrics show tenants' spend)`;

const HELP: Record<string, string> = {
  gateway: `fare gateway — the HTTP APIs of a Fare cluster

Usage: fare gateway --shards S [--id 0] [--port 8080] [--host 127.0.0.1] [--data-dir ./.fare-gateway]
                    [--master-key-file FILE] [--no-examples] [--fsync] [--retention 7d] [--region us-east-1]
                    [--record FILE] [--shutdown-grace 30s] [common options]
${COMMON}
${METRICS_HELP}
  --master-key-file FILE   the cluster's master key (a copy of the first gateway's
                      <data-dir>/master.key): every gateway of a cluster needs the same one
  --retention 7d      how long this gateway's copy keeps invocation records (billing records, finished
                      async invocations and their results) and function logs, e.g. 30m, 12h or 7d
                      (default 7d, at least 1m); older ones are deleted in small batches in the
                      background, their usage kept per function, class and hour, so bills and usage do
                      not change (as fare up --retention; give every gateway the same)
  --region R          the region named in ARNs (default us-east-1; give every gateway and worker the same)
  --record FILE       write the executions this gateway sends (arrival, class, the time each held a
                      core and on which worker, memory, latency) to FILE, for fare sim replay FILE
  --shutdown-grace 30s  on SIGTERM or Ctrl-C, stop listening and let the calls in flight finish for up
                      to this long (at most 15m; 0s: none), answering a request that comes on an open
                      connection meanwhile 503 FARE_E_SHUTTING_DOWN, so a load balancer sends it to
                      another gateway; an async invocation cut is delivered again. A second signal
                      stops at once

Authenticates, applies budgets and sends each invocation to its function's shard (by function, the
same from every gateway). Run as many gateways as you like, each with its own --id and --data-dir,
behind any HTTP load balancer: tenants, credentials, grants and functions are shared through
JetStream's key-value store, and billing records through a stream every gateway's ledger reads
(each record counted once). Each gateway keeps its copy in an SQLite file under --data-dir and
rebuilds it from JetStream when it starts empty. A write through one gateway is answered once
JetStream has it; the others see it within milliseconds. Async invocations are queued in a
JetStream work queue that every gateway runs from. The admin credential is created
on the cluster's first start in <data-dir>/admin-credential, or taken from FARE_ADMIN_KEY.
GET /metrics on the gateway's port answers administrators (Bearer) with its Prometheus metrics.`,
  shard: `fare shard — one global scheduler shard of a Fare cluster

Usage: fare shard --id N [--k 2] [--poll-timeout-ms 50] [--no-idle-lists] [--metrics-port N] [common options]
${COMMON}
${METRICS_HELP}

Queues arriving jobs by class and places each on the least loaded of k polled workers, among the
workers it hears heartbeats from — first on its idle list's emptiest worker while that one has a free
core (--no-idle-lists: polling only). Its state is soft: a restarted shard starts empty (its workers
join its idle list again), and the gateways send the jobs it held, not yet started, to the shards that
remain.`,
  worker: `fare worker — one machine of a Fare cluster

Usage: fare worker --id N [--shards S] [--no-idle-lists] [--cores C] [--data-dir ./.fare-worker] [--strict-priorities]
                   [--within-class fcfs|las|sef|ps] [--memory-mb MB] [--no-swapping] [--insecure-single-tenant]
                   [--no-stem-cells] [--endpoint URL] [--region us-east-1] [--metrics-port N] [--shutdown-grace 30s]
                   [common options]
${COMMON}
${METRICS_HELP}
  --no-stem-cells     keep no runtimes started ahead for cold starts (see Cold starts below)
  --shutdown-grace 30s  on SIGTERM or Ctrl-C, take no new jobs (the shards drop this worker) and let
                      those it runs finish for up to this long (at most 15m; 0s: none); a second
                      signal stops at once
  --endpoint URL      where functions reach the gateways (their load balancer): given to functions as
                      FARE_ENDPOINT and AWS_ENDPOINT_URL_LAMBDA, so the AWS SDK inside them calls Fare
  --region R          given to functions as AWS_REGION (default us-east-1)

Runs the machine scheduler (preemptive priority by class; within a class --within-class: las, the
default (as on fare up), fcfs (the paper's), sef, or ps (round robin in 20 ms slices)) over real instances on this host; fetches
a function's code from the cluster's object store the first time it runs it. With --shards S (the
cluster's shard count, as given to the gateways), its dispatcher joins the emptiest of two shards'
idle lists while over half of the machine's memory is available (/proc/meminfo), and leaves under a
quarter; a shard places on a listed worker first while it has a free core (its cores are told on
joining). Without --shards, or with --no-idle-lists, it joins none: the shards poll it.
Memory: under 10 % of the machine's memory free, idle instances, then the lowest classes' preempted
ones, are swapped out (where there is swap), and read back in before they run; --memory-mb manages that much memory
instead of the machine's; --no-swapping turns swapping off.
Cold starts: as on fare up, a few Node.js and Python runtimes ("stem cells") are kept started ahead,
each already in its own sandbox (which needs root), and a function's first call on this worker takes
one instead of booting a runtime (1-4 per runtime, following the rate of cold starts; none while under
20 % of the managed memory is free; never billed, and each serves one function only); the start-up
report says which runtimes have them; --no-stem-cells turns them off.`,
  cluster: `fare cluster up — a whole Fare cluster on this machine, for development and tests

Usage: fare cluster up [--shards 2] [--workers 2] [--gateways 1] [--nats-cluster 1|3] [--port 8080]
                       [--host 127.0.0.1] [--data-dir ./.fare-cluster] [--policy fare]
                       [--worker-cores C] [--within-class fcfs|las|sef|ps] [--heartbeat-ms 500]
                       [--member-timeout-ms 2000] [--no-idle-lists] [--insecure-single-tenant] [--no-stem-cells]
                       [--retention 7d] [--metrics-port N] [--record FILE] [--realtime]
                       [--shutdown-grace 30s] [--log-level info] [--log-format json|pretty]

Starts nats-server (one, or a cluster of three with state replicated three times), the shards, the
workers and the gateways (on --port and the ports after it, sharing one master key), each as its
own process, and prints the endpoints as fare up does. --metrics-port N: every part serves its
Prometheus metrics on 127.0.0.1 with no credential — shards on N, N+1, …, then workers, then gateways
(0: each on a free port; each part's line says where). --record FILE: the first gateway records
the traffic it sends for fare sim replay FILE (another gateway i in FILE.gateway-i).
--no-stem-cells: the workers keep no runtimes started ahead for cold starts (fare worker
--no-stem-cells). --within-class: the workers' order within a class (fare worker --within-class;
default las, as fare up). --retention: how long the gateways keep invocation records and function logs
(fare gateway --retention; default 7d, at least 1m). --realtime: every part and the NATS servers
run under SCHED_RR above the functions (as fare gateway --realtime; needs root). Once up, what the
parts log is printed here as it comes (each line says which part: "part" and "partId"); --log-level
and --log-format are passed to every part (default: pretty on a terminal, else JSON lines). A part
that exits on its own (a crash, a kill) is started again after 1 s, and less often, up to every
30 s, while it keeps failing. On real machines run one fare worker per host against the same NATS
servers (see the README). Stop with Ctrl-C: the gateways stop first, taking no new calls and letting
those in flight finish for up to --shutdown-grace (default 30s, at most 15m; 0s: none), then the
workers let the jobs they still run finish for up to as long, then the shards and NATS stop (a part
still running 5 s past its grace is killed); Ctrl-C again stops every part at once. Its terminal
closing stops it the same way; killed (kill -9), it takes its parts and NATS servers with it.`,
};

interface Common {
  readonly servers: string[];
  readonly prefix: string;
  readonly heartbeatMs: number;
  readonly memberTimeoutMs: number;
  readonly replicas: number;
  readonly policy: 'fare' | 'hermod' | 'fifo';
}

const commonOptions = {
  nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
  prefix: { type: 'string', default: 'fare' },
  replicas: { type: 'string', default: '1' },
  policy: { type: 'string', default: 'fare' },
  'heartbeat-ms': { type: 'string', default: '500' },
  'member-timeout-ms': { type: 'string', default: '2000' },
  realtime: { type: 'boolean', default: false },
  ...logOptions,
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function common(v: Record<string, unknown>): Common {
  const servers = String(v.nats).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+$/.test(s)) throw new UsageError(`--nats ${s} is not a NATS server URL: give nats://HOST:PORT (several separated by commas)`);
  }
  if (servers.length === 0) throw new UsageError('--nats needs at least one server, e.g. nats://127.0.0.1:4222');
  const prefix = String(v.prefix);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) throw new UsageError(`--prefix ${prefix} must be letters, digits, _ and -, in dot-separated tokens (e.g. fare or fare.dev)`);
  const replicas = Number(v.replicas);
  if (replicas !== 1 && replicas !== 3) throw new UsageError(`--replicas ${String(v.replicas)} is not valid: use 1 (one NATS server) or 3 (a NATS cluster of three)`);
  const policy = String(v.policy);
  if (policy !== 'fare' && policy !== 'hermod' && policy !== 'fifo') throw new UsageError(`--policy ${policy} is not known: use fare, hermod or fifo`);
  const heartbeatMs = whole('heartbeat-ms', v['heartbeat-ms'] ?? '500', 10, 60_000);
  const memberTimeoutMs = whole('member-timeout-ms', v['member-timeout-ms'] ?? '2000', 20, 600_000);
  if (memberTimeoutMs < 2 * heartbeatMs) throw new UsageError(`--member-timeout-ms ${memberTimeoutMs} must be at least twice --heartbeat-ms ${heartbeatMs}, or one late beat drops a part that is alive`);
  return { servers, prefix, replicas, policy, heartbeatMs, memberTimeoutMs };
}

function whole(name: string, text: unknown, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} ${String(text)} is not valid: give a whole number from ${min} to ${max}`);
  return n;
}

/**
 * Runs until SIGINT, SIGTERM or SIGHUP (its terminal closed), then closes, with `graceMs` for what is
 * in flight (a gateway's --shutdown-grace); a second signal closes at once (`now`). `waits`: what the
 * first stop waits for, said with how to stop at once (a worker's jobs, a cluster's parts). A part
 * started by `fare cluster up` (FARE_LIFELINE=stdin) also stops, as at a first signal, when its
 * stdin ends: fare cluster up holds the other end, which closes however it exits, `kill -9` too.
 */
function untilStopped(what: string, close: (graceMs: number, now: boolean) => Promise<void>, graceMs = 0, waits?: string): Promise<number> {
  return new Promise((done) => {
    let signals = 0;
    let stopped = false;
    const stop = (): void => {
      if (++signals > 1) {
        say(`${what} is stopping now, without waiting.\n`);
        void close(0, true);
        return;
      }
      stopped = true;
      say(graceMs > 0
        ? `${what} is stopping: it takes no new calls, and lets those in flight finish for up to ${formatDuration(graceMs)} (again to stop at once)…\n`
        : waits !== undefined ? `${what} is stopping: ${waits} (again to stop at once)…\n` : `${what} is stopping…\n`);
      void close(graceMs, false).then(() => done(0));
    };
    onStopSignals(stop);
    if (process.env.FARE_LIFELINE === 'stdin') {
      const lifeline = (): void => {
        if (stopped) return;
        say(`${what}: fare cluster up, which started it, is gone.\n`);
        stop();
      };
      process.stdin.once('end', lifeline);
      process.stdin.once('error', lifeline);
      process.stdin.resume();
      // It does not keep the part running (what it serves does).
      (process.stdin as { unref?: () => void }).unref?.();
    }
  });
}

const warn = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * `--realtime`: puts this part under SCHED_RR above its functions, once its threads exist (those it
 * makes later start SCHED_OTHER). Returns the line to print under the part's start-up line, or ''
 * (a failure is warned about: the part runs on at normal priority).
 */
async function realtime(values: Record<string, unknown>): Promise<string> {
  if (values.realtime !== true) return '';
  const { goRealtime } = await import('../live/cluster/realtime.ts');
  const r = await goRealtime(DEFAULT_PRICE_TABLE.classes.length);
  if (r.ok) return `  ${r.line}\n`;
  warn(`fare: ${r.line}`);
  return '';
}

/** A region name such as us-east-1. */
function regionOf(v: unknown): string {
  const r = String(v);
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(r)) throw new UsageError(`--region ${r} is not a region name: give one such as us-east-1 or eu-west-3`);
  return r;
}

/** The gateways' address for functions: an http(s) URL without a path. */
function endpointOf(v: unknown): string {
  const e = String(v).replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+$/.test(e)) throw new UsageError(`--endpoint ${e} is not a gateway address: give http(s)://HOST:PORT (the gateways' load balancer)`);
  return e;
}

export async function runGateway(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...commonOptions,
    id: { type: 'string', default: '0' },
    shards: { type: 'string' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string', default: './.fare-gateway' },
    'no-examples': { type: 'boolean', default: false },
    fsync: { type: 'boolean', default: false },
    'master-key-file': { type: 'string' },
    region: { type: 'string', default: 'us-east-1' },
    record: { type: 'string' },
    ...RETENTION_OPTION,
    ...SHUTDOWN_GRACE_OPTION,
    ...METRICS_OPTIONS,
  });
  if (values.help) return help('gateway');
  if (positionals.length) throw new UsageError(`fare gateway takes only options, got "${positionals.join(' ')}" (see fare gateway --help)`);
  const c = common(values);
  if (values.shards === undefined) throw new UsageError('fare gateway needs --shards S: how many shards the cluster has (ids 0 … S−1)');
  const retention = retentionMs(values);
  const { startGateway } = await import('../live/cluster/gateway.ts');
  const adminKey = process.env.FARE_ADMIN_KEY;
  const gatewayId = whole('id', values.id, 0, 2 ** 10 - 1);
  const logger = await createLogger(logSettings(values), { part: 'gateway', partId: gatewayId });
  const dataDir = resolve(String(values['data-dir']));
  claimDataDir(dataDir, `fare gateway --id ${gatewayId}`);
  const g = await startGateway({
    ...c, id: gatewayId, shards: whole('shards', values.shards, 1, 4096), logger,
    dataDir, host: String(values.host), port: whole('port', values.port, 0, 65535),
    prices: DEFAULT_PRICE_TABLE, examples: !(values['no-examples'] as boolean), fsync: values.fsync as boolean, retentionMs: retention, warn,
    ...(adminKey ? { adminKey } : {}),
    ...(values['master-key-file'] !== undefined ? { masterKeyFile: resolve(String(values['master-key-file'])) } : {}),
    region: regionOf(values.region),
    ...metricsListen(values),
    ...(values.record !== undefined ? { record: resolve(String(values.record)), policy: c.policy } : {}),
  });
  if (values.record !== undefined) process.stdout.write(`  Recording traffic to: ${resolve(String(values.record))} (replay: fare sim replay FILE)\n`);
  const scheduling = await realtime(values);
  process.stdout.write(`Fare gateway is up: ${g.url}  (NATS ${c.servers.join(',')}, subjects ${c.prefix}.*)\n  Metrics: ${g.metricsUrl !== undefined ? `${g.metricsUrl} (no credential), and ` : ''}${g.url}/metrics (administrators)\n${scheduling}`);
  if (g.adminCredentialFile) process.stdout.write(`  Admin credential: written to ${g.adminCredentialFile}\n`);
  return untilStopped('Fare gateway', (grace) => g.close(grace), shutdownGraceMs(values));
}

export async function runShard(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...commonOptions,
    id: { type: 'string' },
    k: { type: 'string', default: '2' },
    'no-idle-lists': { type: 'boolean', default: false },
    // The earlier spelling, from when idle lists were off by default: accepted, changes nothing.
    'idle-lists': { type: 'boolean', default: false },
    'poll-timeout-ms': { type: 'string', default: '50' },
    ...METRICS_OPTIONS,
  });
  if (values.help) return help('shard');
  if (positionals.length) throw new UsageError(`fare shard takes only options, got "${positionals.join(' ')}" (see fare shard --help)`);
  const c = common(values);
  if (values.id === undefined) throw new UsageError('fare shard needs --id N (0 … shards−1)');
  const timeout = Number(values['poll-timeout-ms']);
  if (!(timeout > 0)) throw new UsageError(`--poll-timeout-ms ${String(values['poll-timeout-ms'])} must be a number of milliseconds above 0`);
  const { startShard } = await import('../live/cluster/shard.ts');
  const id = whole('id', values.id, 0, 4095);
  const logger = await createLogger(logSettings(values), { part: 'shard', partId: id });
  const s = await startShard({ ...c, id, k: whole('k', values.k, 1, 30), pollTimeoutMs: timeout, idleLists: !(values['no-idle-lists'] as boolean), prices: DEFAULT_PRICE_TABLE, problem: warn, ...metricsListen(values) });
  const scheduling = await realtime(values);
  process.stdout.write(`Fare shard ${id} is up  (NATS ${c.servers.join(',')}, subjects ${c.prefix}.*)${s.metricsUrl !== undefined ? `; metrics: ${s.metricsUrl}` : ''}\n${scheduling}`);
  logger.info({ k: values.k, nats: c.servers, prefix: c.prefix }, 'shard started');
  return untilStopped(`Fare shard ${id}`, () => s.close());
}

export async function runWorker(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...commonOptions,
    id: { type: 'string' },
    cores: { type: 'string' },
    'data-dir': { type: 'string', default: './.fare-worker' },
    'strict-priorities': { type: 'boolean', default: false },
    'within-class': { type: 'string' },
    'insecure-single-tenant': { type: 'boolean', default: false },
    shards: { type: 'string' },
    'no-idle-lists': { type: 'boolean', default: false },
    'idle-lists': { type: 'string' },
    'memory-mb': { type: 'string' },
    'no-swapping': { type: 'boolean', default: false },
    'no-stem-cells': { type: 'boolean', default: false },
    endpoint: { type: 'string' },
    region: { type: 'string', default: 'us-east-1' },
    ...METRICS_OPTIONS,
    ...SHUTDOWN_GRACE_OPTION,
  });
  if (values.help) return help('worker');
  if (positionals.length) throw new UsageError(`fare worker takes only options, got "${positionals.join(' ')}" (see fare worker --help)`);
  const c = common(values);
  if (values.id === undefined) throw new UsageError('fare worker needs --id N (0 … workers−1): the shards poll workers by id');
  if (values['idle-lists'] !== undefined) {
    const n = String(values['idle-lists']);
    throw new UsageError(`--idle-lists ${n} is now --shards ${n}: idle lists are on by default (--no-idle-lists turns them off)`);
  }
  const { startWorker } = await import('../live/cluster/worker.ts');
  const id = whole('id', values.id, 0, 99_999);
  const logger = await createLogger(logSettings(values), { part: 'worker', partId: id });
  const dataDir = resolve(String(values['data-dir']));
  const graceMs = shutdownGraceMs(values);
  claimDataDir(dataDir, `fare worker --id ${id}`);
  const w = await startWorker({
    ...c, id, dataDir, prices: DEFAULT_PRICE_TABLE, drainMs: graceMs,
    strictPriorities: values['strict-priorities'] as boolean, ...(values['within-class'] !== undefined ? { within: withinClass(values['within-class'], c.policy) } : {}), insecureSingleTenant: values['insecure-single-tenant'] as boolean, warn,
    ...(values.shards !== undefined && values['no-idle-lists'] !== true ? { shards: whole('shards', values.shards, 1, 4096) } : {}),
    ...(values.cores !== undefined ? { cores: whole('cores', values.cores, 1, 4096) } : {}),
    ...(values['memory-mb'] !== undefined ? { memoryMB: whole('memory-mb', values['memory-mb'], 64, 2 ** 32) } : {}),
    ...(values['no-swapping'] === true ? { swapping: false } : {}),
    ...(values['no-stem-cells'] === true ? { stemCells: false } : {}),
    ...(values.endpoint !== undefined ? { endpoint: endpointOf(values.endpoint) } : {}),
    region: regionOf(values.region),
    ...metricsListen(values),
  });
  const scheduling = await realtime(values);
  process.stdout.write(`Fare worker ${id} is up  (${w.cores} cores; NATS ${c.servers.join(',')}, subjects ${c.prefix}.*${w.metricsUrl !== undefined ? `; metrics: ${w.metricsUrl}` : ''})\n${w.report.map((l) => `  ${l}`).join('\n')}\n${scheduling}`);
  logger.info({ cores: w.cores, nats: c.servers, prefix: c.prefix }, 'worker started');
  return untilStopped(`Fare worker ${id}`, (_grace, now) => w.close(now), 0, graceMs > 0 ? `it takes no new jobs, and lets those it runs finish for up to ${formatDuration(graceMs)}` : 'it takes no new jobs');
}

export async function runCluster(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '-h' || sub === '--help' || sub === undefined) return help('cluster', sub === undefined ? 2 : 0);
  if (sub !== 'up') throw new UsageError(`fare cluster ${sub} is not a command: use fare cluster up (see fare cluster --help)`);
  const { values, positionals } = parse(rest, {
    shards: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    gateways: { type: 'string', default: '1' },
    'nats-cluster': { type: 'string', default: '1' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string', default: './.fare-cluster' },
    policy: { type: 'string', default: 'fare' },
    'worker-cores': { type: 'string', default: '1' },
    'within-class': { type: 'string' },
    'no-idle-lists': { type: 'boolean', default: false },
    // The earlier spelling, from when idle lists were off by default: accepted, changes nothing.
    'idle-lists': { type: 'boolean', default: false },
    'heartbeat-ms': { type: 'string', default: '500' },
    'member-timeout-ms': { type: 'string', default: '2000' },
    'insecure-single-tenant': { type: 'boolean', default: false },
    'metrics-port': { type: 'string' },
    record: { type: 'string' },
    'no-stem-cells': { type: 'boolean', default: false },
    realtime: { type: 'boolean', default: false },
    ...RETENTION_OPTION,
    ...SHUTDOWN_GRACE_OPTION,
    ...logOptions,
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return help('cluster');
  // Checked here, for the parts: they print to this process, which decides (a terminal: pretty).
  const logs = logSettings(values);
  if (positionals.length) throw new UsageError(`fare cluster up takes only options, got "${positionals.join(' ')}" (see fare cluster --help)`);
  const shards = whole('shards', values.shards, 1, 64);
  const workers = whole('workers', values.workers, 1, 256);
  const gateways = whole('gateways', values.gateways, 1, 16);
  const natsN = Number(values['nats-cluster']);
  if (natsN !== 1 && natsN !== 3) throw new UsageError(`--nats-cluster ${String(values['nats-cluster'])} is not valid: use 1 (one nats-server) or 3 (a cluster of three)`);
  const port = whole('port', values.port, 0, 65535);
  const cores = whole('worker-cores', values['worker-cores'], 1, 4096);
  const { policy, heartbeatMs, memberTimeoutMs } = common({ nats: 'nats://x:1', prefix: 'fare', replicas: '1', policy: values.policy, 'heartbeat-ms': values['heartbeat-ms'], 'member-timeout-ms': values['member-timeout-ms'] });
  const metricsAt = metricsListen({ 'metrics-port': values['metrics-port'] });
  const within = withinClass(values['within-class'], policy);
  // Checked here (the gateways would only fail one by one), then passed on as given.
  retentionMs(values);
  const graceMs = shutdownGraceMs(values);
  const { clusterUp, PART_STOP_MARGIN_MS } = await import('../live/cluster/up.ts');
  const dataDir = resolve(String(values['data-dir']));
  claimDataDir(dataDir, 'fare cluster up');
  const c = await clusterUp({
    dataDir, shards, workers, gateways, natsServers: natsN, host: String(values.host), port, policy, workerCores: cores, heartbeatMs, memberTimeoutMs, idleLists: !(values['no-idle-lists'] as boolean),
    insecureSingleTenant: values['insecure-single-tenant'] as boolean, bin: fareBin(), log: (l) => say(`${l}\n`),
    ...(metricsAt !== undefined ? { metricsPort: metricsAt.metricsPort } : {}),
    ...(values.record !== undefined ? { record: resolve(String(values.record)) } : {}),
    ...(values['no-stem-cells'] === true ? { stemCells: false } : {}),
    ...(values.realtime === true ? { realtime: true } : {}),
    // Ctrl-C in the terminal reaches this process only, which stops the parts in order (then NATS).
    detached: true,
    partArgs: ['--log-level', logs.level, '--log-format', logs.format],
    // A part that crashes is started again (its membership, and the parts' own recovery, do the rest).
    supervise: true,
    relay: (_part, lines, stream) => {
      if (stream === 'stderr') sayError(lines);
      else say(lines);
    },
    ...(within !== undefined ? { within } : {}),
    retention: String(values.retention),
    shutdownGraceMs: graceMs,
  });
  const out = [
    `Fare cluster is up: ${c.url}  (${shards} shard(s), ${workers} worker(s), ${gateways} gateway(s), NATS ${c.nats.join(',')}, data in ${dataDir})`,
    ...(c.urls.length > 1 ? [`  Gateways (any of them; put a load balancer in front): ${c.urls.join(' ')}`] : []),
    `  AWS Lambda Invoke API: POST ${c.url}/2015-03-31/functions/{name}/invocations (SigV4 or Bearer)`,
    `  Fare API:              ${c.url}/v1/…   health: ${c.url}/healthz`,
    c.adminCredentialFile && existsSync(c.adminCredentialFile)
      ? `  Admin credential: in ${c.adminCredentialFile} (load it with: export $(grep -v '^#' ${c.adminCredentialFile} | xargs))`
      : '  Admin credential: from FARE_ADMIN_KEY, or as created on the first start',
    '', '  Try:', `    export FARE_ENDPOINT=${c.url} FARE_KEY=<id>:<secret>`, '    npx fare invoke page-view --payload \'{"user":"ada"}\'', '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  const grace = formatDuration(graceMs);
  return untilStopped('Fare cluster', (_grace, now) => c.close(now), 0,
    `the gateways take no new calls and let those in flight finish, then the workers their jobs, each for up to ${grace}; a part still running ${formatDuration(PART_STOP_MARGIN_MS)} past that is killed`);
}

function help(cmd: string, code = 0): number {
  process.stdout.write(`${HELP[cmd] ?? ''}\n`);
  return code;
}

/** The `fare` command of this installation, to start the cluster's parts with. */
function fareBin(): string {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'fare.js');
  if (!existsSync(bin)) throw new Error(`cannot find the fare command at ${bin}`);
  return bin;
}
