// The `fare` client commands: deploy, invoke, ls, logs, bill, tenant — small HTTP clients of a running
// Fare (FARE_ENDPOINT, default http://127.0.0.1:8080) authenticated with FARE_KEY=<id>:<secret>.

import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { parse, UsageError } from './args.ts';
import { ApiError, call, conn, type Conn } from './fare-api.ts';
import { zipDirectory } from '../live/gateway/zip-writer.ts';

const COMMON = { endpoint: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } as const;

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};

/** Request ids (x-amzn-RequestId) are UUIDs; function names may be anything else. */
const INVOCATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (30s, 10m, 1h, 2d), an ISO time (checked by Fare), or epoch milliseconds. */
export function sinceParam(v: string, now: number): string {
  const d = /^(\d+(?:\.\d+)?)([smhd])$/.exec(v);
  if (d) return String(Math.round(now - Number(d[1]) * (UNITS[d[2] as string] as number)));
  if (/^\d{4}-\d{2}-\d{2}/.test(v) || /^\d{12,15}$/.test(v)) return v;
  throw new UsageError(`--since ${v} is not a time: give a duration back from now such as 30s, 10m, 1h or 2d, an ISO time such as 2025-01-15T12:00:00Z, or epoch milliseconds`);
}

interface LogEntryView {
  readonly requestId: string;
  readonly time: string;
  readonly durationMs: number;
  readonly class: string;
  readonly cpuMs: number;
  readonly costMicroCents: number;
  readonly text: string;
}

/**
 * An entry as text: its START line stamped with when the execution started (it ended at `time`),
 * and after Lambda's REPORT line what Fare billed for it (Lambda bills wall time; Fare bills CPU
 * time at the class it ran at, plus memory).
 */
export function formatEntry(e: LogEntryView): string {
  const started = new Date(Date.parse(e.time) - Math.round(e.durationMs)).toISOString();
  const text = e.text.endsWith('\n') ? e.text : `${e.text}\n`;
  return `${started} ${text}BILLED RequestId: ${e.requestId}\tClass: ${e.class}\tCPU: ${e.cpuMs.toFixed(2)} ms\tCost: ${e.costMicroCents.toFixed(4)} µ¢\n`;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((done) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      done();
    }, { once: true });
  });

/** `fare logs NAME`: the function's recent entries, then (with --follow) new ones every second until Ctrl-C. */
async function functionLogs(c: Conn, name: string, values: Record<string, unknown>): Promise<number> {
  const limit = values.limit as string | undefined;
  if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError(`--limit ${limit} must be a whole number from 1 to 1000`);
  const query = new URLSearchParams();
  if (values.since !== undefined) query.set('since', sinceParam(values.since as string, Date.now()));
  if (limit !== undefined) query.set('limit', limit);
  if (values.request !== undefined) query.set('request', values.request as string);
  const path = `/v1/functions/${encodeURIComponent(name)}/logs`;
  const fetchPage = async (): Promise<{ entries: LogEntryView[]; next: number }> =>
    JSON.parse((await call(c, 'GET', `${path}?${query.toString()}`)).text) as { entries: LogEntryView[]; next: number };
  const show = (entries: readonly LogEntryView[]): void => {
    for (const e of entries) out(values.json ? JSON.stringify(e) : formatEntry(e));
  };
  let page = await fetchPage();
  show(page.entries);
  if (!values.follow) return 0;
  const stop = new AbortController();
  const interrupted = (): void => stop.abort();
  process.once('SIGINT', interrupted);
  let warned = false;
  try {
    query.delete('since');
    query.set('limit', '1000');
    while (!stop.signal.aborted) {
      await sleep(1000, stop.signal);
      if (stop.signal.aborted) break;
      query.set('after', String(page.next));
      try {
        page = await fetchPage();
        warned = false;
      } catch (e) {
        // Fare restarting: keep trying; anything else (the function deleted, the key revoked) ends it.
        if ((e as ApiError).code !== 'FARE_E_UNREACHABLE') throw e;
        if (!warned) process.stderr.write(`fare: ${(e as Error).message}; still trying (Ctrl-C to stop)\n`);
        warned = true;
        continue;
      }
      show(page.entries);
    }
  } finally {
    process.off('SIGINT', interrupted);
  }
  return 0;
}

