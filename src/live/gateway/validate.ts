// Small validators for what enters over HTTP (no schema library is installed). A validator takes an
// unknown value and its path, and returns a typed value or throws a ValidationError naming the field,
// what was wrong and what to send instead. The edge turns that into a 400.

export class ValidationError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ValidationError';
    this.path = path;
  }
}

export type Check<T> = (v: unknown, path: string) => T;

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

export function str(opts: { min?: number; max?: number; pattern?: RegExp; hint?: string } = {}): Check<string> {
  const { min = 0, max = Infinity, pattern, hint } = opts;
  return (v, path) => {
    if (typeof v !== 'string') throw new ValidationError(path, `expected a string, got ${show(v)}`);
    if (v.length < min || v.length > max) {
      throw new ValidationError(path, `expected ${max === Infinity ? `at least ${min}` : `${min} to ${max}`} characters, got ${v.length}`);
    }
    if (pattern !== undefined && !pattern.test(v)) throw new ValidationError(path, `${show(v)} is not valid: ${hint ?? `must match ${String(pattern)}`}`);
    return v;
  };
}

export function num(opts: { min?: number; max?: number; integer?: boolean } = {}): Check<number> {
  const { min = -Infinity, max = Infinity, integer = false } = opts;
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(path, `expected a number, got ${show(v)}`);
    if (integer && !Number.isInteger(v)) throw new ValidationError(path, `expected a whole number, got ${v}`);
    if (v < min || v > max) throw new ValidationError(path, `expected a number from ${min} to ${max}, got ${v}`);
    return v;
  };
}

export const int = (opts: { min?: number; max?: number } = {}): Check<number> => num({ ...opts, integer: true });

export const bool = (): Check<boolean> => (v, path) => {
  if (typeof v !== 'boolean') throw new ValidationError(path, `expected true or false, got ${show(v)}`);
  return v;
};

export function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return (v, path) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw new ValidationError(path, `expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${show(v)}`);
    }
    return v as T;
  };
}

export const optional = <T>(check: Check<T>): Check<T | undefined> => (v, path) => (v === undefined ? undefined : check(v, path));

export const nullable = <T>(check: Check<T>): Check<T | null> => (v, path) => (v === null ? null : check(v, path));

/** A JSON object of string values whose keys satisfy `key`. */
export function stringMap(key: Check<string>, value: Check<string>): Check<Record<string, string>> {
  return (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(path, `expected an object, got ${show(v)}`);
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      key(k, `${path}.${k} (name)`);
      out[k] = value(x, `${path}.${k}`);
    }
    return out;
  };
}

type Shape = Record<string, Check<unknown>>;
export type Parsed<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** A JSON object with exactly the fields of `shape` (unknown fields are errors: they are usually typos). */
export function object<S extends Shape>(shape: S): Check<Parsed<S>> {
  return (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(path, `expected a JSON object, got ${show(v)}`);
    const rec = v as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (!(k in shape)) throw new ValidationError(path, `unknown field ${JSON.stringify(k)}: the fields are ${Object.keys(shape).join(', ')}`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, check] of Object.entries(shape)) out[k] = check(rec[k], path === '' ? k : `${path}.${k}`);
    return out as Parsed<S>;
  };
}

/** Drops the keys whose value is undefined (for `exactOptionalPropertyTypes` targets). */
export function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

// The vocabulary of Fare's edge.

export const TENANT_ID = str({ min: 1, max: 63, pattern: /^[a-z0-9][a-z0-9-]*$/, hint: 'use 1–63 lower-case letters, digits or "-", starting with a letter or digit' });
export const FUNCTION_NAME = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_][A-Za-z0-9_-]*$/, hint: 'use 1–64 letters, digits, "-" or "_", not starting with "-"' });
export const RUNTIME = oneOf(['nodejs', 'python', 'provided'] as const);
export const HANDLER = str({
  min: 1,
  max: 128,
  pattern: /^(?!.*\.\.)(?!\/)[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.[A-Za-z_$][A-Za-z0-9_$]*$/,
  hint: 'use file.function (for example index.handler or src/app.main), without ".."',
});
export const TIMEOUT_MS = int({ min: 1, max: 900_000 });
const ENV_KEY = str({ min: 1, max: 128, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: 'environment variable names are letters, digits and "_", not starting with a digit' });
export const ENV = stringMap(ENV_KEY, str({ max: 4096 }));
export const MONTH = str({ pattern: /^\d{4}-(0[1-9]|1[0-2])$/, hint: 'use YYYY-MM, for example 2025-01' });
export const BUDGET = nullable(num({ min: 0 }));

/** A point in time from a query string: milliseconds since the epoch, or ISO 8601 (a date, or a date-time with Z or an offset). */
export const TIME_MS: Check<number> = (v, path) => {
  const hint = 'give an ISO 8601 time such as 2025-01-15T12:00:00Z, or milliseconds since the epoch';
  if (typeof v !== 'string') throw new ValidationError(path, `expected a time, got ${show(v)}: ${hint}`);
  if (/^\d{1,15}$/.test(v)) return Number(v);
  const m = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(v);
  if (m === null) throw new ValidationError(path, `${show(v)} is not a time: ${hint}`);
  if (m[1] !== undefined && m[4] === undefined) throw new ValidationError(path, `${show(v)} has no time zone: add Z (UTC) or an offset such as +02:00`);
  const [y, mo, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  const ms = Date.parse(v);
  if (Number.isNaN(ms) || new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) throw new ValidationError(path, `${show(v)} is not a valid date: ${hint}`);
  return ms;
};

/** A whole number in a query string. */
export const queryInt = (opts: { min?: number; max?: number } = {}): Check<number> => (v, path) => {
  if (typeof v !== 'string' || !/^\d{1,15}$/.test(v)) throw new ValidationError(path, `expected a whole number${opts.min !== undefined && opts.max !== undefined ? ` from ${opts.min} to ${opts.max}` : ''}, got ${show(v)}`);
  return int(opts)(Number(v), path);
};
export const OVER_BUDGET = oneOf(['throttle', 'degrade'] as const);

/** Environment variables the runtime sets itself. */
export const RESERVED_ENV = /^(AWS_LAMBDA_|LAMBDA_|FARE_|_HANDLER$|_X_AMZN_TRACE_ID$|AWS_EXECUTION_ENV$|AWS_REGION$)/;
export const MAX_ENV_BYTES = 4096;

export function checkEnv(env: Record<string, string>, path = 'env'): Record<string, string> {
  for (const k of Object.keys(env)) {
    if (RESERVED_ENV.test(k)) throw new ValidationError(`${path}.${k}`, 'is reserved for the runtime: choose another name');
  }
  const size = Object.entries(env).reduce((s, [k, v]) => s + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size > MAX_ENV_BYTES) throw new ValidationError(path, `is ${size} bytes; environment variables may total at most ${MAX_ENV_BYTES} bytes`);
  return env;
}
