// The edge's schemas: every request body, query and path parameter, and every JSON answer, of both
// APIs is a zod schema. The same schema validates the input, words the error (which field, what
// was wrong, what to send instead: the helpers below carry Fare's wording), checks the answer in
// tests, and becomes the JSON Schema of the API description (openapi.ts). Only zod is used here.

import { z } from 'zod';
import type { FareErrorCode, LambdaErrorType } from './errors.ts';

export { z };

/** An input that does not fit its schema: `path` names the field. The edge turns it into a 400. */
export class ValidationError extends Error {
  readonly path: string;
  readonly code: FareErrorCode | undefined;
  readonly lambdaType: LambdaErrorType | undefined;
  constructor(path: string, message: string, code?: FareErrorCode, lambdaType?: LambdaErrorType) {
    super(path === '' ? message : `${path}: ${message}`);
    this.name = 'ValidationError';
    this.path = path;
    this.code = code;
    this.lambdaType = lambdaType;
  }
}

/** What a custom check puts in its issue's `params` to answer with another code than FARE_E_INVALID_REQUEST. */
export interface IssueParams {
  readonly code?: FareErrorCode;
  readonly lambdaType?: LambdaErrorType;
}

export const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  if (typeof v === 'bigint' || typeof v === 'symbol') return v.toString();
  if (typeof v === 'function') return 'a function';
  const s = JSON.stringify(v) as string | undefined;
  if (s === undefined) return 'nothing';
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const KIND: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a list',
  record: 'a JSON object',
  null: 'null',
};

/** Fare's wording of an issue the schema did not word itself. */
function word(iss: z.core.$ZodRawIssue): string {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${KIND[iss.expected] ?? iss.expected}, got ${show(iss.input)}`;
    case 'too_small':
      return iss.origin === 'string'
        ? `expected at least ${String(iss.minimum)} characters, got ${(iss.input as string).length}`
        : iss.origin === 'array'
          ? `expected at least ${String(iss.minimum)} items`
          : `expected a number ${iss.inclusive === false ? 'above' : 'from'} ${String(iss.minimum)}, got ${show(iss.input)}`;
    case 'too_big':
      return iss.origin === 'string'
        ? `expected at most ${String(iss.maximum)} characters, got ${(iss.input as string).length}`
        : iss.origin === 'array'
          ? `expected at most ${String(iss.maximum)} items`
          : `expected a number up to ${String(iss.maximum)}, got ${show(iss.input)}`;
    case 'invalid_value':
      return `expected one of ${iss.values.map((x) => JSON.stringify(x)).join(', ')}, got ${show(iss.input)}`;
    case 'invalid_format':
      return `${show(iss.input)} is not valid: must match ${iss.pattern ?? iss.format}`;
    case 'unrecognized_keys': {
      const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
      const fields = shape !== undefined ? `: the fields are ${Object.keys(shape).join(', ')}` : '';
      return `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}${fields}`;
    }
    case 'invalid_key':
      return `has a name that is not valid`;
    case 'invalid_element':
    case 'invalid_union':
    case 'not_multiple_of':
    case 'custom':
      return `${show(iss.input)} is not valid`;
  }
}

// Fare's wording for every issue, set once for the process rather than passed to each parse: zod
// builds a parse's context as `{ ...ctx, async: false }`, which on Node 20 makes a hidden class each
// time it is given one (src/live/README.md); without one it builds `{ async: false }`. Wording set
// on a schema itself still comes first.
z.config({ customError: (iss) => word(iss) });

function pathText(base: string, path: readonly PropertyKey[]): string {
  const rest = path.map(String).join('.');
  if (base === '') return rest;
  if (rest === '') return base;
  return base === '?' ? `?${rest}` : `${base}.${rest}`;
}

/**
 * Validates `value` with `schema`: the parsed value, or a ValidationError for the first issue (an
 * unknown field first: it is usually a typo, and the cause of the others). `base` prefixes paths.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, base = ''): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = [...r.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  const first = issues[0] as z.core.$ZodIssue;
  const params = (first as { params?: IssueParams }).params;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  if (first.code === 'invalid_key') {
    // A map's key: say which key, and why it is not a name the map takes.
    const inner = first.issues[0];
    throw new ValidationError(`${pathText(base, first.path)} (name)`, `${inner?.message ?? 'is not valid'}${more}`);
  }
  throw new ValidationError(pathText(base, first.path), `${first.message}${more}`, params?.code, params?.lambdaType);
}

// ---- Fare's vocabulary: schemas with Fare's wording ---------------------------------------------

export function str(opts: { min?: number; max?: number; pattern?: RegExp; hint?: string; description?: string } = {}): z.ZodString {
  const { min = 0, max, pattern, hint } = opts;
  const range = max === undefined ? `at least ${min}` : `${min} to ${max}`;
  const length = (iss: { input?: unknown }): string => `expected ${range} characters, got ${String((iss.input as string).length)}`;
  let s = z.string();
  if (min > 0) s = s.min(min, { error: length });
  if (max !== undefined) s = s.max(max, { error: length });
  if (pattern !== undefined) s = s.regex(pattern, { error: (iss) => `${show(iss.input)} is not valid: ${hint ?? `must match ${String(pattern)}`}` });
  return opts.description !== undefined ? s.describe(opts.description) : s;
}

export function num(opts: { min?: number; max?: number; integer?: boolean; description?: string } = {}): z.ZodNumber {
  const { min, max, integer = false } = opts;
  const what = integer ? 'a whole number' : 'a number';
  const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` ≥ ${min}` : max !== undefined ? ` ≤ ${max}` : '';
  const bad = (iss: { input?: unknown }): string => `expected ${what}${range}, got ${show(iss.input)}`;
  let n = (integer ? z.int({ error: bad }) : z.number({ error: bad }));
  if (min !== undefined) n = n.min(min, { error: (iss) => `expected a number${range}, got ${show(iss.input)}` });
  if (max !== undefined) n = n.max(max, { error: (iss) => `expected a number${range}, got ${show(iss.input)}` });
  return opts.description !== undefined ? n.describe(opts.description) : n;
}

export const int = (opts: { min?: number; max?: number; description?: string } = {}): z.ZodNumber => num({ ...opts, integer: true });

export const bool = (): z.ZodBoolean => z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` });

