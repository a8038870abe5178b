// `fare up`: Fare on one machine — gateway, shard and worker in this process, state in --data-dir.

import { resolve } from 'node:path';
import { formatDuration, METRICS_OPTIONS, metricsListen, parse, RETENTION_OPTION, retentionMs as retentionOf, SHUTDOWN_GRACE_OPTION, shutdownGraceMs, UsageError, withinClass } from './args.ts';
import { createLogger, LOG_HELP, logOptions, logSettings } from './logger.ts';
import { claimDataDir } from './data-dir-claim.ts';
import { onStopSignals, say } from './stopping.ts';

const HELP = `fare up — run Fare on this machine

Usage: fare up [--port 8080] [--host 127.0.0.1] [--data-dir ./.fare] [--policy fare|hermod|fifo]
               [--cores N] [--strict-priorities] [--within-class fcfs|las|sef|ps] [--memory-mb MB] [--no-swapping]
               [--no-examples] [--fsync] [--retention 7d] [--region us-east-1] [--no-stem-cells]
               [--insecure-single-tenant] [--worker-thread] [--metrics-port N] [--metrics-host 127.0.0.1]
               [--log-level info] [--log-format json|pretty] [--record FILE] [--shutdown-grace 30s]

Starts the gateway (AWS Lambda Invoke API and Fare's REST API), one scheduler shard and one worker
in this process, with all state in an SQLite file under --data-dir. On an empty data dir it deploys
the examples page-view (high class), profile-view (middle) and image-resize (low). The admin
credential is created on first start and written to <data-dir>/admin-credential (mode 0600; never
printed), or taken from FARE_ADMIN_KEY (<id>:<secret>). Everything in --data-dir is private to the
user running Fare (0700/0600); looser modes found at start are tightened, with a line saying so.
One Fare per data dir: a second fare up (or fare cluster up, gateway, worker) on a data dir in use
is refused, naming the process that holds it (<data-dir>/fare.pid; one left by a killed Fare is
taken over).
--cores: cores the machine scheduler hands to functions (default: all but one, which is kept for
Fare's own gateway, shard and runtime API, so the top class never waits for them). Instances run at
nice -5 (top class) to 0 where permitted, the lowest class SCHED_IDLE; --strict-priorities uses
SCHED_FIFO by class instead. --within-class: the order within a class (fare policy): las (least
attained service, the default, as in the simulator: a new call preempts the one of its class that
has run longest, so short calls do not wait behind long ones of their class; one function's calls
keep their order, as each holds an instance: see LIVE_WITHIN_DEFAULT in src/core/presets.ts), fcfs
(the paper's), sef (shortest expected first, from each function's observed durations), ps
(processor sharing as round robin: a call that has run 20 ms gives its core to the next waiting
call of its class). Memory: no limits are asked of functions; under memory pressure (under
10 % of the machine's memory free) idle instances, then the lowest classes' preempted ones, are
swapped out (where there is swap, by process_madvise), and swapped back in before they run; --memory-mb manages that
much memory instead of the machine's (what is used since start counts); --no-swapping turns it off.
Cold starts: a few Node.js and Python runtimes ("stem cells") are kept started ahead, each already
in its own sandbox, and a function's first call takes one instead of booting a runtime (1-4 per
runtime, following the rate of cold starts; none while under 20 % of memory is free; never billed,
and each serves one function only); --no-stem-cells turns them off.
--worker-thread: run the worker (the machine scheduler, its instances and their Runtime APIs) on
a thread of its own beside the gateway and the shard, so that Fare's own work uses two cores: about
twice the calls per second under concurrent load on a 2-core machine, at the price of ≈ 0.25 ms
more per call when calls come one at a time (each call crosses between the threads twice), and
the top class feels a lower class's flood more (neither thread orders its work by class). For
throughput; the default suits latency and the top class.
--region: the region named in every ARN and given to functions as AWS_REGION (default us-east-1);
functions also get FARE_ENDPOINT and AWS_ENDPOINT_URL_LAMBDA, and their invocation's credentials as
container credentials, so the AWS SDK inside them calls Fare with no set-up.
--port 0 picks a free port. GET /healthz answers when Fare is ready. Stop with Ctrl-C (or SIGTERM,
or by closing its terminal):
Fare stops listening and lets the calls in flight finish for up to --shutdown-grace (default 30s, at
most 15m; 0s: none), answering a request that comes on an open connection meanwhile with 503
FARE_E_SHUTTING_DOWN; then it cuts what is left (an async invocation cut so runs again at the next
start). A second Ctrl-C stops at once.
Prometheus metrics: GET /metrics on the gateway's port, for an administrator's credential (Bearer);
--metrics-port N also serves them with no credential on a listener of their own, bound to
--metrics-host (default 127.0.0.1: they show every tenant's spend).
--record FILE: write the traffic (each execution's arrival, class, CPU time, memory and measured
latency; src/sim/workload/README.md, "Fare's recordings") to FILE, for fare sim replay FILE.
Accepted async invocations and billing records survive a crash or kill -9 of Fare; with --fsync every
commit is also fsynced, so they survive a power loss too (slower).
--retention: how long invocation records (billing records, finished async invocations and their
results) and function logs are kept, e.g. 30m, 12h or 7d (default 7d, at least 1m); older ones are
deleted in small batches in the background, their usage kept per function, class and hour, so bills
and usage do not change.
Logs: after the lines above, one line per API request and one per invocation on stdout (pino),
JSON lines, or pretty ones on a terminal (src/live/gateway/README.md, Logs and traces):
${LOG_HELP}
Tenants are kept apart by a sandbox per instance (own uid, PID/mount/IPC namespaces, read-only file
system, private /tmp), which needs root on Linux and a C compiler at install. Where that is missing
Fare says so and serves one tenant besides admin; --insecure-single-tenant serves several anyway,
and they can then read each other's data.`;

