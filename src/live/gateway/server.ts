// The gateway's HTTP server: `/healthz`, Lambda's Invoke API under `/2015-03-31/`, Fare's REST API
// under `/v1/`. Every error is rendered in the shape of the API it belongs to; every response
// carries a request id.

import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../store/index.ts';
import { noteRequest, requestNote, type GatewayLog } from './access-log.ts';
import { Authenticator } from './auth.ts';
import type { AuthLimits } from './auth-limiter.ts';
import { DEFAULT_LIMITS, type GatewayContext, type GatewayLimits } from './context.ts';
import { ApiError, internal, notFound, shuttingDown } from './errors.ts';
import { FareContexts, type ContextPeers } from './fare-context.ts';
import { answerClientErrors, sendFareError, sendJson, sendLambdaError } from './http.ts';
import { handleInvoke, INVOKE_PATH, STREAM_INVOKE_PATH } from './lambda-api.ts';
import { ScheduleRunner } from './schedule-runner.ts';
import { dispatchSchedules, scheduleRoutes } from './schedules-api.ts';
import { LAMBDA_VERSION_PATH, unsupportedLambdaOperation } from './lambda-unsupported.ts';
import { newRequestId } from './request-id.ts';
import type { Platform } from './platform.ts';
import { openApiDocument, type ApiTables } from './openapi.ts';
import { dispatchRest, type Route } from './rest.ts';
import { functionRoutes } from './rest-functions.ts';
import { logRoutes } from './rest-logs.ts';
import { tenantRoutes } from './rest-tenants.ts';
import { usageRoutes } from './rest-usage.ts';
import { dashboardRoutes } from './rest-dashboard.ts';
import { Dashboard, type DashboardOptions } from './dashboard/dashboard.ts';
import { receiptRoutes } from './receipts.ts';
import { Settling } from './settling.ts';
import { lambdaMoreRoutes } from './lambda-aliases.ts';
import { lambdaEventConfigRoutes } from './lambda-event-configs.ts';
import { lambdaPermissionRoutes } from './lambda-permissions.ts';
import { lambdaConcurrencyRoutes } from './lambda-concurrency.ts';
import { lambdaFunctionRoutes } from './lambda-functions.ts';
import { serveCode } from './code-download.ts';
import { serveFunctionUrl } from './function-url.ts';
import { lambdaUrlRoutes, URL_HOST, URL_PATH } from './lambda-urls.ts';
import { serveGatewayMetrics } from './metrics-route.ts';
import type { Metrics } from '../metrics.ts';
import type { Recorder } from '../recorder.ts';
import { ChurnSet } from '../../core/util/churn-map.ts';

export interface GatewayOptions {
  readonly store: Store;
  readonly platform: Platform;
  /** Wall clock, ms since the epoch (default Date.now); tests drive their own. */
  readonly clock?: () => number;
  /** Uniform draws in [0, 1) choosing a weighted alias's version (default: node:crypto's randomInt); tests inject a sequence. */
  readonly draw?: () => number;
  /** Region named in ARNs (default `us-east-1`). */
  readonly region?: string;
  /** Accept SigV4 scopes for `region` only (default: any region). */
  readonly enforceRegion?: boolean;
  readonly limits?: Partial<GatewayLimits>;
  /** Limits on authentication failures (auth-limiter.ts). */
  readonly authLimits?: Partial<AuthLimits>;
  /** How the gateway waits before a rate-limited answer (default: a timer); for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * A write through the REST API (any method but GET), and an accepted Event invocation, are
   * answered once this resolves: a cluster gateway waits here until the write is shared with the
   * other gateways (shared-state.ts).
   */
  readonly settle?: () => Promise<unknown>;
  /**
   * Where the access line of each request (method, path, status, ms, requestId, tenant, operation,
   * traceId), each invocation's line and each unexpected error go (access-log.ts): a pino logger.
   */
  readonly log?: GatewayLog;
  /** Check every JSON answer against its declared schema before sending it; a mismatch is a 500 (tests). */
  readonly checkResponses?: boolean;
  /** Fare's version in the API description (default: package.json's). */
  readonly version?: string;
  /** In a cluster: the other gateways, asked about contexts of invocations they began (cluster/contexts.ts). */
  readonly contextPeers?: ContextPeers;
  /** The process's metrics: counted by the gateway's parts, served on `GET /metrics` to administrators (metrics-route.ts). */
  readonly metrics?: Metrics;
  /** Records each execution for the simulator (`fare up --record`, recorder.ts). */
  readonly recorder?: Recorder;
  /** The live dashboard's timing (dashboard/dashboard.ts): a snapshot every second on its stream by default. */
  readonly dashboard?: Partial<DashboardOptions>;
  /**
   * Fire the schedules (schedule-runner.ts; default true). A cluster's gateways share the
   * schedules, and one of them fires them.
   */
  readonly fireSchedules?: boolean;
  /** How often the schedule runner looks for due schedules at least (ms; default 30 s). */
  readonly schedulePollMs?: number;
}