/** `fare logs ID`: an async invocation's status and result, then its executions' logs if the caller may read them. */
async function invocationLogs(c: Conn, id: string, values: Record<string, unknown>): Promise<number | undefined> {
  let r;
  try {
    r = await call(c, 'GET', `/v1/invocations/${encodeURIComponent(id)}`);
  } catch (e) {
    if ((e as ApiError).code === 'FARE_E_INVOCATION_NOT_FOUND') return undefined;
    throw e;
  }
  if (values.json) {
    out(r.text);
    return 0;
  }
  const inv = JSON.parse(r.text) as { tenant: string; function: string };
  out(JSON.stringify(inv, null, 2));
  try {
    const logs = await call(c, 'GET', `/v1/functions/${encodeURIComponent(inv.function)}/logs?request=${encodeURIComponent(id)}&tenant=${encodeURIComponent(inv.tenant)}`);
    const entries = (JSON.parse(logs.text) as { entries: LogEntryView[] }).entries;
    if (entries.length > 0) out(`--- logs ---\n${entries.map(formatEntry).join('')}`);
  } catch {
    // Logs are the function owner's to read: a grantee that invoked it sees the result only.
  }
  return 0;
}

type Parsed = ReturnType<typeof parse>;

async function deploy({ values, positionals }: Parsed): Promise<number> {
  const [dir] = positionals;
  if (!dir) throw new UsageError('fare deploy needs the directory with the code: fare deploy DIR --name NAME … (see fare deploy --help)');
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new UsageError(`${dir} is not a directory: give the folder holding the function's code`);
  const name = (values.name as string | undefined) ?? resolve(dir).split('/').pop() ?? '';
  const env: Record<string, string> = {};
  for (const kv of (values.env as string[] | undefined) ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--env ${kv} must be KEY=VALUE`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const body: Record<string, unknown> = { zipBase64: zipDirectory(dir).toString('base64') };
  if (values.runtime) body.runtime = values.runtime;
  if (values.handler) body.handler = values.handler;
  if (values.class) body.class = values.class;
  if (values.timeout) body.timeoutMs = Number(values.timeout);
  if (values.idempotent !== undefined) body.idempotent = values.idempotent;
  if (Object.keys(env).length) body.env = env;
  const c = conn(values);
  const r = await call(c, 'PUT', `/v1/functions/${encodeURIComponent(name)}`, body);
  const f = JSON.parse(r.text) as { name: string; version: number; class: string; runtime: string };
  out(values.json ? r.text : `${r.status === 201 ? 'created' : 'updated'} ${f.name} version ${f.version} (${f.runtime}, class ${f.class})`);
  return 0;
}

/** Exits 1 when the function itself failed (it answered with x-amz-function-error). */
async function invoke({ values, positionals }: Parsed): Promise<number> {
  const [name] = positionals;
  if (!name) throw new UsageError('fare invoke needs a function name: fare invoke NAME [--payload JSON]');
  let payload = Buffer.from((values.payload as string | undefined) ?? '{}');
  if (values['payload-file']) payload = readFileSync(values['payload-file'] as string);
  if (values.payload !== undefined) {
    try {
      JSON.parse(payload.toString('utf8'));
    } catch {
      throw new UsageError(`--payload is not valid JSON: ${payload.toString('utf8').slice(0, 80)} (quote it for your shell, e.g. --payload '{"user":"ada"}')`);
    }
  }
  const type = values.async ? 'Event' : values['dry-run'] ? 'DryRun' : 'RequestResponse';
  const c = conn(values);
  const r = await call(c, 'POST', `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, payload, {
    'X-Amz-Invocation-Type': type, 'Content-Type': 'application/json', ...(values.logs ? { 'X-Amz-Log-Type': 'Tail' } : {}),
  });
  const fnError = r.headers.get('x-amz-function-error');
  if (values.json) {
    out(JSON.stringify({ status: r.status, functionError: fnError, requestId: r.headers.get('x-amzn-requestid'), payload: r.text ? (JSON.parse(r.text) as unknown) : null }));
  } else if (type === 'Event') {
    out(`queued: ${r.headers.get('x-amzn-requestid') ?? '?'} (fare logs ID shows its result and logs)`);
  } else if (type === 'DryRun') {
    out('dry run: you may invoke this function');
  } else {
    out(r.text);
  }
  const logs = r.headers.get('x-amz-log-result');
  if (values.logs && logs) process.stderr.write(`--- logs ---\n${Buffer.from(logs, 'base64').toString('utf8')}\n`);
  return fnError ? 1 : 0;
}