export function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, { error: (iss) => `expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${show(iss.input)}` });
}

/** A JSON object with exactly the fields of `shape` (unknown fields are errors: they are usually typos). */
export function object<S extends z.ZodRawShape>(shape: S): z.ZodObject<S, z.core.$strict> {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'invalid_type' ? `expected a JSON object, got ${show(iss.input)}` : undefined),
  });
}

/** A JSON object of string values whose keys satisfy `key`. */
export function stringMap(key: z.ZodString, value: z.ZodString): z.ZodRecord<z.ZodString, z.ZodString> {
  return z.record(key, value, { error: (iss) => (iss.code === 'invalid_type' ? `expected a JSON object, got ${show(iss.input)}` : undefined) });
}

/** Drops the keys whose value is undefined (for `exactOptionalPropertyTypes` targets). */
export function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** A check of a whole value, with Fare's error code when it fails (e.g. FARE_E_UNSUPPORTED). */
export function fails(ctx: z.core.$RefinementCtx, message: string, params: IssueParams = {}): void {
  ctx.addIssue({ code: 'custom', message, params: { ...params } });
}

// ---- query strings -------------------------------------------------------------------------------

/** A whole number in a query string. */
export function queryInt(opts: { min?: number; max?: number; description?: string } = {}) {
  const range = opts.min !== undefined && opts.max !== undefined ? ` from ${opts.min} to ${opts.max}` : '';
  const s = z
    .string()
    .regex(/^\d{1,15}$/, { error: (iss) => `expected a whole number${range}, got ${show(iss.input)}` })
    .transform(Number)
    .pipe(int({ ...(opts.min !== undefined ? { min: opts.min } : {}), ...(opts.max !== undefined ? { max: opts.max } : {}) }));
  return opts.description !== undefined ? s.describe(opts.description) : s;
}

