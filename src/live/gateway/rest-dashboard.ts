// /v1/dashboard (a snapshot of what the live dashboard shows, as JSON) and /v1/dashboard/stream (the
// same snapshots as server-sent events, one about every second): for any authenticated caller, who
// sees the platform's aggregates and its own tenant's spend and invocations (administrators: every
// tenant's). The page and the snapshot's parts: `dashboard/`.

import { forbidden, notFound } from './errors.ts';
import { BYTES, route, type Route } from './rest.ts';
import { FARE_ERROR, ISO_TIME, z } from './schema.ts';

const MS_OR_NULL = z.number().nullable();
const NOTE = { reported: z.boolean().describe('false: this process does not run the part (a cluster gateway); `note` says where to look'), note: z.string().optional() };

const CLASS_ROW = z.strictObject({
  name: z.string().describe('A price class'),
  price: z.number().describe('µ¢ per CPU-second'),
  answered: z.number().describe('Jobs answered since the gateway started (sync, and each Event attempt)'),
  recent: z.strictObject({ count: z.number(), perSecond: z.number(), p50Ms: MS_OR_NULL, p99Ms: MS_OR_NULL }).describe('Over the last recentSeconds'),
  series: z.strictObject({ count: z.array(z.number()), p50Ms: z.array(MS_OR_NULL), p99Ms: z.array(MS_OR_NULL) }).describe('One entry per second from fromMs'),
});
const INSTANCE_ROW = z.strictObject({ cls: z.string(), running: z.number(), frozen: z.number(), idle: z.number(), swapped: z.number(), residentBytes: z.number(), swappedBytes: z.number() });
const RECENT_ROW = z.strictObject({
  requestId: z.string(),
  time: ISO_TIME.describe('When it ended'),
  tenant: z.string(),
  function: z.string(),
  cls: z.string(),
  type: z.enum(['sync', 'async']),
  attempt: z.number(),
  status: z.enum(['ok', 'error']),
  errorType: z.string().optional(),
  durationMs: z.number().describe("The function's run, as billed"),
  costMicroCents: z.number(),
  receipt: z.strictObject({
    waitedMs: MS_OR_NULL.describe('From the gateway sending the job to its start'),
    latencyMs: z.number().describe('From the gateway sending the job to its answer (to its end when it gave none)'),
    preemptions: z.number(),
    ioWaitMs: z.number().describe('Time it gave its core up while waiting on I/O (0 in a receipt from before Fare saw I/O waits)'),
    ok: z.boolean().describe('The receipt check: no lower class ran ahead of it on its machine'),
    findings: z.array(z.string()),
  }).nullable(),
  receiptUrl: z.string(),
});

export const DASHBOARD_SNAPSHOT = z.strictObject({
  at: ISO_TIME,
  viewer: z.strictObject({ tenant: z.string(), admin: z.boolean() }),
  intervalMs: z.number().describe('How often the stream sends a snapshot'),
  latency: z.strictObject({ ...NOTE, fromMs: z.number(), seconds: z.number(), recentSeconds: z.number(), classes: z.array(CLASS_ROW) }),
  queues: z.strictObject({ ...NOTE, classes: z.array(z.string()), shards: z.array(z.strictObject({ id: z.number(), queued: z.array(z.number()).describe('Jobs waiting, by class index') })) }),
  machines: z.strictObject({ ...NOTE, workers: z.array(z.strictObject({ machine: z.number(), instances: z.array(INSTANCE_ROW) })) }),
  idle: z.strictObject({ ...NOTE, shards: z.array(z.strictObject({ id: z.number(), keepsIdleList: z.boolean(), entries: z.array(z.strictObject({ machine: z.number(), freeBytes: z.number(), jobs: z.number() })) })) }),
  spend: z.strictObject({ month: z.string(), tenants: z.array(z.strictObject({ tenant: z.string(), spentMicroCents: z.number(), budgetMicroCents: z.number().nullable(), fraction: z.number().nullable() })) }),
  recent: z.strictObject({ note: z.string().optional(), entries: z.array(RECENT_ROW) }),
}).meta({ id: 'DashboardSnapshot' });

const ERRORS = { 401: FARE_ERROR, 404: FARE_ERROR } as const;
const STREAM_ERRORS = { ...ERRORS, 403: FARE_ERROR } as const;

export const dashboardRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/v1/dashboard',
    operation: 'GetDashboard',
    summary: "What the live dashboard shows now: per-class latency and throughput, queues, machines, idle lists (every caller); spend against budget and recent invocations with their receipts (the caller's tenant; administrators: every tenant's)",
    who: 'any caller (tenant-owned parts: its own)',
    answers: { 200: DASHBOARD_SNAPSHOT, ...ERRORS },
    handle: (r) => {
      const d = r.ctx.dashboard;
      if (d === undefined) throw notFound('FARE_E_ROUTE_NOT_FOUND', 'this gateway serves no dashboard');
      r.reply(200, d.snapshot(r.principal), { 'Cache-Control': 'no-store' });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/dashboard/stream',
    operation: 'StreamDashboard',
    summary: 'The dashboard live: server-sent events, a `snapshot` event (data: a DashboardSnapshot) at once and about every second, a comment as heartbeat, `end` (data: {reason}) when the gateway ends it. EventSource cannot send the Authorization header: read it with fetch()',
    who: "any caller with an access key (tenant-owned parts: its own); not an invocation's credentials",
    answers: { 200: BYTES('text/event-stream', 'Server-sent events: `snapshot` (a DashboardSnapshot), `end`'), ...STREAM_ERRORS },
    handle: async (r) => {
      const d = r.ctx.dashboard;
      if (d === undefined) throw notFound('FARE_E_ROUTE_NOT_FOUND', 'this gateway serves no dashboard');
      // Invocation credentials work only while their invocation runs; a stream outlives the request
      // that opened it, so it is not opened with them.
      if (r.principal.context !== undefined) throw forbidden("the dashboard's stream takes a tenant's access key, not an invocation's credentials (they end with their invocation): read GET /v1/dashboard instead");
      await d.stream({ res: r.res, principal: r.principal });
    },
  }),
];
