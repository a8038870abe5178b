// How Fare's functions look on Lambda's control plane: runtime names mapped both ways, the
// FunctionConfiguration and AliasConfiguration shapes of Lambda's API reference (2015-03-31) with
// their schemas (the answers' declared shapes and the API description), paging markers, and the
// signed, expiring code locations GetFunction hands out.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Alias, FunctionRecord } from '../store/index.ts';
import type { RuntimeName } from '../types.ts';
import { functionArn } from './context.ts';
import { badRequest } from './errors.ts';
import { z } from './schema.ts';

/** The tag that sets a function's price class (and is reported with its class). */
export const CLASS_TAG = 'fare:class';

/** The Lambda runtimes Fare runs, and what they run on. */
export const LAMBDA_RUNTIMES = 'nodejs18.x, nodejs20.x, nodejs22.x (nodejs), python3.9 … python3.13 (python), provided, provided.al2, provided.al2023 (provided)';

/** Fare's runtime for a Lambda `Runtime` value; undefined for one Fare does not run. */
export function fareRuntimeOf(lambda: string): RuntimeName | undefined {
  if (/^nodejs(1[8-9]|2[0-9])\.x$/.test(lambda)) return 'nodejs';
  if (/^python3\.(9|1[0-9])$/.test(lambda)) return 'python';
  if (lambda === 'provided' || lambda === 'provided.al2' || lambda === 'provided.al2023') return 'provided';
  return undefined;
}

/** The Lambda runtime name to report: the one given, else the newest Lambda name of Fare's runtime. */
export function lambdaRuntimeOf(fn: FunctionRecord): string {
  if (fn.lambdaRuntime !== '') return fn.lambdaRuntime;
  switch (fn.runtime) {
    case 'nodejs':
      return 'nodejs20.x';
    case 'python':
      return 'python3.11';
    case 'provided':
      return 'provided.al2023';
    default: {
      const never: never = fn.runtime;
      throw new Error(`unknown runtime ${String(never)}`);
    }
  }
}

/** Lambda's time format: `2024-01-31T12:00:00.000+0000`. */
export const lambdaTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '+0000');

/** Lambda reports the code's SHA-256 in base64 (Fare keeps it in hex). */
export const sha256Base64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

// ---- answers -------------------------------------------------------------------------------------

/** Lambda's FunctionConfiguration, as Fare fills it (members it never sends are left out), with Fare's `FareClass`. */
export const FUNCTION_CONFIGURATION = z
  .strictObject({
    FunctionName: z.string(),
    FunctionArn: z.string(),
    Runtime: z.string().describe('The Lambda runtime identifier (nodejs20.x, python3.12, provided.al2023, …)'),
    Role: z.string(),
    Handler: z.string(),
    CodeSize: z.int().min(0).describe('Size of the zip, in bytes'),
    Description: z.string(),
    Timeout: z.int().min(1).describe('Seconds'),
    MemorySize: z.int().min(128).max(10240).describe('MB: kept and reported; Fare bills memory by use and sets no limit'),
    LastModified: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/).describe('ISO 8601, as Lambda writes it: 2024-01-31T12:00:00.000+0000'),
    CodeSha256: z.string().describe("The zip's SHA-256, base64"),
    Version: z.string().describe('$LATEST, or a published version number'),
    Environment: z.strictObject({ Variables: z.record(z.string(), z.string()) }).optional(),
    TracingConfig: z.strictObject({ Mode: z.enum(['Active', 'PassThrough']) }),
    RevisionId: z.string(),
    State: z.enum(['Pending', 'Active', 'Inactive', 'Failed']),
    LastUpdateStatus: z.enum(['Successful', 'Failed', 'InProgress']),
    PackageType: z.enum(['Zip', 'Image']),
    Architectures: z.array(z.enum(['x86_64', 'arm64'])).length(1),
    EphemeralStorage: z.strictObject({ Size: z.int().min(512).max(10240).describe('MB') }),
    SnapStart: z.strictObject({ ApplyOn: z.enum(['PublishedVersions', 'None']), OptimizationStatus: z.enum(['On', 'Off']) }),
    LoggingConfig: z.strictObject({ LogFormat: z.enum(['JSON', 'Text']), LogGroup: z.string() }),
    FareClass: z.string().describe("Fare's own: the price class the function runs at"),
  })
  .describe("Lambda's FunctionConfiguration").meta({ id: 'FunctionConfiguration' });

/** GetFunction's answer: the configuration, where to download the code, and the tags (with `fare:class`). */
export const GET_FUNCTION = z.strictObject({
  Configuration: FUNCTION_CONFIGURATION,
  Code: z.strictObject({ RepositoryType: z.string().describe('S3, as Lambda says'), Location: z.string().describe('A URL the zip can be downloaded from without credentials for 10 minutes') }),
  Tags: z.record(z.string(), z.string()),
  Concurrency: z.strictObject({ ReservedConcurrentExecutions: z.int() }).optional().describe("The function's reserved concurrency, when it has one (PutFunctionConcurrency)"),
});

export const LIST_FUNCTIONS = z.strictObject({ Functions: z.array(FUNCTION_CONFIGURATION), NextMarker: z.string().optional() });
export const LIST_VERSIONS = z.strictObject({ Versions: z.array(FUNCTION_CONFIGURATION), NextMarker: z.string().optional() });