/** `true` or `false` in a query string. */
export const queryBool = (): z.ZodPipe<z.ZodEnum<{ true: 'true'; false: 'false' }>, z.ZodTransform<boolean, 'true' | 'false'>> =>
  z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true');

// ---- the vocabulary of Fare's edge ----------------------------------------------------------------

export const TENANT_ID = str({ min: 1, max: 63, pattern: /^[a-z0-9][a-z0-9-]*$/, hint: 'use 1–63 lower-case letters, digits or "-", starting with a letter or digit', description: 'A tenant id' });
export const FUNCTION_NAME = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_][A-Za-z0-9_-]*$/, hint: 'use 1–64 letters, digits, "-" or "_", not starting with "-"', description: 'A function name' });
export const RUNTIME = oneOf(['nodejs', 'python', 'provided'] as const).describe("Fare's runtime");
export const HANDLER = str({
  min: 1,
  max: 128,
  pattern: /^(?!.*\.\.)(?!\/)[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.[A-Za-z_$][A-Za-z0-9_$]*$/,
  hint: 'use file.function (for example index.handler or src/app.main), without ".."',
});
export const TIMEOUT_MS = int({ min: 1, max: 900_000, description: 'Timeout in milliseconds (at most 15 minutes)' });
const ENV_KEY = str({ min: 1, max: 128, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: 'environment variable names are letters, digits and "_", not starting with a digit' });
export const ENV = stringMap(ENV_KEY, str({ max: 4096 })).describe('Environment variables (names → values), at most 4 KB in all');
export const MONTH = str({ pattern: /^\d{4}-(0[1-9]|1[0-2])$/, hint: 'use YYYY-MM, for example 2025-01', description: 'A UTC month, YYYY-MM' });
export const BUDGET = num({ min: 0, description: 'Monthly budget in µ¢ (null: none)' }).nullable();
export const OVER_BUDGET = oneOf(['throttle', 'degrade'] as const).describe('What happens past the budget: refuse (throttle) or run at the cheapest class (degrade)');

/** A point in time from a query string: milliseconds since the epoch, or ISO 8601 (a date, or a date-time with Z or an offset). */
export const TIME_MS = z
  .string()
  .transform((v, ctx) => {
    const hint = 'give an ISO 8601 time such as 2025-01-15T12:00:00Z, or milliseconds since the epoch';
    if (/^\d{1,15}$/.test(v)) return Number(v);
    const m = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(v);
    if (m === null) {
      fails(ctx, `${show(v)} is not a time: ${hint}`);
      return z.NEVER;
    }
    if (m[1] !== undefined && m[4] === undefined) {
      fails(ctx, `${show(v)} has no time zone: add Z (UTC) or an offset such as +02:00`);
      return z.NEVER;
    }
    const [y, mo, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
    const ms = Date.parse(v);
    if (Number.isNaN(ms) || new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) {
      fails(ctx, `${show(v)} is not a valid date: ${hint}`);
      return z.NEVER;
    }
    return ms;
  })
  .describe('A time: ISO 8601 with Z or an offset, a date, or milliseconds since the epoch');

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

/** JSON Schema of a schema, without the `$schema` key (OpenAPI 3.1 embeds JSON Schema 2020-12). */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

// ---- answers ---------------------------------------------------------------------------------------

/** An ISO 8601 time in an answer, or null. */
export const ISO_TIME = z.iso.datetime().describe('ISO 8601, UTC');
/** Fare's error body. */
export const FARE_ERROR = z.object({ error: z.object({ code: z.string().describe('FARE_E_…'), message: z.string().describe('what was wrong and what to do') }) }).describe("Fare's error").meta({ id: 'FareError' });
/** Lambda's error body (the exception's name is in `Type` and the `X-Amzn-ErrorType` header). */
export const LAMBDA_ERROR = z.object({ Type: z.string(), Message: z.string(), message: z.string().optional(), Reason: z.string().optional() }).loose().describe("Lambda's error").meta({ id: 'LambdaError' });