export interface Gateway {
  readonly server: Server;
  readonly context: GatewayContext;
  /** What fires the schedules, unless `fireSchedules` is false. */
  readonly schedules: ScheduleRunner | undefined;
  /** Starts listening (port 0: any free port) and resolves with the address. */
  listen(port?: number, host?: string): Promise<{ host: string; port: number; url: string }>;
  /**
   * Stops: listens no more, and lets the requests in flight finish for up to `graceMs` (default 0:
   * none), answering any new one on an open connection 503 `FARE_E_SHUTTING_DOWN` and closing each
   * connection after its answer; past the grace, the connections left are cut. A call while a
   * grace runs (e.g. with 0) shortens it. Resolves once every connection is closed.
   */
  close(graceMs?: number): Promise<void>;
  /** Requests being answered now. */
  readonly inFlight: number;
}

const ROUTES: readonly Route[] = [...tenantRoutes, ...functionRoutes, ...logRoutes, ...usageRoutes, ...receiptRoutes, ...dashboardRoutes];
const LAMBDA_ROUTES: readonly Route[] = [...lambdaFunctionRoutes, ...lambdaMoreRoutes, ...lambdaUrlRoutes, ...lambdaEventConfigRoutes, ...lambdaPermissionRoutes, ...lambdaConcurrencyRoutes];
/** EventBridge Scheduler's API (schedules-api.ts): its paths, and its routes. */
const SCHEDULES_PATH = /^\/schedules(\/|$)/;
/** Both route tables, for the API description (openapi.ts). */
export const API_TABLES: ApiTables = { fare: ROUTES, lambda: [...LAMBDA_ROUTES, ...scheduleRoutes] };
let openApiText: string | undefined;
/** 48 random bits (randomInt's widest range) as a uniform draw in [0, 1). */
const DRAW_RANGE = 2 ** 48 - 1;
export const randomDraw = (): number => randomInt(DRAW_RANGE) / DRAW_RANGE;
/** Lambda's API versions in its paths: functions and invocations, tags, account settings, function URLs, event invoke configs, concurrency. */
const LAMBDA_PREFIX = /^\/(2015-03-31|2017-03-31|2016-08-19|2021-10-31|2019-09-25|2017-10-31|2019-09-30|2021-11-15)\//;