export async function runUp(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string', default: './.fare' },
    policy: { type: 'string', default: 'fare' },
    cores: { type: 'string' },
    'strict-priorities': { type: 'boolean', default: false },
    'within-class': { type: 'string' },
    'no-examples': { type: 'boolean', default: false },
    fsync: { type: 'boolean', default: false },
    'insecure-single-tenant': { type: 'boolean', default: false },
    'memory-mb': { type: 'string' },
    'no-swapping': { type: 'boolean', default: false },
    'no-stem-cells': { type: 'boolean', default: false },
    'worker-thread': { type: 'boolean', default: false },
    region: { type: 'string', default: 'us-east-1' },
    ...RETENTION_OPTION,
    record: { type: 'string' },
    ...SHUTDOWN_GRACE_OPTION,
    ...METRICS_OPTIONS,
    ...logOptions,
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length) throw new UsageError(`fare up takes no arguments besides options, got "${positionals.join(' ')}" (see fare up --help)`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${String(values.port)} is not a port: give a whole number from 0 to 65535`);
  const policy = values.policy as string;
  if (policy !== 'fare' && policy !== 'hermod' && policy !== 'fifo') throw new UsageError(`--policy ${policy} is not known: use fare, hermod or fifo`);
  const within = withinClass(values['within-class'], policy);
  let cores: number | undefined;
  if (values.cores !== undefined) {
    cores = Number(values.cores);
    if (!Number.isInteger(cores) || cores < 1 || cores > 4096) throw new UsageError(`--cores ${String(values.cores)} is not valid: give a whole number ≥ 1`);
  }
  let memoryMB: number | undefined;
  if (values['memory-mb'] !== undefined) {
    memoryMB = Number(values['memory-mb']);
    if (!Number.isFinite(memoryMB) || memoryMB < 64) throw new UsageError(`--memory-mb ${String(values['memory-mb'])} is not valid: give the memory to manage in MB, at least 64`);
  }
  const region = values.region as string;
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new UsageError(`--region ${region} is not a region name: give one such as us-east-1 or eu-west-3`);
  const retentionMs = retentionOf(values);
  const graceMs = shutdownGraceMs(values);
  const metricsAt = metricsListen(values);
  const logger = await createLogger(logSettings(values), { part: 'fare-up' });
  const { up } = await import('../live/one-machine.ts');
  const dataDir = resolve(values['data-dir'] as string);
  claimDataDir(dataDir, 'fare up');
  const adminKey = process.env.FARE_ADMIN_KEY;
  const running = await up({
    dataDir, host: values.host as string, port, policy, strictPriorities: values['strict-priorities'] as boolean,
    ...(within !== undefined ? { within } : {}),
    examples: !(values['no-examples'] as boolean),
    fsync: values.fsync as boolean,
    insecureSingleTenant: values['insecure-single-tenant'] as boolean,
    ...(cores !== undefined ? { cores } : {}),
    ...(adminKey ? { adminKey } : {}),
    ...(memoryMB !== undefined ? { memoryMB } : {}),
    ...(values['no-swapping'] === true ? { swapping: false } : {}),
    ...(values['no-stem-cells'] === true ? { stemCells: false } : {}),
    ...(values['worker-thread'] === true ? { workerThread: true } : {}),
    region,
    retentionMs,
    ...metricsAt,
    logger,
    ...(values.record !== undefined ? { record: resolve(values.record as string) } : {}),
  });
  const out: string[] = [];
  out.push(`Fare is up: ${running.url}  (policy ${running.policy}, data in ${dataDir})`);
  out.push(`  AWS Lambda API:        ${running.url} (region ${region}; SigV4 or Bearer): aws lambda … --endpoint-url ${running.url}`);
  out.push(`  Function URLs:         ${running.url}/url/<id>/`);
  out.push(`  Fare API:              ${running.url}/v1/…   health: ${running.url}/healthz`);
  out.push(`  Metrics (Prometheus):  ${running.metricsUrl !== undefined ? `${running.metricsUrl} (no credential), and ` : ''}${running.url}/metrics (administrators)`);
  out.push(`  Dashboard:             ${running.url}/dashboard (enter an access key)`);
  if (running.tightened.length > 0) {
    out.push(`  Data dir: made ${running.tightened.length} file(s) and folder(s) private (they were readable by other users), e.g. ${running.tightened[0] ?? ''}`);
  }
  if (running.adminCredentialFile !== undefined) {
    out.push('', `  Admin credential: written to ${running.adminCredentialFile} (readable by this user only; not printed here,`,
      '    so it stays out of logs). Load it with:', `    export $(grep -v '^#' ${running.adminCredentialFile} | xargs)`);
  } else {
    out.push(adminKey ? '  Admin credential: from FARE_ADMIN_KEY' : '  Admin credential: created on first start (not shown again)');
  }
  if (values.record !== undefined) out.push(`  Recording traffic to:  ${resolve(values.record as string)} (replay: fare sim replay FILE)`);
  if (running.examples.length) out.push('', `  Examples deployed: ${running.examples.join(', ')}`);
  out.push('', '  This machine:', ...running.capabilities.map((l) => `    ${l}`));
  out.push('', '  Try:', `    export FARE_ENDPOINT=${running.url} FARE_KEY=<id>:<secret>`, '    npx fare invoke page-view --payload \'{"user":"ada"}\'',
    `    aws lambda invoke --endpoint-url ${running.url} --function-name page-view out.json`, '');
  process.stdout.write(`${out.join('\n')}\n`);
  await new Promise<void>((done) => {
    let signals = 0;
    const stop = (): void => {
      if (++signals > 1) {
        say('Fare is stopping now, without waiting.\n');
        void running.close(0);
        return;
      }
      const { requests, async } = running.inFlight();
      say(requests + async > 0 && graceMs > 0
        ? `Fare is stopping: it takes no new calls, and waits up to ${formatDuration(graceMs)} for ${requests} request(s) and ${async} async invocation(s) in flight (again to stop at once)…\n`
        : 'Fare is stopping…\n');
      void running.close(graceMs).then(done);
    };
    onStopSignals(stop);
  });
  return 0;
}