async function ls({ values }: Parsed): Promise<number> {
  const r = await call(conn(values), 'GET', '/v1/functions');
  if (values.json) return (out(r.text), 0);
  const fs = (JSON.parse(r.text) as { functions: { name: string; runtime: string; class: string; version: number; handler: string }[] }).functions;
  out(['NAME'.padEnd(24) + 'RUNTIME'.padEnd(10) + 'CLASS'.padEnd(10) + 'VERSION'.padEnd(9) + 'HANDLER', ...fs.map((f) => f.name.padEnd(24) + f.runtime.padEnd(10) + f.class.padEnd(10) + String(f.version).padEnd(9) + f.handler)].join('\n'));
  return 0;
}

/** `fare logs TARGET`: a function's logs, or, for a UUID, an async invocation's (else a function so named). */
async function logs({ values, positionals }: Parsed): Promise<number> {
  const [target, ...extra] = positionals;
  if (!target) throw new UsageError('fare logs needs a function name (its recent logs) or an async invocation id (printed by fare invoke --async)');
  if (extra.length) throw new UsageError(`fare logs takes one function name or invocation id, got "${positionals.join(' ')}"`);
  const c = conn(values);
  if (!INVOCATION_ID.test(target)) return functionLogs(c, target, values);
  const done = await invocationLogs(c, target, values);
  if (done !== undefined) return done;
  try {
    return await functionLogs(c, target, values);
  } catch (e) {
    if ((e as ApiError).code !== 'FARE_E_FUNCTION_NOT_FOUND') throw e;
    throw new ApiError('FARE_E_NOT_FOUND', `there is no async invocation ${target} visible to you, nor a function of that name: give the id fare invoke --async printed, or a function name (fare ls)`);
  }
}

async function bill({ values }: Parsed): Promise<number> {
  const month = values.month as string | undefined;
  if (month !== undefined && !/^\d{4}-\d{2}$/.test(month)) throw new UsageError(`--month ${month} must be YYYY-MM`);
  const r = await call(conn(values), 'GET', `/v1/bill${month ? `?month=${month}` : ''}`);
  if (values.json) return (out(r.text), 0);
  const b = JSON.parse(r.text) as { tenant: string; month: string; invocations: number; costMicroCents: number; budgetMicroCents: number | null; budgetState?: string; functions: { function: string; invocations: number; cpuMs: number; memGBs: number; costMicroCents: number }[] };
  const lines = [`${b.tenant}, ${b.month}: ${b.invocations} invocations, ${b.costMicroCents.toFixed(4)} µ¢` + (b.budgetMicroCents !== null ? ` of a ${b.budgetMicroCents} µ¢ budget (${b.budgetState ?? '?'})` : ''),
    'FUNCTION'.padEnd(24) + 'INVOCATIONS'.padStart(12) + 'CPU s'.padStart(12) + 'GB·s'.padStart(12) + 'COST µ¢'.padStart(14)];
  for (const f of b.functions) lines.push(f.function.padEnd(24) + String(f.invocations).padStart(12) + (f.cpuMs / 1000).toFixed(3).padStart(12) + f.memGBs.toFixed(4).padStart(12) + f.costMicroCents.toFixed(4).padStart(14));
  out(lines.join('\n'));
  return 0;
}