export function createGateway(opts: GatewayOptions): Gateway {
  const clock = opts.clock ?? Date.now;
  const region = opts.region ?? 'us-east-1';
  const limits: GatewayLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const contexts = new FareContexts(opts.store.deriveKey('invocation-context'), opts.contextPeers);
  const dashboard = new Dashboard(opts.store, opts.platform.prices, clock, opts.metrics, opts.dashboard);
  const ctx: GatewayContext = {
    store: opts.store,
    platform: opts.platform,
    auth: new Authenticator(opts.store, clock, {
      invocation: (id, session) => contexts.invocationCredential(id, session, clock()),
      services: ['lambda', 'fare', 'scheduler'],
      maxSkewMs: limits.clockSkewMs,
      ...(opts.enforceRegion === true ? { region } : {}),
      ...(opts.authLimits !== undefined ? { limits: opts.authLimits } : {}),
      ...(opts.sleep !== undefined ? { sleep: opts.sleep } : {}),
    }),
    contexts,
    // In a cluster (other gateways there), records also come from the others, through the log stream.
    settling: new Settling({ otherGateways: opts.contextPeers !== undefined }),
    clock,
    draw: opts.draw ?? randomDraw,
    region,
    limits,
    checkResponses: opts.checkResponses === true,
    ...(opts.metrics !== undefined ? { metrics: opts.metrics } : {}),
    ...(opts.recorder !== undefined ? { recorder: opts.recorder } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
    dashboard,
    schedulesChanged: () => schedules?.poke(),
  };
  const schedules = opts.fireSchedules === false ? undefined : new ScheduleRunner(ctx, opts.schedulePollMs !== undefined ? { pollMs: opts.schedulePollMs } : {});
  const log = opts.log;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const requestId = newRequestId();
    const url = new URL(req.url ?? '/', 'http://gateway');
    // Lambda's routes are under these versions; any versioned path gets errors in Lambda's shape.
    const lambdaRoutes = LAMBDA_PREFIX.test(url.pathname);
    const scheduler = !lambdaRoutes && SCHEDULES_PATH.test(url.pathname);
    const lambda = lambdaRoutes || scheduler || LAMBDA_VERSION_PATH.test(url.pathname);
    // The access line, when the answer has gone (a synchronous invocation's handler returns later, with its measured outcome).
    if (log !== undefined) res.once('close', () => accessLine(log, req, res, url.pathname, requestId, performance.now() - started));
    try {
      if (draining) throw shuttingDown();
      // A function URL: by its Host (<id>.lambda-url.…), or by path on any gateway address.
      const byHost = URL_HOST.exec(req.headers.host ?? '');
      const byPath = byHost === null ? URL_PATH.exec(url.pathname) : null;
      if (byHost !== null || byPath !== null) {
        const id = (byHost ?? byPath)?.[1] ?? '';
        const raw = (req.url ?? '/').split('?')[0] ?? '/';
        noteRequest(req, { operation: 'FunctionUrl' });
        await serveFunctionUrl(ctx, req, res, id, byHost !== null ? raw : (byPath?.[2] ?? '/'), requestId);
      } else if (url.pathname === '/metrics') {
        await serveGatewayMetrics(ctx, req, res);
      } else if (url.pathname === '/dashboard' || url.pathname.startsWith('/dashboard/')) {
        // The page and its files: public, holding no data (it asks for a key and reads /v1/dashboard).
        dashboard.serveAsset(req, res, url.pathname);
      } else if (url.pathname === '/healthz') {
        opts.store.db.prepare('SELECT 1').get();
        sendJson(res, 200, { status: 'ok' });
      } else if (url.pathname === '/openapi.json' && (req.method === 'GET' || req.method === 'HEAD')) {
        // The API description: public, like the APIs' own documentation.
        openApiText ??= JSON.stringify(openApiDocument(API_TABLES, opts.version));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(openApiText), 'Cache-Control': 'public, max-age=300' });
        res.end(req.method === 'HEAD' ? undefined : openApiText);
      } else if (lambdaRoutes) {
        const raw = (req.url ?? '/').split('?')[0] ?? '';
        const m = INVOKE_PATH.exec(raw);
        const streamed = m === null ? STREAM_INVOKE_PATH.exec(raw) : null;
        if (m !== null) {
          noteRequest(req, { operation: 'Invoke' });
          // An accepted Event is answered once it is shared too (a cluster's queue has it).
          if (opts.settle !== undefined && req.headers['x-amz-invocation-type'] === 'Event') holdAnswer(res, opts.settle);
          await handleInvoke(ctx, req, res, m[1] ?? '', url.searchParams, requestId);
        } else if (streamed !== null) {
          noteRequest(req, { operation: 'InvokeWithResponseStream' });
          await handleInvoke(ctx, req, res, streamed[1] ?? '', url.searchParams, requestId, true);
        } else {
          // The control plane: a write is answered once it is shared, as on the REST API.
          if (opts.settle !== undefined && req.method !== 'GET' && req.method !== 'HEAD') holdAnswer(res, opts.settle);
          await dispatchRest(ctx, LAMBDA_ROUTES, req, res, url, () => unsupportedLambdaOperation(req.method ?? '?', url.pathname));
        }
      } else if (scheduler) {
        if (opts.settle !== undefined && req.method !== 'GET' && req.method !== 'HEAD') holdAnswer(res, opts.settle);
        await dispatchSchedules(ctx, req, res, url);
      } else if (lambda) {
        // Another of Lambda's API versions: operations Fare does not have (lambda-unsupported.ts).
        throw unsupportedLambdaOperation(req.method ?? '?', url.pathname);
      } else if (url.pathname.startsWith('/code/')) {
        await serveCode(ctx, res, url.pathname);
      } else if (url.pathname.startsWith('/v1/')) {
        const settle = opts.settle;
        if (settle !== undefined && req.method !== 'GET' && req.method !== 'HEAD') holdAnswer(res, settle);
        await dispatchRest(ctx, ROUTES, req, res, url);
      } else {
        throw notFound('FARE_E_ROUTE_NOT_FOUND', `there is no ${url.pathname} here: the APIs are under /v1/ (Fare) and /2015-03-31/ (Lambda), the dashboard is /dashboard`);
      }
    } catch (e) {
      const err = e instanceof ApiError ? e : internal(`unexpected error (${(e as Error).message}); this is a bug in Fare, please report it with request id ${requestId}`);
      if (!(e instanceof ApiError)) log?.error({ requestId, method: req.method, path: url.pathname, err: e }, 'unexpected error');
      if (res.headersSent) {
        res.destroy();
      } else if (lambda) {
        sendLambdaError(res, err, { 'x-amzn-RequestId': requestId });
      } else {
        sendFareError(res, err, { 'x-amzn-RequestId': requestId });
      }
    }
  };

  // Answers being given, and whether the gateway is stopping (see `close`).
  const answering = new ChurnSet<ServerResponse>();
  let draining = false;
  let drained: (() => void) | undefined;
  const server = createServer((req, res) => {
    answering.add(res);
    res.once('close', () => {
      answering.delete(res);
      if (answering.size === 0) drained?.();
    });
    if (draining) res.setHeader('Connection', 'close');
    void handle(req, res);
  });
  // Synchronous invocations may run for up to 15 minutes.
  server.requestTimeout = 0;
  // An idle keep-alive connection is closed by the client, not here: Node's 5 s default closed
  // connections that clients were about to reuse, and their next request failed with ECONNRESET
  // (1 in 25,000 calls of a 5-minute soak). 65 s is longer than SDKs and load balancers keep idle
  // connections (ALB: 60 s); the time to send a request's headers stays bounded (headersTimeout).
  server.keepAliveTimeout = 65_000;
  answerClientErrors(server);
  let closing: Promise<void> | undefined;
  let cut: (() => void) | undefined;

  return {
    server,
    context: ctx,
    schedules,
    listen: (port = 0, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          schedules?.start();
          const a = server.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve({ host: a.address, port: a.port, url: `http://${h}:${a.port}` });
        });
      }),
    get inFlight() {
      return answering.size;
    },
    close: (graceMs = 0) => {
      if (closing !== undefined) {
        // Stopping already: a shorter grace cuts it now.
        if (graceMs === 0) cut?.();
        return closing;
      }
      draining = true;
      // The answers under way close their connections behind them.
      for (const res of answering) if (!res.headersSent) res.setHeader('Connection', 'close');
      dashboard.close();
      schedules?.close();
      closing = new Promise<void>((resolve, reject) => {
        // Listens no more; idle keep-alive connections close now, busy ones after their answer.
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
        const timer = graceMs > 0 && Number.isFinite(graceMs) ? setTimeout(() => cut?.(), graceMs) : undefined;
        cut = (): void => {
          cut = undefined;
          drained = undefined;
          if (timer !== undefined) clearTimeout(timer);
          server.closeAllConnections();
        };
        drained = cut;
        if (answering.size === 0 || graceMs <= 0) cut();
      });
      return closing;
    },
  };
}

/** One request's access line: info (debug for a health check), warn for 429, error for a 5xx. */
function accessLine(log: GatewayLog, req: IncomingMessage, res: ServerResponse, path: string, requestId: string, ms: number): void {
  const n = requestNote(req);
  const entry: Record<string, unknown> = { kind: 'access', method: req.method, path, status: res.statusCode, ms: Math.round(ms * 100) / 100, requestId };
  if (n !== undefined) Object.assign(entry, n);
  if (!res.writableFinished) entry.aborted = true;
  if (res.statusCode >= 500) log.error(entry, 'request');
  else if (res.statusCode === 429) log.warn(entry, 'request');
  else if (path === '/healthz') log.debug?.(entry, 'request');
  else log.info(entry, 'request');
}

/**
 * The answer's end waits for `settle` (the whole answer: headers are sent with its first bytes).
 * The handlers write their answers as they do without it; only the end is held.
 */
function holdAnswer(res: ServerResponse, settle: () => Promise<unknown>): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    void settle().then(() => end(...args), () => end(...args));
    return res;
  }) as typeof res.end;
}
