// The `fare` client commands: deploy, invoke, ls, rm, logs, bill, tenant — small HTTP clients of a running
// Fare (FARE_ENDPOINT, default http://127.0.0.1:8080) authenticated with FARE_KEY=<id>:<secret>.

import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { parse, UsageError } from './args.ts';
import { ApiError, call, callStreaming, conn, type Conn } from './fare-api.ts';
import { checkDir, entryOf, functionName } from './function-dir.ts';
import { num, round, table, type Cell } from './table.ts';
import { formatReceipt, type ReceiptAnswer } from './receipt.ts';

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
  if (values.grep !== undefined) {
    const text = values.grep as string;
    if (text.length === 0 || text.length > 256) throw new UsageError('--grep takes the text to look for: 1 to 256 characters');
    query.set('contains', text);
  }
  if (values.errors === true) query.set('status', 'error');
  const path = `/v1/functions/${encodeURIComponent(name)}/logs`;
  const fetchPage = async (): Promise<{ entries: LogEntryView[]; next: number }> =>
    JSON.parse((await call(c, 'GET', `${path}?${query.toString()}`, undefined, {}, { notFound: noFunction(name) })).text) as { entries: LogEntryView[]; next: number };
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

/** A 404's line for a function that does not exist. */
const noFunction = (name: string): string => `there is no function ${name}: fare ls lists yours`;

async function deploy({ values, positionals }: Parsed): Promise<number> {
  const [dir, ...extra] = positionals;
  if (!dir) throw new UsageError('fare deploy needs the folder with the code: fare deploy DIR [--name NAME] … (see fare deploy --help)');
  if (extra.length) throw new UsageError(`fare deploy takes one folder, got "${positionals.join(' ')}"`);
  checkDir(dir);
  const name = functionName(dir, values.name as string | undefined);
  const env: Record<string, string> = {};
  for (const kv of (values.env as string[] | undefined) ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--env ${kv} must be KEY=VALUE`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const timeout = values.timeout as string | undefined;
  if (timeout !== undefined && !/^\d+$/.test(timeout)) throw new UsageError(`--timeout ${timeout} must be a whole number of milliseconds`);
  const c = conn(values);
  const path = `/v1/functions/${encodeURIComponent(name)}`;
  // A function that exists keeps its runtime and handler unless told otherwise; a new one takes them from the folder.
  let exists = true;
  try {
    await call(c, 'GET', path);
  } catch (e) {
    if ((e as ApiError).status !== 404) throw e;
    exists = false;
  }
  const given = { runtime: values.runtime as string | undefined, handler: values.handler as string | undefined };
  const entry = exists ? undefined : entryOf(dir, given.runtime, given.handler);
  const { zipDirectory } = await import('../live/gateway/zip-writer.ts');
  const body: Record<string, unknown> = { zipBase64: zipDirectory(dir).toString('base64') };
  const runtime = entry?.runtime ?? given.runtime;
  const handler = entry?.handler ?? given.handler;
  if (runtime !== undefined) body.runtime = runtime;
  if (handler !== undefined && !(runtime === 'provided' && handler === 'bootstrap' && given.handler === undefined)) body.handler = handler;
  if (values.class) body.class = values.class;
  if (timeout !== undefined) body.timeoutMs = Number(timeout);
  if (values.idempotent !== undefined) body.idempotent = values.idempotent;
  if (Object.keys(env).length) body.env = env;
  const r = await call(c, 'PUT', path, body);
  if (values.json) return (out(r.text), 0);
  const f = JSON.parse(r.text) as { name: string; version: number; class: string; runtime: string; handler: string };
  const created = r.status === 201;
  const taken = entry?.from !== undefined ? `; runtime and handler taken from ${entry.from}: --runtime and --handler choose others` : '';
  const named = values.name === undefined ? `, named after its folder` : '';
  out(`${created ? 'created' : 'updated'} ${f.name}${named}: version ${f.version}, ${f.runtime}, handler ${f.handler}, class ${f.class}${taken}`);
  return 0;
}

/** `--max-age`: seconds (3600), or a duration (90s, 30m, 6h); Fare checks the range (60 s – 6 h). */
export function maxAgeSeconds(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(v);
  if (m === null) throw new UsageError(`--max-age ${v} is not a duration: give seconds (3600) or a duration such as 90s, 30m or 6h (from 1m to 6h)`);
  const n = Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  if (!Number.isInteger(n)) throw new UsageError(`--max-age ${v} is not a whole number of seconds`);
  return n;
}

interface EventConfigAnswer {
  readonly FunctionArn: string;
  readonly MaximumRetryAttempts?: number;
  readonly MaximumEventAgeInSeconds?: number;
  readonly DestinationConfig?: { readonly OnSuccess?: { readonly Destination?: string }; readonly OnFailure?: { readonly Destination?: string } };
}

/** A function's asynchronous settings in words (the defaults when it has no config). */
export function formatAsync(name: string, c: EventConfigAnswer | undefined): string {
  const retries = c?.MaximumRetryAttempts;
  const age = c?.MaximumEventAgeInSeconds;
  const ageText = (s: number): string => (s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`);
  return [
    `${name}: an Event invocation is tried up to ${(retries ?? 2) + 1} time${retries === 0 ? '' : 's'} (${retries ?? 2} retr${retries === 1 ? 'y' : 'ies'}${retries === undefined ? ', the default' : ''}), within ${ageText(age ?? 21_600)} of being accepted${age === undefined ? ' (the default)' : ''}`,
    `  on success: ${c?.DestinationConfig?.OnSuccess?.Destination ?? '—'}`,
    `  on failure: ${c?.DestinationConfig?.OnFailure?.Destination ?? '—'}`,
  ].join('\n');
}

