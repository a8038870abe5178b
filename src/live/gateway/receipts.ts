// Scheduling receipts at the gateway: the gateway's part of an execution's receipt (its class and
// why, its price and cost, when it was accepted) joined to what the scheduler client heard and the
// machine reported (core/receipt.ts), stored with the execution's log entry; and
// `GET /v1/invocations/{id}/receipt`, which serves it with the tenant's check (`checkReceipt`).

import { checkReceipt, RECEIPT_VERSION, type ClassReason, type Receipt } from '../../core/receipt.ts';
import { costOf, type PriceTable } from '../../core/classes.ts';
import type { InvokeOutcome } from '../types.ts';
import type { ExecutionRef } from '../store/index.ts';
import { notFound, recordPending } from './errors.ts';
import { route, type Route } from './rest.ts';
import { FARE_ERROR, queryInt, z } from './schema.ts';

/** How an execution came to run at its class: its function's own class index, and the caller whose context raised it. */
export interface ClassOrigin {
  readonly own: number;
  /** The invocation whose context it inherited (a synchronous call within one tenant), when that raised its class. */
  readonly caller?: string;
}

export interface ReceiptInput {
  readonly ref: ExecutionRef;
  readonly tenant: string;
  readonly function: string;
  readonly prices: PriceTable;
  /** The class it ran at, and where that came from. */
  readonly cls: number;
  readonly origin: ClassOrigin;
  /** When the gateway accepted it, and sent this execution to its shard (ms since the epoch). */
  readonly acceptedAt: number;
  readonly sentAt: number;
  readonly outcome: InvokeOutcome;
  /** µ¢ per CPU-second and per GB-second it was billed at (`ratesFor`). */
  readonly price: number;
  readonly memoryPrice: number;
}

/** Why it ran at `cls`: its own class, a caller's (higher), or the cheapest under its owner's budget (lower). */
export function classReason(cls: number, origin: ClassOrigin): ClassReason {
  return cls === origin.own ? 'own' : cls < origin.own ? 'inherited' : 'degraded';
}

/** The receipt of one execution, from what the gateway knows and what the machine reported. */
export function composeReceipt(i: ReceiptInput): Receipt {
  const o = i.outcome;
  const s = o.schedule;
  const name = (c: number): string => i.prices.classes[c]?.name ?? String(c);
  const why = classReason(i.cls, i.origin);
  return {
    v: RECEIPT_VERSION,
    requestId: i.ref.requestId,
    attempt: i.ref.attempt,
    type: i.ref.type,
    tenant: i.tenant,
    function: i.function,
    functionVersion: i.ref.version,
    status: o.status,
    class: { index: i.cls, name: name(i.cls), ownIndex: i.origin.own, ownName: name(i.origin.own), why, ...(why === 'inherited' && i.origin.caller !== undefined ? { caller: i.origin.caller } : {}) },
    classes: i.prices.classes.map((c) => c.name),
    gateway: s?.gateway ?? 0,
    acceptedAt: i.acceptedAt,
    sentAt: i.sentAt,
    startedMs: s?.startedMs ?? null,
    answeredMs: s?.answeredMs ?? null,
    doneMs: s?.doneMs ?? o.durationMs,
    machine: s?.machine ?? null,
    price: { cpuPerSecond: i.price, memoryPerGBSecond: i.memoryPrice },
    cpuMs: o.cpuMs,
    memGBs: o.memGBs,
    maxMemMB: o.maxMemMB,
    coldStart: o.coldStart,
    // The core's charge (core/classes.ts), the one billing applies.
    costMicroCents: costOf(o.cpuMs, o.memGBs, i.price, i.memoryPrice).total,
  };
}

// ---- the route ----