/** A `fare tenant` subcommand, given the connection and the `--budget` already checked. */
type TenantHandler = (c: Conn, a: Parsed, budget: number | undefined) => Promise<number>;

const TENANT_COMMANDS: Readonly<Record<string, TenantHandler>> = {
  async create(c, { values, positionals }, budget) {
    const [id] = positionals;
    if (!id) throw new UsageError('fare tenant create needs an id');
    const r = await call(c, 'POST', '/v1/tenants', { id, ...(values.name ? { name: values.name } : {}), ...(budget !== undefined ? { budgetMicroCents: budget } : {}), ...(values['over-budget'] ? { overBudget: values['over-budget'] } : {}) });
    if (values.json) return (out(r.text), 0);
    const j = JSON.parse(r.text) as { credential?: { accessKeyId: string; secret: string } };
    out(`created tenant ${id}${j.credential ? `\ncredential (shown once): FARE_KEY=${j.credential.accessKeyId}:${j.credential.secret}` : ''}`);
    return 0;
  },
  async ls(c, { values }) {
    const r = await call(c, 'GET', '/v1/tenants');
    out(values.json ? r.text : (JSON.parse(r.text) as { tenants: { id: string; name: string; budgetMicroCents: number | null }[] }).tenants.map((t) => `${t.id.padEnd(20)}${t.name.padEnd(24)}${t.budgetMicroCents ?? 'no budget'}`).join('\n'));
    return 0;
  },
  async budget(c, { values, positionals }) {
    const [id, amount] = positionals;
    if (!id || amount === undefined) throw new UsageError('fare tenant budget ID MICROCENTS [--over-budget throttle|degrade]');
    const r = await call(c, 'PATCH', `/v1/tenants/${encodeURIComponent(id)}`, { budgetMicroCents: Number(amount), ...(values['over-budget'] ? { overBudget: values['over-budget'] } : {}) });
    out(values.json ? r.text : `budget of ${id} set`);
    return 0;
  },
  async grant(c, { values, positionals }) {
    const [id] = positionals;
    if (!id || !values.to) throw new UsageError('fare tenant grant OWNER --to TENANT [--function NAME]');
    const r = await call(c, 'POST', '/v1/grants', { owner: id, grantee: values.to, function: values.function ?? '*' });
    out(values.json ? r.text : `granted ${String(values.to)} access to ${id}'s ${(values.function as string | undefined) ?? 'functions'}`);
    return 0;
  },
};

/** `fare tenant SUB …`: the subcommand comes first and is not an option (`fare tenant --json ls` is refused). */
async function tenant(a: Parsed, sub: string): Promise<number> {
  const { values } = a;
  const c = conn(values);
  const budget = values.budget === undefined ? undefined : Number(values.budget);
  if (budget !== undefined && !(budget >= 0)) throw new UsageError(`--budget ${String(values.budget)} must be a number of µ¢ ≥ 0`);
  const run = own(TENANT_COMMANDS, sub);
  if (run === undefined) {
    const subs = Object.keys(TENANT_COMMANDS);
    throw new UsageError(`unknown tenant command "${sub}": use ${subs.slice(0, -1).join(', ')} or ${subs.at(-1) ?? ''}`);
  }
  return run(c, a, budget);
}

interface Command {
  /** What `fare NAME --help` prints, above the options every command takes. */
  readonly usage: string;
  /** Its options besides those every command takes (--endpoint, --key, --json, --help). */
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /**
   * Given the parsed arguments. With `subcommand`, the first argument names a subcommand, passed as `sub`
   * and left out of the parsing; `fare NAME` without one prints the usage.
   */
  readonly subcommand?: true;
  readonly run: (a: Parsed, sub: string) => Promise<number>;
}