async function asyncSettings({ values, positionals }: Parsed): Promise<number> {
  const [name, ...extra] = positionals;
  if (!name) throw new UsageError('fare async needs a function name: fare async NAME [--retries N] [--max-age DURATION] [--on-success FN] [--on-failure FN] [--reset]');
  if (extra.length) throw new UsageError(`fare async takes one function name, got "${positionals.join(' ')}"`);
  const c = conn(values);
  const path = `/2019-09-25/functions/${encodeURIComponent(name)}/event-invoke-config`;
  const current = async (): Promise<EventConfigAnswer | undefined> => {
    await call(c, 'GET', `/v1/functions/${encodeURIComponent(name)}`, undefined, {}, { notFound: noFunction(name) });
    try {
      return JSON.parse((await call(c, 'GET', path)).text) as EventConfigAnswer;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  };
  const retriesText = values.retries as string | undefined;
  const changes = retriesText !== undefined || values['max-age'] !== undefined || values['on-success'] !== undefined || values['on-failure'] !== undefined;
  if (values.reset === true) {
    if (changes) throw new UsageError('--reset goes back to the defaults: give it alone');
    if ((await current()) !== undefined) await call(c, 'DELETE', path);
    out(values.json ? JSON.stringify({ function: name, reset: true }) : formatAsync(name, undefined));
    return 0;
  }
  const cur = await current();
  if (!changes) {
    out(values.json ? JSON.stringify(cur ?? null) : formatAsync(name, cur));
    return 0;
  }
  if (retriesText !== undefined && !/^[0-2]$/.test(retriesText)) throw new UsageError(`--retries ${retriesText} must be 0, 1 or 2 (retries after a failed attempt)`);
  // A destination by function name is that function's ARN; '' removes it.
  const destination = async (flag: 'on-success' | 'on-failure', kept: string | undefined): Promise<string | undefined> => {
    const v = values[flag] as string | undefined;
    if (v === undefined) return kept;
    if (v === '' || v.startsWith('arn:')) return v === '' ? undefined : v;
    return (JSON.parse((await call(c, 'GET', `/v1/functions/${encodeURIComponent(v)}`, undefined, {}, { notFound: `--${flag} ${v}: ${noFunction(v)}` })).text) as { arn: string }).arn;
  };
  const onSuccess = await destination('on-success', cur?.DestinationConfig?.OnSuccess?.Destination);
  const onFailure = await destination('on-failure', cur?.DestinationConfig?.OnFailure?.Destination);
  const retries = retriesText !== undefined ? Number(retriesText) : cur?.MaximumRetryAttempts;
  const age = values['max-age'] !== undefined ? maxAgeSeconds(values['max-age'] as string) : cur?.MaximumEventAgeInSeconds;
  // The whole config, as it is to be (Put sets all of it).
  const r = await call(c, 'PUT', path, {
    ...(retries !== undefined ? { MaximumRetryAttempts: retries } : {}),
    ...(age !== undefined ? { MaximumEventAgeInSeconds: age } : {}),
    ...(onSuccess !== undefined || onFailure !== undefined
      ? { DestinationConfig: { ...(onSuccess !== undefined ? { OnSuccess: { Destination: onSuccess } } : {}), ...(onFailure !== undefined ? { OnFailure: { Destination: onFailure } } : {}) } }
      : {}),
  });
  out(values.json ? r.text : formatAsync(name, JSON.parse(r.text) as EventConfigAnswer));
  return 0;
}

/** `fare concurrency NAME [N | --clear]`: a function's concurrency limit, shown or set. */
async function concurrency({ values, positionals }: Parsed): Promise<number> {
  const [name, limit, ...extra] = positionals;
  if (!name) throw new UsageError('fare concurrency needs a function name: fare concurrency NAME [N | --clear]');
  if (extra.length) throw new UsageError(`fare concurrency takes a function name and a number, got "${positionals.join(' ')}"`);
  const c = conn(values);
  const path = `/v1/functions/${encodeURIComponent(name)}`;
  let r;
  if (values.clear === true) {
    if (limit !== undefined) throw new UsageError('--clear removes the limit: give it without a number');
    r = await call(c, 'DELETE', `${path}/concurrency`, undefined, {}, { notFound: noFunction(name) });
  } else if (limit !== undefined) {
    if (!/^\d+$/.test(limit)) throw new UsageError(`${limit} is not a concurrency limit: give a whole number ≥ 0 (0 stops the function), or --clear to remove it`);
    r = await call(c, 'PUT', `${path}/concurrency`, { reserved: Number(limit) }, {}, { notFound: noFunction(name) });
  } else {
    r = await call(c, 'GET', path, undefined, {}, { notFound: noFunction(name) });
  }
  const fn = JSON.parse(r.text) as { name: string; reservedConcurrency: number | null };
  out(values.json ? JSON.stringify({ function: fn.name, reservedConcurrency: fn.reservedConcurrency }) : formatConcurrency(fn.name, fn.reservedConcurrency));
  return 0;
}

export function formatConcurrency(name: string, limit: number | null): string {
  if (limit === null) return `${name}: no concurrency limit (as many calls at once as the machines take)`;
  if (limit === 0) return `${name}: reserved concurrency 0 — no call runs (calls are throttled, Events wait) until it is raised or removed (--clear)`;
  return `${name}: at most ${limit} call${limit === 1 ? '' : 's'} at once, over all its versions (more are throttled: 429; Events wait)`;
}

/** `--every 5m` (or 1h, 2d, 90s is refused) as a rate expression. */
export function rateOf(every: string): string {
  const m = /^(\d+)\s*(m|min|minutes?|h|hours?|d|days?)$/.exec(every.trim());
  if (m === null || Number(m[1]) < 1) throw new UsageError(`--every ${every} is not a period: give whole minutes, hours or days, e.g. 5m, 1h, 2d`);
  const n = Number(m[1]);
  const unit = (m[2] as string).startsWith('h') ? 'hour' : (m[2] as string).startsWith('d') ? 'day' : 'minute';
  return `rate(${n} ${unit}${n === 1 ? '' : 's'})`;
}

interface ScheduleAnswer {
  Name: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone: string;
  State: string;
  Target: { Arn: string };
  FareNextFire?: number;
  FareLastOutcome?: string;
}

/** A time in seconds since the epoch as `2026-12-07 03:00Z` (minutes: a schedule's times are whole minutes or more). */
const minuteOf = (s: number | undefined): string => (s === undefined ? '—' : `${new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' ')}Z`);

/** `fare schedule NAME …` (create or replace), `fare schedule ls`, `fare schedule rm NAME`: EventBridge Scheduler's API. */
async function schedule({ values, positionals }: Parsed): Promise<number> {
  const [name, ...extra] = positionals;
  const c = conn(values);
  if (name === 'ls') {
    if (extra.length) throw new UsageError(`fare schedule ls takes nothing more, got "${extra.join(' ')}"`);
    const names = (JSON.parse((await call(c, 'GET', '/schedules')).text) as { Schedules: { Name: string }[] }).Schedules.map((s) => s.Name);
    const all = await Promise.all(names.map(async (n) => JSON.parse((await call(c, 'GET', `/schedules/${encodeURIComponent(n)}`)).text) as ScheduleAnswer));
    if (values.json) return (out(JSON.stringify(all)), 0);
    if (all.length === 0) return (out('no schedules yet: fare schedule NAME --function FN --every 5m makes one'), 0);
    out(table(['NAME', 'WHEN', 'TIME ZONE', 'STATE', 'FUNCTION', 'NEXT', 'LAST'], all.map((s) => [s.Name, s.ScheduleExpression, s.ScheduleExpressionTimezone, s.State, s.Target.Arn.split(':function:')[1] ?? s.Target.Arn, minuteOf(s.FareNextFire), s.FareLastOutcome === undefined ? '—' : s.FareLastOutcome.split(' ')[0] ?? '—'])));
    return 0;
  }
  if (name === 'rm') {
    const [victim, ...more] = extra;
    if (!victim || more.length) throw new UsageError('fare schedule rm takes one schedule name: fare schedule rm NAME');
    await call(c, 'DELETE', `/schedules/${encodeURIComponent(victim)}`, undefined, {}, { notFound: `there is no schedule ${victim}: fare schedule ls lists yours` });
    out(values.json ? JSON.stringify({ schedule: victim, deleted: true }) : `deleted schedule ${victim}`);
    return 0;
  }
  if (!name) throw new UsageError('fare schedule needs a name: fare schedule NAME --function FN --every 5m (or --cron, --at), fare schedule ls, fare schedule rm NAME');
  if (extra.length) throw new UsageError(`fare schedule takes one schedule name, got "${positionals.join(' ')}"`);
  const fn = values.function as string | undefined;
  if (!fn) throw new UsageError('fare schedule NAME needs --function FN: the function it invokes');
  const when = [values.every !== undefined ? rateOf(values.every as string) : undefined, values.cron !== undefined ? `cron(${values.cron as string})` : undefined, values.at !== undefined ? `at(${values.at as string})` : undefined].filter((x) => x !== undefined);
  if (when.length !== 1) throw new UsageError('give one of --every (5m, 1h, 2d), --cron (AWS\'s six fields, e.g. "0 3 * * ? *") or --at (2027-01-01T08:00:00)');
  const payload = values.payload as string | undefined;
  if (payload !== undefined) {
    try {
      JSON.parse(payload);
    } catch {
      throw new UsageError(`--payload is not valid JSON: ${payload.slice(0, 80)} (quote it for your shell, e.g. --payload '{"report":"daily"}')`);
    }
  }
  const arn = fn.startsWith('arn:') ? fn : (JSON.parse((await call(c, 'GET', `/v1/functions/${encodeURIComponent(fn)}`, undefined, {}, { notFound: `--function ${fn}: ${noFunction(fn)}` })).text) as { arn: string }).arn;
  const body = {
    ScheduleExpression: when[0],
    ...(values.tz !== undefined ? { ScheduleExpressionTimezone: values.tz as string } : {}),
    FlexibleTimeWindow: { Mode: 'OFF' },
    State: values.disabled === true ? 'DISABLED' : 'ENABLED',
    ...(values.at !== undefined ? { ActionAfterCompletion: 'DELETE' } : {}),
    Target: { Arn: arn, RoleArn: 'arn:aws:iam::000000000000:role/fare', ...(payload !== undefined ? { Input: payload } : {}) },
  };
  const path = `/schedules/${encodeURIComponent(name)}`;
  let verb = 'created';
  try {
    await call(c, 'POST', path, body);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
    verb = 'updated';
    await call(c, 'PUT', path, body);
  }
  const s = JSON.parse((await call(c, 'GET', path)).text) as ScheduleAnswer;
  out(values.json ? JSON.stringify(s) : `${verb} schedule ${name}: invokes ${fn} at ${s.ScheduleExpression} (${s.ScheduleExpressionTimezone})${s.State === 'DISABLED' ? ', disabled' : s.FareNextFire !== undefined ? `, next at ${minuteOf(s.FareNextFire)}` : ''}`);
  return 0;
}

/** `fare rm NAME`: deletes the function, its versions and its logs. */
async function rm({ values, positionals }: Parsed): Promise<number> {
  const [name, ...extra] = positionals;
  if (!name) throw new UsageError('fare rm needs the name of the function to delete: fare rm NAME');
  if (extra.length) throw new UsageError(`fare rm takes one function name, got "${positionals.join(' ')}"`);
  await call(conn(values), 'DELETE', `/v1/functions/${encodeURIComponent(name)}`, undefined, {}, { notFound: noFunction(name) });
  // The API answers 204 with no body: --json prints what was done.
  out(values.json ? JSON.stringify({ function: name, deleted: true }) : `deleted ${name}`);
  return 0;
}

/** Exits 1 when the function itself failed (it answered with x-amz-function-error). */
async function invoke({ values, positionals }: Parsed): Promise<number> {
  const [name] = positionals;
  if (!name) throw new UsageError('fare invoke needs a function name: fare invoke NAME [--payload JSON]');
  let payload = Buffer.from((values.payload as string | undefined) ?? '{}');
  const file = values['payload-file'] as string | undefined;
  if (file !== undefined) {
    if (values.payload !== undefined) throw new UsageError('give --payload or --payload-file, not both');
    try {
      payload = readFileSync(file);
    } catch (e) {
      throw new UsageError(`--payload-file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is no such file' : (e as Error).message}`);
    }
  }
  if (values.payload !== undefined) {
    try {
      JSON.parse(payload.toString('utf8'));
    } catch {
      throw new UsageError(`--payload is not valid JSON: ${payload.toString('utf8').slice(0, 80)} (quote it for your shell, e.g. --payload '{"user":"ada"}')`);
    }
  }
  const type = values.async ? 'Event' : values['dry-run'] ? 'DryRun' : 'RequestResponse';
  const c = conn(values);
  if (values.stream === true) {
    if (type !== 'RequestResponse') throw new UsageError('--stream prints the response as the function streams it: it does not go with --async or --dry-run');
    if (values.json === true) throw new UsageError('--stream prints the response as it comes, not as JSON: leave out --json (or --stream)');
    return invokeStreaming(c, name, payload, values.logs === true);
  }
  const r = await call(c, 'POST', `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, payload, {
    'X-Amz-Invocation-Type': type, 'Content-Type': 'application/json', ...(values.logs ? { 'X-Amz-Log-Type': 'Tail' } : {}),
  }, { notFound: noFunction(name) });
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

/**
 * `fare invoke NAME --stream`: InvokeWithResponseStream, each part written to stdout as it comes;
 * the function's error (after what it streamed) on stderr, with exit status 1.
 */
async function invokeStreaming(c: Conn, name: string, payload: Buffer, logs: boolean): Promise<number> {
  const { EventStreamCodec } = await import('@smithy/core/event-streams');
  const codec = new EventStreamCodec((b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'), (t: string) => Buffer.from(t, 'utf8'));
  // The codec decodes whole messages only: the answer's parts are cut into messages here (each
  // begins with its total length, a 32-bit big-endian integer), as they may hold several, or part of one.
  let pending: Buffer = Buffer.alloc(0);
  let complete: { ErrorCode?: string; ErrorDetails?: string; LogResult?: string } | undefined;
  await callStreaming(c, 'POST', `/2021-11-15/functions/${encodeURIComponent(name)}/response-streaming-invocations`, payload, {
    'Content-Type': 'application/json', ...(logs ? { 'X-Amz-Log-Type': 'Tail' } : {}),
  }, { notFound: noFunction(name) }, (part) => {
    pending = pending.length === 0 ? part : Buffer.concat([pending, part]);
    while (pending.length >= 4 && pending.length >= pending.readUInt32BE(0)) {
      const length = pending.readUInt32BE(0);
      codec.feed(pending.subarray(0, length));
      pending = pending.subarray(length);
    }
    let full = false;
    for (const m of codec.getAvailableMessages().getMessages()) {
      const kind = m.headers[':event-type']?.value;
      if (kind === 'PayloadChunk') full = !process.stdout.write(m.body) || full;
      else if (kind === 'InvokeComplete') complete = JSON.parse(Buffer.from(m.body).toString('utf8')) as typeof complete;
    }
    // A slow reader of stdout (a pipe): read no more until it has taken what was written.
    if (!full) return undefined;
    return new Promise<void>((resolve) => {
      const go = (): void => {
        process.stdout.off('drain', go).off('close', go).off('error', go);
        resolve();
      };
      process.stdout.on('drain', go).on('close', go).on('error', go);
    });
  });
  if (complete === undefined) throw new ApiError('FARE_E_CUT_OFF', `the stream of ${name}'s response ended without its completion: call it again`);
  if (logs && complete.LogResult) process.stderr.write(`--- logs ---\n${Buffer.from(complete.LogResult, 'base64').toString('utf8')}\n`);
  if (complete.ErrorCode === undefined) return 0;
  process.stderr.write(`${name} failed: ${complete.ErrorCode}: ${complete.ErrorDetails ?? ''}\n`);
  return 1;
}

async function ls({ values, positionals }: Parsed): Promise<number> {
  if (positionals.length) throw new UsageError(`fare ls takes no arguments, got "${positionals.join(' ')}"`);
  const r = await call(conn(values), 'GET', '/v1/functions');
  if (values.json) return (out(r.text), 0);
  const fs = (JSON.parse(r.text) as { functions: { name: string; runtime: string; class: string; version: number; handler: string; reservedConcurrency?: number | null }[] }).functions;
  if (fs.length === 0) return (out('no functions yet: fare init DIR makes one, fare deploy DIR deploys it'), 0);
  // A column of concurrency limits when any function has one (fare concurrency).
  const limits = fs.some((f) => typeof f.reservedConcurrency === 'number');
  out(table(['NAME', 'RUNTIME', 'CLASS', 'VERSION', 'HANDLER', ...(limits ? ['AT ONCE'] : [])], fs.map((f) => [
    f.name, f.runtime, f.class, num(f.version, true), f.handler, ...(limits ? [typeof f.reservedConcurrency === 'number' ? (f.reservedConcurrency === 0 ? '0 (stopped)' : String(f.reservedConcurrency)) : '—'] : []),
  ])));
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

interface UsageView {
  readonly invocations: number;
  readonly cpuMs: number;
  readonly memGBs: number;
  readonly costMicroCents: number;
}

interface BillView extends UsageView {
  readonly tenant: string;
  readonly month: string;
  readonly budgetMicroCents: number | null;
  readonly budgetState?: string;
  readonly functions: readonly (UsageView & { readonly function: string; readonly classes?: readonly (UsageView & { readonly cls: string })[] })[];
}

const usageCells = (u: UsageView): Cell[] => [num(u.invocations, true), num(u.cpuMs / 1000), num(u.memGBs), num(u.costMicroCents)];
const USAGE_HEADERS = ['INVOCATIONS', 'CPU s', 'MEMORY GB·s', 'COST µ¢'];

/** `fare bill` as text: a line for the month, then a table per function and one per class (what each class cost). */
export function formatBill(b: BillView): string {
  const budget = b.budgetMicroCents !== null ? ` of a ${round(b.budgetMicroCents)} µ¢ budget${b.budgetState ? ` (${b.budgetState})` : ''}` : ', no budget';
  const head = `${b.tenant}, ${b.month}: ${b.invocations.toLocaleString('en-US')} invocation${b.invocations === 1 ? '' : 's'}, ${round(b.costMicroCents)} µ¢${budget}`;
  if (b.functions.length === 0) return head;
  const perClass = new Map<string, { invocations: number; cpuMs: number; memGBs: number; costMicroCents: number }>();
  for (const f of b.functions) {
    for (const c of f.classes ?? []) {
      const s = perClass.get(c.cls) ?? { invocations: 0, cpuMs: 0, memGBs: 0, costMicroCents: 0 };
      s.invocations += c.invocations;
      s.cpuMs += c.cpuMs;
      s.memGBs += c.memGBs;
      s.costMicroCents += c.costMicroCents;
      perClass.set(c.cls, s);
    }
  }
  const fnTable = table(['FUNCTION', 'CLASSES', ...USAGE_HEADERS], b.functions.map((f) => [f.function, (f.classes ?? []).map((c) => c.cls).join(', '), ...usageCells(f)]));
  const classes = [...perClass].sort((x, y) => y[1].costMicroCents - x[1].costMicroCents);
  const clsTable = table(['CLASS', ...USAGE_HEADERS], classes.map(([cls, u]) => [cls, ...usageCells(u)]));
  return `${head}\n\n${fnTable}\n\n${clsTable}`;
}

/** `fare receipt ID`: exit status 0 when the check passes, 1 when it found something. */
async function receipt({ values, positionals }: Parsed): Promise<number> {
  const [id, ...extra] = positionals;
  if (!id || extra.length) throw new UsageError(`fare receipt takes one invocation id (the x-amzn-RequestId of an invocation, printed by fare invoke), got "${positionals.join(' ')}"`);
  const attempt = values.attempt as string | undefined;
  if (attempt !== undefined && !/^[1-9]\d*$/.test(attempt)) throw new UsageError(`--attempt ${attempt} must be a whole number from 1 (an Event's attempt)`);
  const r = await call(conn(values), 'GET', `/v1/invocations/${encodeURIComponent(id)}/receipt${attempt !== undefined ? `?attempt=${attempt}` : ''}`);
  const a = JSON.parse(r.text) as ReceiptAnswer;
  out(values.json ? r.text : formatReceipt(a));
  return a.verdict.ok ? 0 : 1;
}

async function bill({ values, positionals }: Parsed): Promise<number> {
  if (positionals.length) throw new UsageError(`fare bill takes no arguments besides options, got "${positionals.join(' ')}"`);
  const month = values.month as string | undefined;
  if (month !== undefined && !/^\d{4}-\d{2}$/.test(month)) throw new UsageError(`--month ${month} must be YYYY-MM`);
  const r = await call(conn(values), 'GET', `/v1/bill${month ? `?month=${month}` : ''}`);
  out(values.json ? r.text : formatBill(JSON.parse(r.text) as BillView));
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
    if (values.json) return (out(r.text), 0);
    const ts = (JSON.parse(r.text) as { tenants: { id: string; name: string; budgetMicroCents: number | null }[] }).tenants;
    out(table(['TENANT', 'NAME', 'BUDGET µ¢'], ts.map((t) => [t.id, t.name, t.budgetMicroCents === null ? { num: 'none' } : num(t.budgetMicroCents)])));
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
    usage: `fare deploy DIR [--name NAME] [--runtime nodejs|python|provided] [--handler FILE.FUNCTION] [--class CLASS]
            [--timeout MS] [--env KEY=VALUE]… [--idempotent]   deploy a function from a folder, or update it
            Says whether it created or updated the function. --name: default the folder's name.
            A new function's runtime and handler, when not given, come from the folder's one entry
            file: index.mjs/index.js → nodejs index.handler; app.py → python app.handler;
            lambda_function.py → python lambda_function.lambda_handler; bootstrap → provided.
            An existing function keeps its runtime, handler and class unless given. Default class: standard.
            (--idempotent: safe to run twice; a call whose worker is lost is run again)`,
    options: { name: { type: 'string' }, runtime: { type: 'string' }, handler: { type: 'string' }, class: { type: 'string' }, timeout: { type: 'string' }, env: { type: 'string', multiple: true }, idempotent: { type: 'boolean' } },
    run: deploy,
  },
  invoke: {
    usage: `fare invoke NAME [--payload JSON | --payload-file FILE] [--async] [--dry-run] [--stream] [--logs]
            invoke a function (RequestResponse by default; --async queues it and prints its id;
            --stream prints its response as the function streams it)`,
    options: { payload: { type: 'string' }, 'payload-file': { type: 'string' }, async: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false }, stream: { type: 'boolean', default: false }, logs: { type: 'boolean', default: false } },
    run: invoke,
  },
  async: {
    usage: `fare async NAME [--retries 0|1|2] [--max-age DURATION] [--on-success FN] [--on-failure FN] [--reset]
            how a function's Event invocations (fare invoke --async) are tried: without options, as
            they are; --retries: retries after a failed attempt (default 2); --max-age: how long an
            event may wait to run, retries included, 1m to 6h (default 6h; e.g. 3600, 30m); --on-success,
            --on-failure: a function (name or ARN; "" for none) invoked with the record of each
            success, or of each final failure; --reset: the defaults again. Options not given are kept.`,
    options: { retries: { type: 'string' }, 'max-age': { type: 'string' }, 'on-success': { type: 'string' }, 'on-failure': { type: 'string' }, reset: { type: 'boolean', default: false } },
    run: asyncSettings,
  },
  concurrency: {
    usage: `fare concurrency NAME [N | --clear]     a function's concurrency limit (Lambda's reserved concurrency):
            without N, as it is; N: at most N of its calls at once, over all its versions — a call
            past it is answered 429 (throttled), an Event waits its turn; 0 stops the function;
            --clear: no limit again. Not a new version of the function.`,
    options: { clear: { type: 'boolean', default: false } },
    run: concurrency,
  },
  schedule: {
    usage: `fare schedule NAME --function FN (--every 5m | --cron "0 3 * * ? *" | --at 2027-01-01T08:00:00)
              [--tz Europe/Paris] [--payload JSON] [--disabled]
            invoke a function (as an Event) on a schedule, made or replaced: --every whole minutes,
            hours or days; --cron AWS's six fields (minutes hours day-of-month month day-of-week
            year); --at once (then deleted); --tz the time zone of --cron and --at (default UTC)
fare schedule ls | fare schedule rm NAME   your schedules; delete one`,
    options: { function: { type: 'string' }, every: { type: 'string' }, cron: { type: 'string' }, at: { type: 'string' }, tz: { type: 'string' }, payload: { type: 'string' }, disabled: { type: 'boolean', default: false } },
    run: schedule,
  },
  ls: {
    usage: 'fare ls                                 list your functions',
    options: {},
    run: ls,
  },
  rm: {
    usage: 'fare rm NAME                            delete a function (its versions and logs too)',
    options: {},
    run: rm,
  },
  logs: {
    usage: `fare logs NAME [--since 10m|1h|2d|ISO-TIME] [--limit N] [--request ID] [--grep TEXT] [--errors] [--follow] [--json]
            a function's recent logs: one entry per execution (sync and async, errors, timeouts and
            crashes too), START / what it printed / END / REPORT as Lambda writes them, then BILLED
            (the class it ran at, its CPU time and what Fare charged), oldest first; the newest --limit
            (default 100, at most 1000) since --since; --follow prints new ones as they come (every
            second) until Ctrl-C; --grep only entries holding TEXT (ASCII letters in either case);
            --errors only executions that failed, timed out or crashed; --json one JSON object per entry and line
fare logs ID                            an async invocation: status, result and error, then its logs
            (ID is the request id fare invoke --async prints; a UUID is taken for an invocation id,
            and if there is no such invocation, for a function name)
            Kept per function: the newest 10,000 executions or 32 MiB, each entry at most 256 KB
            (the end kept, marked truncated); deleting the function deletes them.`,
    options: { since: { type: 'string' }, limit: { type: 'string' }, request: { type: 'string' }, grep: { type: 'string' }, errors: { type: 'boolean', default: false }, follow: { type: 'boolean', short: 'f', default: false } },
    run: logs,
  },
  receipt: {
    usage: `fare receipt ID [--attempt N] [--json]   an invocation's scheduling receipt: its class and why, price and cost,
            the shard that queued it, the machine that ran it, each wait there with the core time each
            class got meanwhile, each preemption (by which class, how long) and swap; then the check
            that no lower class ran ahead of it on that machine (exit status 1 if it fails).
            An Event has one per attempt (the newest by default). Kept as long as the function's logs.`,
    options: { attempt: { type: 'string' } },
    run: receipt,
  },
  bill: {
    usage: `fare bill [--month YYYY-MM]             usage and cost this month (or --month), per function and per class
            (CPU s: CPU-seconds; MEMORY GB·s: memory used × time; COST µ¢: millionths of a cent; --json: exact)`,
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