/** Lambda's AliasConfiguration, as Fare fills it (no RoutingConfig: Fare routes an alias to one version). */
export const ALIAS_CONFIGURATION = z.strictObject({
  AliasArn: z.string(),
  Name: z.string(),
  FunctionVersion: z.string(),
  Description: z.string(),
  RevisionId: z.string(),
  RoutingConfig: z.strictObject({ AdditionalVersionWeights: z.record(z.string(), z.number()) }).optional().describe("A weighted alias's additional version and the share of invocations it runs (only when it has one)"),
}).meta({ id: 'AliasConfiguration' });

/** Lambda's FunctionConfiguration of `$LATEST` or of a published version, with Fare's class. */
export function functionConfiguration(fn: FunctionRecord, region: string): z.input<typeof FUNCTION_CONFIGURATION> {
  const version = fn.published === undefined ? '$LATEST' : String(fn.published);
  return {
    FunctionName: fn.name,
    FunctionArn: functionArn(region, fn.tenant, fn.name, fn.published === undefined ? undefined : version),
    Runtime: lambdaRuntimeOf(fn),
    Role: fn.role !== '' ? fn.role : `arn:aws:iam::${fn.tenant}:role/fare-function`,
    Handler: fn.handler,
    CodeSize: fn.codeSize,
    Description: fn.description,
    Timeout: Math.ceil(fn.timeoutMs / 1000),
    MemorySize: fn.memoryMB,
    LastModified: lambdaTime(fn.updatedAt),
    CodeSha256: sha256Base64(fn.codeSha256),
    Version: version,
    ...(Object.keys(fn.env).length > 0 ? { Environment: { Variables: fn.env } } : {}),
    TracingConfig: { Mode: 'PassThrough' },
    RevisionId: fn.revision,
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: ['x86_64'],
    EphemeralStorage: { Size: 512 },
    SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${fn.name}` },
    // Fare's own: the price class the function runs at (SDKs ignore members they do not know).
    FareClass: fn.cls,
  };
}

export function aliasConfiguration(a: Alias, region: string): z.input<typeof ALIAS_CONFIGURATION> {
  return {
    AliasArn: functionArn(region, a.tenant, a.name, a.alias),
    Name: a.alias,
    FunctionVersion: a.target,
    Description: a.description,
    RevisionId: a.revision,
    ...(a.routing !== undefined ? { RoutingConfig: { AdditionalVersionWeights: { [a.routing.version]: a.routing.weight } } } : {}),
  };
}

/** One page of `items` after `marker` (an opaque position), and the marker of the next page. */
export function page<T>(items: readonly T[], key: (t: T) => string, marker: string | null, maxItems: number): { items: T[]; next?: string } {
  let start = 0;
  if (marker !== null) {
    let after: string;
    try {
      after = Buffer.from(marker, 'base64url').toString('utf8');
    } catch {
      after = '';
    }
    if (after === '' || Buffer.from(after, 'utf8').toString('base64url') !== marker) throw badRequest('FARE_E_INVALID_REQUEST', `Marker ${JSON.stringify(marker)} is not one Fare gave: pass the NextMarker of the previous page unchanged`);
    start = items.findIndex((t) => key(t) > after);
    if (start < 0) start = items.length;
  }
  const out = items.slice(start, start + maxItems);
  const last = out.at(-1);
  return start + maxItems < items.length && last !== undefined ? { items: out, next: Buffer.from(key(last), 'utf8').toString('base64url') } : { items: out };
}

// ---- code locations ------------------------------------------------------------------------------

/** How long a code location GetFunction gives stays valid (Lambda's presigned URLs: 10 minutes). */
export const CODE_LOCATION_TTL_MS = 10 * 60_000;
export const CODE_PATH = /^\/code\/([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/;

interface CodeTicket {
  readonly t: string;
  readonly n: string;
  /** Internal version whose code it is. */
  readonly v: number;
  /** Expiry, ms since the epoch. */
  readonly x: number;
}

/** A URL path from which the code of `fn` can be downloaded without credentials until `now + TTL`. */
export function codeLocationPath(key: Buffer, fn: FunctionRecord, now: number): string {
  const body = Buffer.from(JSON.stringify({ t: fn.tenant, n: fn.name, v: fn.version, x: now + CODE_LOCATION_TTL_MS } satisfies CodeTicket)).toString('base64url');
  return `/code/${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** The ticket of a code path, if it was signed with `key` and has not expired. */
export function openCodeTicket(key: Buffer, path: string, now: number): CodeTicket | 'invalid' | 'expired' {
  const m = CODE_PATH.exec(path);
  if (m === null) return 'invalid';
  const [, body = '', sig = ''] = m;
  const want = createHmac('sha256', key).update(body).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return 'invalid';
  let t: CodeTicket;
  try {
    t = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CodeTicket;
  } catch {
    return 'invalid';
  }
  if (typeof t.t !== 'string' || typeof t.n !== 'string' || typeof t.v !== 'number' || typeof t.x !== 'number') return 'invalid';
  return t.x < now ? 'expired' : t;
}
