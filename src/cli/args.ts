// Argument parsing shared by the subcommands, and the usage error they throw.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WITHIN_CLASS, type WithinClass } from '../core/machine/run-queue.ts';
import { DEFAULT_RETENTION_MS, MIN_RETENTION_MS } from '../live/store/retention.ts';

/** Errors at the edge: a stable code and a message that says what to do. */
export class UsageError extends Error {
  readonly code = 'FARE_E_USAGE';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(args: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const unknown = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']+)'/.exec(err.message)?.[1] : undefined;
    if (unknown !== undefined) throw new UsageError(unknownOption(unknown, options));
    throw new UsageError(err.message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

/** What to say of an option the command does not have: the closest it has, if one is near, and all it has. */
export function unknownOption(given: string, options: Options): string {
  const names = Object.keys(options).map((n) => `--${n}`);
  const flag = given.replace(/=.*$/, '');
  const near = names
    .map((n) => ({ n, d: editDistance(flag, n) }))
    .filter((x) => x.d <= Math.max(1, Math.floor(x.n.length / 4)))
    .sort((a, b) => a.d - b.d)[0]?.n;
  const list = names.filter((n) => n !== '--help').join(', ');
  return `unknown option ${flag}${near !== undefined ? ` (did you mean ${near}?)` : ''}: this command takes ${list} (--help says what each does)`;
}

/** Edit distance: insertions, deletions, substitutions and swaps of two neighbours, one each (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[], up = d[i - 1] as number[];
      let v = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** `--within-class`: Fare's order within a class (fare policy only), checked; undefined when not given (the policy's default). */
export function withinClass(value: string | boolean | (string | boolean)[] | undefined, policy: string): WithinClass | undefined {
  if (value === undefined) return undefined;
  const within = typeof value === 'string' ? value : '';
  if (!(WITHIN_CLASS as readonly string[]).includes(within)) throw new UsageError(`--within-class ${within} is not known: use ${WITHIN_CLASS.join(', ')}`);
  if (policy !== 'fare') throw new UsageError(`--within-class ${within} is Fare's order within a class: it goes with --policy fare, not ${policy}`);
  return within as WithinClass;
}

/** `--metrics-port` / `--metrics-host`: the options of every process that serves its metrics on a listener of its own. */
export const METRICS_OPTIONS = {
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string', default: '127.0.0.1' },
} as const;

/** The metrics listener asked for, checked; undefined when no `--metrics-port` was given. */
export function metricsListen(values: { readonly [k: string]: string | boolean | (string | boolean)[] | undefined }): { metricsPort: number; metricsHost: string } | undefined {
  const raw = values['metrics-port'];
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || port > 65535) throw new UsageError(`--metrics-port ${String(raw)} is not a port: give a whole number from 0 to 65535 (0: any free port)`);
  const host = values['metrics-host'];
  return { metricsPort: port, metricsHost: typeof host === 'string' ? host : '127.0.0.1' };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration given as a number and a unit — `90s`, `30m`, `12h`, `7d` — in ms, at least `minMs`;
 * `flag` names the option in the error.
 */
export function durationMs(flag: string, value: string | boolean | (string | boolean)[] | undefined, minMs: number): number {
  const text = typeof value === 'string' ? value.trim() : '';
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  const ms = m === null ? NaN : Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
  if (!Number.isFinite(ms)) {
    throw new UsageError(`${flag} ${String(value)} is not a duration: give a number and a unit, s, m, h or d (e.g. 30m, 12h or 7d)`);
  }
  if (ms < minMs) throw new UsageError(`${flag} ${text} is too short: give at least ${formatDuration(minMs)}`);
  return ms;
}

/** ms as the largest whole unit that fits, e.g. `7d`, `90m`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(DURATION_UNITS).reverse()) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

/** `--retention`: how long a store keeps invocation records and function logs (`fare up`, `fare gateway`, `fare cluster up`). */
export const RETENTION_OPTION = {
  retention: { type: 'string', default: formatDuration(DEFAULT_RETENTION_MS) },
} as const;

/** How long a stop lets the calls in flight finish by default (`--shutdown-grace`), and at most (a function's longest timeout). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
export const MAX_SHUTDOWN_GRACE_MS = 15 * 60_000;

export const SHUTDOWN_GRACE_OPTION = {
  'shutdown-grace': { type: 'string', default: formatDuration(DEFAULT_SHUTDOWN_GRACE_MS) },
} as const;

/** The grace asked for (`--shutdown-grace`, default 30s; 0s: none), checked, in ms. */
export function shutdownGraceMs(values: { readonly [k: string]: string | boolean | (string | boolean)[] | undefined }): number {
  const ms = durationMs('--shutdown-grace', values['shutdown-grace'], 0);
  if (ms > MAX_SHUTDOWN_GRACE_MS) throw new UsageError(`--shutdown-grace ${String(values['shutdown-grace'])} is too long: give at most ${formatDuration(MAX_SHUTDOWN_GRACE_MS)} (a function's longest timeout)`);
  return ms;
}

/** The retention asked for (`--retention`, default 7d), checked: a duration of at least MIN_RETENTION_MS, in ms. */
export function retentionMs(values: { readonly [k: string]: string | boolean | (string | boolean)[] | undefined }): number {
  return durationMs('--retention', values.retention, MIN_RETENTION_MS);
}
