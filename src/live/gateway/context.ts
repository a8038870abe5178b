// What every request handler is given: the store, the platform, authentication, the clock and the
// limits. Built once by `createGateway`.

import { classIndex } from '../../core/classes.ts';
import type { FunctionRecord, Resolved, Store } from '../store/index.ts';
import type { GatewayLog } from './access-log.ts';
import type { Authenticator, Principal } from './auth.ts';
import { forbidden, internal, notFound } from './errors.ts';
import type { FareContexts } from './fare-context.ts';
import type { Platform } from './platform.ts';
import type { Metrics } from '../metrics.ts';
import type { Recorder } from '../recorder.ts';
import type { Dashboard } from './dashboard/dashboard.ts';
import type { Settling } from './settling.ts';

export interface GatewayLimits {
  /** Largest RequestResponse payload, and largest response (Lambda: 6 MB). */
  readonly syncPayloadBytes: number;
  /** Largest Event payload (Lambda: 256 KB). */
  readonly asyncPayloadBytes: number;
  /** Largest JSON body on the REST API other than code uploads. */
  readonly jsonBodyBytes: number;
  /** Largest code upload body (raw zip, or JSON with the zip in base64). */
  readonly uploadBodyBytes: number;
  /** Largest unzipped code and most entries in a zip (Lambda: 250 MB). */
  readonly unzippedBytes: number;
  readonly zipEntries: number;
  /** Largest decoded X-Amz-Client-Context (Lambda: 3,583 bytes). */
  readonly clientContextBytes: number;
  /** Accepted difference between a SigV4 X-Amz-Date and the gateway's clock (AWS: 15 min). */
  readonly clockSkewMs: number;
  /** Bytes of log tail returned with `X-Amz-Log-Type: Tail` (Lambda: 4 KB). */
  readonly tailBytes: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  syncPayloadBytes: 6 * 1024 * 1024,
  asyncPayloadBytes: 256 * 1024,
  jsonBodyBytes: 1024 * 1024,
  uploadBodyBytes: 70 * 1024 * 1024,
  unzippedBytes: 250 * 1024 * 1024,
  zipEntries: 20_000,
  clientContextBytes: 3583,
  clockSkewMs: 15 * 60_000,
  tailBytes: 4096,
};

export interface GatewayContext {
  readonly store: Store;
  readonly platform: Platform;
  readonly auth: Authenticator;
  readonly contexts: FareContexts;
  /** Synchronous invocations answered whose record (billing, log entry, receipt) is still to come. */
  readonly settling: Settling;
  readonly clock: () => number;
  /** A uniform draw in [0, 1): which version of a weighted alias an invocation runs (node:crypto; tests inject their own). */
  readonly draw: () => number;
  /** Region named in ARNs (any region is accepted in SigV4 scopes unless `enforceRegion`). */
  readonly region: string;
  readonly limits: GatewayLimits;
  /** Check every JSON answer of the route tables against its schema before sending it (tests). */
  readonly checkResponses: boolean;
  /** Billing, throttling and degrading are counted here, and served on `/metrics` to administrators. */
  readonly metrics?: Metrics;
  /** `fare up --record`: each execution's arrival, class, CPU, memory and latency (recorder.ts). */
  readonly recorder?: Recorder;
  /** Access and invocation lines (access-log.ts); none when undefined. */
  readonly log?: GatewayLog;
  /** The live dashboard's series and streams (dashboard/, rest-dashboard.ts). */
  readonly dashboard?: Dashboard;
  /** A schedule was made, changed or deleted: the gateway's schedule runner looks again (schedule-runner.ts). */
  readonly schedulesChanged?: () => void;
}

export function functionArn(region: string, tenant: string, name: string, qualifier?: string): string {
  return `arn:aws:lambda:${region}:${tenant}:function:${name}${qualifier !== undefined ? `:${qualifier}` : ''}`;
}

/**
 * The function `owner`/`name` if `principal` may invoke it: its own, or granted. Permission is
 * checked before existence, so a tenant cannot probe another tenant's function names.
 */
export function invocableFunction(ctx: GatewayContext, principal: Principal, owner: string, name: string): FunctionRecord {
  const arn = functionArn(ctx.region, owner, name);
  if (owner !== principal.tenant && !ctx.store.grants.allows(owner, name, principal.tenant)) {
    throw forbidden(
      `User ${principal.accessKeyId} of tenant ${principal.tenant} is not authorized to perform: lambda:InvokeFunction on resource: ${arn}: tenant ${owner} must grant it (POST /v1/grants)`,
    );
  }
  const fn = ctx.store.functions.get(owner, name);
  if (fn === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${arn}`);
  return fn;
}

/**
 * What `owner`/`name`, qualified by `qualifier` (a published version, an alias, `$LATEST` or none),
 * runs if `principal` may invoke it; permission first, as `invocableFunction`. A weighted alias
 * runs its additional version with its weight's probability (`ctx.draw`), else its own version.
 */
export function invocableTarget(ctx: GatewayContext, principal: Principal, owner: string, name: string, qualifier: string | undefined): Resolved {
  const latest = invocableFunction(ctx, principal, owner, name);
  const r = ctx.store.versions.resolve(owner, name, qualifier, () => latest, ctx.draw());
  if (r === undefined) {
    throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(ctx.region, owner, name, qualifier)}: no published version or alias ${JSON.stringify(qualifier)} (ListVersionsByFunction and ListAliases list them; leave the qualifier out or use $LATEST for the current code)`);
  }
  return r;
}

/** The class index of a deployed function's class in the current price table. */
export function ownClassIndex(ctx: GatewayContext, fn: FunctionRecord): number {
  const i = classIndex(ctx.platform.prices, fn.cls);
  if (i === undefined) {
    throw internal(`function ${fn.name} has class ${fn.cls}, which the current price table does not have: set its class (PATCH /v1/functions/${fn.name}) to one of ${ctx.platform.prices.classes.map((c) => c.name).join(', ')}`);
  }
  return i;
}

/** Which tenant a REST request acts on: the caller's own, or (administrators only) another. */
export function actingTenant(principal: Principal, requested: string | undefined): string {
  if (requested === undefined || requested === principal.tenant) return principal.tenant;
  if (!principal.admin) throw forbidden(`tenant ${principal.tenant} may not act on tenant ${requested}: only administrators may, or leave out ?tenant=`);
  return requested;
}