const CLASS_TIME = z.strictObject({ cls: z.int(), coreMs: z.number() });
const MACHINE_RECEIPT = z.strictObject({
  machine: z.int(),
  cores: z.int(),
  shard: z.int(),
  placement: z.enum(['idle-list', 'power-of-k', 'reservation']).nullable(),
  shardWaitMs: z.number(),
  placedAt: z.number(),
  startedMs: z.number().nullable(),
  answeredMs: z.number().nullable(),
  doneMs: z.number(),
  waits: z.array(z.strictObject({ fromMs: z.number(), toMs: z.number(), after: z.enum(['placed', 'preempted', 'unblocked']), ran: z.array(CLASS_TIME).readonly() })).readonly(),
  preemptions: z.array(z.strictObject({ atMs: z.number(), forMs: z.number(), byClass: z.int().nullable() })).readonly(),
  swaps: z.array(z.strictObject({ atMs: z.number(), dir: z.enum(['out', 'in']), mb: z.number() })).readonly(),
  swapsLeftOut: z.int(),
  blockedMs: z.number(),
  ioWaitMs: z.number().optional(),
});
export const RECEIPT = z.strictObject({
  v: z.literal(RECEIPT_VERSION),
  requestId: z.string(),
  attempt: z.int(),
  type: z.enum(['sync', 'async']),
  tenant: z.string(),
  function: z.string(),
  functionVersion: z.int(),
  status: z.enum(['ok', 'error']),
  class: z.strictObject({ index: z.int(), name: z.string(), ownIndex: z.int(), ownName: z.string(), why: z.enum(['own', 'inherited', 'degraded']), caller: z.string().optional() }),
  classes: z.array(z.string()).readonly().describe("The price table's class names, by index (the `cls` of waits and preemptions)"),
  gateway: z.int(),
  acceptedAt: z.number(),
  sentAt: z.number(),
  startedMs: z.number().nullable(),
  answeredMs: z.number().nullable(),
  doneMs: z.number(),
  machine: MACHINE_RECEIPT.nullable(),
  price: z.strictObject({ cpuPerSecond: z.number(), memoryPerGBSecond: z.number() }).readonly(),
  cpuMs: z.number(),
  memGBs: z.number(),
  maxMemMB: z.number(),
  coldStart: z.boolean(),
  costMicroCents: z.number(),
}).meta({ id: 'Receipt' });
export const VERDICT = z.strictObject({
  ok: z.boolean().describe('No class below this one held a core of its machine while it waited there, and none preempted it'),
  waitedOnMachineMs: z.number(),
  lowerClassCoreMs: z.number(),
  findings: z.array(z.strictObject({ kind: z.enum(['lower-class-ran', 'preempted-by-lower-class', 'inconsistent', 'no-machine-report']), message: z.string() })).readonly(),
}).meta({ id: 'ReceiptVerdict' });
const RECEIPT_ANSWER = z.strictObject({
  receipt: RECEIPT,
  verdict: VERDICT,
  attempts: z.int().describe('Executions with a receipt kept for this request id (an Event has one per attempt)'),
});

export const receiptRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/v1/invocations/{id}/receipt',
    operation: 'GetInvocationReceipt',
    summary: "An execution's scheduling receipt (the newest attempt's, or ?attempt=N's): accepted, queued at which shard, placed on which machine, started, each wait on the machine with the core time each class got meanwhile, preemptions (by which class, for how long), swaps, its class and why, price and cost; with the check that no lower class ran ahead of it on its machine (docs/receipts.md says what that proves)",
    who: "the function's owner, an Event's caller, administrators",
    query: { attempt: queryInt({ min: 1, description: 'Which attempt of an Event (default: the newest kept)' }) },
    answers: { 200: RECEIPT_ANSWER, 400: FARE_ERROR, 404: FARE_ERROR, 503: FARE_ERROR },
    handle: async (r) => {
      const id = r.path.id;
      const p = r.principal;
      // Answered a moment ago, still measured: its receipt follows when its instance parks.
      if (!(await r.ctx.settling.wait(id))) throw recordPending(`invocation ${id} was answered and is still being measured; its receipt is written when that ends: retry in a moment`);
      const missing = () => notFound('FARE_E_RECEIPT_NOT_FOUND', `there is no receipt for invocation ${id} visible to tenant ${p.tenant}: use the request id of an invocation of your functions (x-amzn-RequestId); receipts are kept as long as the function's log entries (GET /v1/functions/{name}/logs)`);
      const find = () => r.ctx.store.logs.ofRequest(id).filter((e) => e.receipt !== undefined);
      let entries = find();
      // In a cluster, an invocation another gateway answered a moment ago: its record is on its way here.
      if (entries.length === 0 && (await r.ctx.settling.elsewhere(id, r.ctx.clock()))) entries = find();
      if (entries.length === 0) throw missing();
      const visible = p.admin || entries[0]?.tenant === p.tenant || r.ctx.store.invocations.get(id)?.caller === p.tenant;
      if (!visible) throw missing();
      const attempt = r.query.attempt;
      const e = attempt === undefined ? entries.at(-1) : entries.find((x) => x.attempt === attempt);
      if (e?.receipt === undefined) throw notFound('FARE_E_RECEIPT_NOT_FOUND', `invocation ${id} has no receipt for attempt ${attempt ?? '?'}: attempts kept are ${entries.map((x) => x.attempt).join(', ')}`);
      r.reply(200, { receipt: e.receipt, verdict: checkReceipt(e.receipt), attempts: entries.length });
    },
  }),
];