/** The client commands: `fare NAME --help` prints `usage`, `fare NAME …` parses `options` and calls `run`. */
const COMMANDS: Readonly<Record<string, Command>> = {
  deploy: {
    usage: `fare deploy DIR --name NAME --runtime nodejs|python|provided --handler FILE.FUNCTION --class CLASS
            [--timeout MS] [--env KEY=VALUE]… [--idempotent]   deploy (or update) a function from a directory
            (--idempotent: safe to run twice; a call whose worker is lost is run again)`,
    options: { name: { type: 'string' }, runtime: { type: 'string' }, handler: { type: 'string' }, class: { type: 'string' }, timeout: { type: 'string' }, env: { type: 'string', multiple: true }, idempotent: { type: 'boolean' } },
    run: deploy,
  },
  invoke: {
    usage: `fare invoke NAME [--payload JSON | --payload-file FILE] [--async] [--dry-run] [--logs]
            invoke a function (RequestResponse by default; --async queues it and prints its id)`,
    options: { payload: { type: 'string' }, 'payload-file': { type: 'string' }, async: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false }, logs: { type: 'boolean', default: false } },
    run: invoke,
  },
  ls: {
    usage: 'fare ls                                 list your functions',
    options: {},
    run: ls,
  },
  logs: {
    usage: `fare logs NAME [--since 10m|1h|2d|ISO-TIME] [--limit N] [--request ID] [--follow] [--json]
            a function's recent logs: one entry per execution (sync and async, errors, timeouts and
            crashes too), START / what it printed / END / REPORT as Lambda writes them, then BILLED
            (the class it ran at, its CPU time and what Fare charged), oldest first; the newest --limit
            (default 100, at most 1000) since --since; --follow prints new ones as they come (every
            second) until Ctrl-C; --json prints one JSON object per entry and line
fare logs ID                            an async invocation: status, result and error, then its logs
            (ID is the request id fare invoke --async prints; a UUID is taken for an invocation id,
            and if there is no such invocation, for a function name)
            Kept per function: the newest 10,000 executions or 32 MiB, each entry at most 256 KB
            (the end kept, marked truncated); deleting the function deletes them.`,
    options: { since: { type: 'string' }, limit: { type: 'string' }, request: { type: 'string' }, follow: { type: 'boolean', short: 'f', default: false } },
    run: logs,
  },
  bill: {
    usage: 'fare bill [--month YYYY-MM]             usage and cost per function and class this month',
    options: { month: { type: 'string' } },
    run: bill,
  },
  tenant: {
    usage: `fare tenant create ID [--name NAME] [--budget MICROCENTS] [--over-budget throttle|degrade]
fare tenant ls | fare tenant budget ID MICROCENTS [--over-budget throttle|degrade]
fare tenant grant ID --to TENANT [--function NAME]   let TENANT invoke ID's function (or all)`,
    options: { name: { type: 'string' }, budget: { type: 'string' }, 'over-budget': { type: 'string' }, to: { type: 'string' }, function: { type: 'string' } },
    subcommand: true,
    run: tenant,
  },
};

const COMMON_HELP = `
Options: --endpoint URL (or FARE_ENDPOINT, default http://127.0.0.1:8080), --key ID:SECRET (or FARE_KEY),
         --json for machine-readable output.`;

/** `table[name]` if the table has it as its own key (never a prototype's, such as `toString`). */
function own<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** Runs the client command `name` (one of `COMMANDS`) with its arguments; resolves with the exit status. */
export async function runClient(name: string, args: readonly string[]): Promise<number> {
  const cmd = own(COMMANDS, name);
  if (cmd === undefined) throw new UsageError(`unknown command "${name}"`);
  const [sub, rest] = cmd.subcommand ? [args[0], args.slice(1)] : [undefined, args];
  const parsed = parse(rest, { ...COMMON, ...cmd.options });
  if (parsed.values.help || (cmd.subcommand && (sub === undefined || sub === '--help' || sub === '-h'))) {
    out(`${cmd.usage}${COMMON_HELP}`);
    return 0;
  }
  return cmd.run(parsed, sub ?? '');
}
