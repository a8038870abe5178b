// `fare` command line: parses arguments into configs and hands them to the drivers. No policy here.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const HELP = `fare — serverless functions scheduled by price class

Usage:
  fare up [--port 8080] [--host 127.0.0.1] [--data-dir ./.fare] [--policy fare|hermod|fifo]
                                                   run Fare on this machine (gateway, shard, worker)
  fare cluster up [--shards 2] [--workers 2] [--nats-cluster 1|3]
                                                   a Fare cluster on this machine: each part its own process over NATS
  fare gateway | fare shard | fare worker [--nats URL] …   one part of a cluster (run fare gateway --help, …)
  fare init [--runtime nodejs|python|provided] DIR              a new function in DIR, with a test
  fare deploy DIR [--name N] [--runtime R] [--handler H] [--class C]   deploy a function from a folder
  fare invoke NAME [--payload JSON] [--async|--stream] [--logs]  invoke a function
  fare logs NAME [--since 10m] [--follow] [--json]               a function's recent logs (sync and async)
  fare logs ID                                                   an async invocation's result and logs
  fare receipt ID [--attempt N]                                  an invocation's scheduling receipt, checked
  fare async NAME [--retries N] [--max-age 1h] [--on-failure FN]  how its async invocations are tried
  fare concurrency NAME [N | --clear]                            at most N of its calls at once (0: stopped)
  fare schedule NAME --function FN --every 5m|--cron C|--at T   a function invoked on a schedule (ls, rm)
  fare ls | fare rm NAME                                         your functions; delete one
  fare bill [--month YYYY-MM]                                    usage and cost per function and class
  fare tenant create|ls|budget|grant …                           tenants, budgets and access
  fare backup OUT [--data-dir ./.fare]                          a copy of fare up's data, taken while it runs
  fare demo [--seconds 10]                                      page views under an image flood: fare vs hermod
  fare sim fig4 [--quick] [--seed N] [--out DIR]   reproduce the paper's Figure 4 (latency per class vs load)
  fare sim fig5 [--quick] [--seed N] [--out DIR]   reproduce the paper's Figure 5 (memory and swapping)
  fare sim run CONFIG [--seed N] [--out DIR]       run the experiment described in a JSON config file
  fare openapi                                     the HTTP APIs' description (OpenAPI 3.1 JSON)
  fare --version | --help

Client commands take --endpoint URL (FARE_ENDPOINT), --key ID:SECRET (FARE_KEY) and --json.
Run "fare COMMAND --help" for a command's options, "fare sim --help" for the simulator's.`;

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${HELP}\n`);
      return cmd === undefined ? 1 : 0;
    case '-v':
    case '--version': {
      const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    case 'openapi': {
      const { printOpenApi } = await import('./openapi.ts');
      return printOpenApi(rest);
    }
    case 'up': {
      const { runUp } = await import('./up.ts');
      return runUp(rest);
    }
    case 'gateway':
    case 'shard':
    case 'worker':
    case 'cluster': {
      const { runGateway, runShard, runWorker, runCluster } = await import('./cluster.ts');
      const run = { gateway: runGateway, shard: runShard, worker: runWorker, cluster: runCluster }[cmd];
      return run(rest);
    }
    case 'demo': {
      const { runDemo } = await import('./demo.ts');
      return runDemo(rest);
    }
    case 'init': {
      const { runInit } = await import('./init.ts');
      return runInit(rest);
    }
    case 'backup': {
      const { runBackup } = await import('./backup.ts');
      return runBackup(rest);
    }
    case 'deploy':
    case 'invoke':
    case 'ls':
    case 'rm':
    case 'logs':
    case 'receipt':
    case 'bill':
    case 'async':
    case 'concurrency':
    case 'schedule':
    case 'tenant': {
      const { runClient } = await import('./client.ts');
      return runClient(cmd, rest);
    }
    case 'sim': {
      // Loaded on demand: the simulator pulls in the chart renderer, which --help does not need.
      const { runSimCommand } = await import('./sim.ts');
      return runSimCommand(rest);
    }
    default:
      process.stderr.write(`fare: unknown command "${cmd}" (FARE_E_USAGE). Run "fare --help" for the commands.\n`);
      return 2;
  }
}

/**
 * An error of the system (a file that is not there, a port in use, …) that reached the top: the
 * one line that says what was wrong and what to do, or undefined for anything else.
 */
export function systemErrorLine(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const what = err.path !== undefined ? err.path : '';
  switch (err.code ?? '') {
    case 'EADDRINUSE':
      return `port ${err.port ?? '?'} on ${err.address ?? 'this machine'} is in use (another fare up?): stop what listens there, or give another with --port (--port 0 picks a free one) (FARE_E_PORT_IN_USE)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${err.address ?? '?'}: it is not an address of this machine: give one of its addresses with --host (FARE_E_HOST)`;
    case 'EACCES':
    case 'EPERM':
      if (err.syscall === 'listen' || err.syscall === 'bind') return `not permitted to listen on port ${err.port ?? '?'} (ports below 1024 need root): give another with --port (FARE_E_PORT)`;
      return `permission denied: ${what || err.message}: check its owner and mode, or run as a user who may (FARE_E_PERMISSION)`;
    case 'ENOENT':
      return `no such file or folder: ${what || err.message}: check the path (FARE_E_NO_FILE)`;
    case 'ENOTDIR':
      return `not a folder: ${what || err.message}: check the path (FARE_E_NO_FILE)`;
    case 'EISDIR':
      return `${what || 'the path'} is a folder: give a file (FARE_E_NO_FILE)`;
    case 'ENOSPC':
      return `no space left on the device${what ? ` writing ${what}` : ''}: free some space (FARE_E_NO_SPACE)`;
    default:
      return undefined;
  }
}

/** Entry point of the `fare` binary: runs the command and sets the exit code. */
export async function run(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (typeof err.code === 'string' && err.code.startsWith('FARE_E_')) {
      process.stderr.write(`fare: ${err.message.includes(err.code) ? err.message : `${err.message} (${err.code})`}\n`);
      process.exitCode = 2;
      return;
    }
    const line = systemErrorLine(e);
    if (line !== undefined) {
      process.stderr.write(`fare: ${line}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`fare: internal error: ${err.stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
}
