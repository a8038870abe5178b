// One invocation admitted and run synchronously, whichever door it came in by (Lambda's Invoke, a
// function URL): the owner's budget admits it (and may lower its class), its estimate is held until
// it is billed, its context is honoured from hand-over to answer, the caller is answered as soon as
// the function answers, and the billing record and log entry follow the measured outcome.

import { ratesFor } from '../../core/classes.ts';
import { executionLog, type ExecutionLog, type FunctionRecord } from '../store/index.ts';
import type { ChunkSink, InvocationAnswer, InvokeOutcome, InvokeRequest } from '../types.ts';
import { admitInvocation } from './budget-gate.ts';
import type { GatewayContext } from './context.ts';
import { internal, throttled } from './errors.ts';
import type { RunningInvocation } from './fare-context.ts';
import { isThrottled } from './platform.ts';
import { logInvocation, waitBefore } from './access-log.ts';
import { formatAmznTraceId, type Trace } from './trace.ts';
import { composeReceipt } from './receipts.ts';
import { whereItRan } from '../recorder.ts';

/** What budget admission decided for an invocation that may run. */
export interface Admitted {
  /** Class index it runs at (its own or inherited, lowered to the cheapest under `degrade`). */
  readonly cls: number;
  readonly clsName: string;
  /** µ¢ it holds against its owner's budget until billed. */
  readonly reserve: number;
  /** `X-Fare-Budget`, when the owner nears or passes its pace. */
  readonly budget?: 'warn' | 'degrade';
}

/** Admits an invocation of `fn` at class `cls` against its owner's budget, or throws 429 with when to retry. */
export function admitOrThrow(ctx: GatewayContext, fn: FunctionRecord, cls: number): Admitted {
  const now = ctx.clock();
  const budget = admitInvocation(ctx.store, ctx.platform.prices, now, fn, cls);
  if (budget.kind === 'throttle') {
    ctx.metrics?.throttled(fn.tenant, 'accept');
    // The allowance grows through the month: retry when it has grown past what is spent and held.
    const retryAfterS = Math.max(1, Math.ceil((budget.retryAt - now) / 1000));
    throw throttled('FARE_E_OVER_BUDGET', `Rate Exceeded. Tenant ${fn.tenant} is spending faster than its monthly budget allows: raise the budget (PATCH /v1/tenants/${fn.tenant}) or retry after ${retryAfterS} s`, retryAfterS, 'BudgetExceeded');
  }
  if (budget.kind === 'degrade') ctx.metrics?.degraded(fn.tenant, 'accept');
  return {
    cls: budget.cls,
    clsName: ctx.platform.prices.classes[budget.cls]?.name ?? fn.cls,
    reserve: budget.reserve,
    ...(budget.kind === 'warn' || budget.kind === 'degrade' ? { budget: budget.kind } : {}),
  };
}

export interface SyncCall {
  readonly requestId: string;
  readonly fn: FunctionRecord;
  /** The tenant that invoked (the owner pays). */
  readonly callerTenant: string;
  readonly admitted: Admitted;
  /** Deadline of the context handed to the function. */
  readonly deadline: number;
  readonly payload: Buffer;
  readonly clientContext?: string;
  /** The ARN the caller invoked, when it named a qualifier (InvokeRequest.invokedArn). */
  readonly invokedArn?: string;
  /** The invocation whose context made this call, which waits for it. */
  readonly caller?: RunningInvocation;
  /** Answer only with the outcome and its log (Lambda's `Tail`). */
  readonly tail: boolean;
  /** Its trace (trace.ts), handed to the function and to the calls it makes. */
  readonly trace?: Trace;
  /** Its function's own class index (`ownClassIndex`, checked before admission), for its receipt's why. */
  readonly ownCls: number;
  /**
   * The caller streams the response: a function that streams hands each chunk here as it comes (the
   * first with its content type), and its answer's payload is empty (`streamed` says what was sent).
   * A promise back holds the function's stream until it settles (a slow reader).
   */
  readonly onChunk?: ChunkSink;
}

/**
 * Runs an admitted synchronous invocation. `answer` is called once: with the function's answer as
 * soon as there is one (with `tail`, with the outcome and its log). Throws an ApiError when the
 * platform failed or throttled before an answer.
 */
export async function runSync(ctx: GatewayContext, call: SyncCall, answer: (a: InvocationAnswer, log?: ExecutionLog) => void): Promise<void> {
  const { fn, requestId, admitted } = call;
  // Held from admission until the billing record is written (or the invocation did not run).
  const release = ctx.store.reservations.hold(fn.tenant, admitted.reserve);
  // Its context is honoured from hand-over to answer.
  const traceId = call.trace === undefined ? undefined : formatAmznTraceId(call.trace);
  const running = ctx.contexts.begin({ requestId, tenant: fn.tenant, function: fn.name, cls: admitted.cls, deadline: call.deadline, ...(traceId !== undefined ? { trace: traceId } : {}) });
  // The caller gets the function's answer as soon as there is one; the billing record follows when
  // the invocation's measurement ends (its instance parked, or serving its next invocation).
  let answered = false;
  const arrivedAt = ctx.clock();
  const t0 = performance.now();
  let answeredMs: number | undefined;
  let settled: (() => void) | undefined;
  const respond = (a: InvocationAnswer, log?: ExecutionLog): void => {
    answered = true;
    answeredMs = performance.now() - t0;
    answer(a, log);
  };
  const invokeReq: InvokeRequest = {
    fn,
    requestId,
    payload: call.payload,
    cls: admitted.cls,
    fareContext: running.token,
    ...(traceId !== undefined ? { traceId } : {}),
    ...(call.clientContext !== undefined ? { clientContext: call.clientContext } : {}),
    ...(call.invokedArn !== undefined ? { invokedArn: call.invokedArn } : {}),
    // The caller (its context passed every check) waits for this answer: the machine scheduler lets its core go meanwhile.
    ...(call.caller !== undefined ? { waitingCaller: call.caller.requestId } : {}),
    ...(call.caller?.gateway !== undefined ? { waitingCallerGateway: call.caller.gateway } : {}),
    ...(call.onChunk !== undefined ? { stream: true, onChunk: call.onChunk } : {}),
    onAnswer: (a) => {
      running.end();
      if (call.tail) return;
      // Its record follows: a read of it by request id (its receipt, its log entry) waits for it.
      settled = ctx.settling.begin(requestId);
      respond(capResponse(ctx, a));
    },
  };
  let outcome: InvokeOutcome;
  let log: ExecutionLog;
  const started = performance.now();
  const line = { id: requestId, tenant: fn.tenant, function: fn.name, cls: admitted.clsName, type: 'sync' as const, ...traceFields(call.trace) };
  try {
    let result;
    try {
      result = await ctx.platform.invoke(invokeReq);
    } catch (e) {
      ctx.log?.error({ kind: 'invocation', id: requestId, tenant: fn.tenant, function: fn.name, class: admitted.clsName, type: 'sync', traceId: call.trace?.traceId, status: 'error', error: (e as Error).message, code: (e as { code?: unknown }).code }, 'invocation lost by the platform');
      if (answered) return; // the caller has its answer; the invocation's measurement was lost: nothing to bill
      throw internal(`the platform failed to run the invocation (${(e as Error).message}); retry, and report it if it persists`);
    } finally {
      running.end();
    }
    if (isThrottled(result)) {
      if (result.code === 'FARE_E_CONCURRENCY_LIMIT') ctx.metrics?.concurrencyRefused(fn.tenant, 'accept');
      if (ctx.log !== undefined) logInvocation(ctx.log, Object.assign({}, line, { totalMs: performance.now() - started, throttled: result.reason }));
      throw throttled(result.code ?? 'FARE_E_THROTTLED', result.message ?? `Rate Exceeded. (${result.reason}) retry after ${result.retryAfterS} s`, result.retryAfterS, result.reason);
    }
    outcome = capResponse(ctx, result);
    const ref = { requestId, attempt: 1, type: 'sync' as const, version: fn.version, ...(fn.published !== undefined ? { published: fn.published } : {}) };
    const rates = ratesFor(ctx.platform.prices, admitted.cls);
    const receipt = composeReceipt({
      ref, tenant: fn.tenant, function: fn.name, prices: ctx.platform.prices, cls: admitted.cls, acceptedAt: arrivedAt, sentAt: arrivedAt, outcome, price: rates.price, memoryPrice: rates.memoryPrice,
      origin: { own: call.ownCls, ...(call.caller !== undefined ? { caller: call.caller.requestId } : {}) },
    });
    log = executionLog(ref, outcome, undefined, receipt);
    // Written in a batch shortly after (its answer may already be on its way); budgets count it at once.
    const rec = ctx.store.billing.defer({
      id: requestId,
      invocationId: requestId,
      tenant: fn.tenant,
      function: fn.name,
      caller: call.callerTenant,
      cls: admitted.clsName,
      cpuMs: outcome.cpuMs,
      memGBs: outcome.memGBs,
      ...rates,
    }, log);
    ctx.metrics?.billed(admitted.clsName, outcome.cpuMs, rec.costMicroCents, outcome.coldStart, outcome.status);
    if (ctx.log !== undefined) logInvocation(ctx.log, Object.assign({}, line, { totalMs: performance.now() - started, outcome, costMicroCents: rec.costMicroCents }));
  } finally {
    release();
    settled?.();
  }
  if (!answered) respond(outcome, call.tail ? log : undefined);
  if (ctx.recorder !== undefined) {
    const latencyMs = answeredMs ?? performance.now() - t0;
    ctx.recorder.record({ arrivedAt, fn: `${fn.tenant}/${fn.name}`, class: admitted.clsName, cpuMs: outcome.cpuMs, ...whereItRan(outcome), memMB: outcome.maxMemMB, latencyMs, waitMs: waitBefore(outcome, latencyMs), type: 'sync', status: outcome.status });
  }
}

/** The trace's ids for an invocation's log line. */
function traceFields(t: Trace | undefined): { traceId?: string; spanId?: string; parentId?: string } {
  if (t === undefined) return {};
  return t.parentId !== undefined ? { traceId: t.traceId, spanId: t.spanId, parentId: t.parentId } : { traceId: t.traceId, spanId: t.spanId };
}

/** A response larger than the sync limit becomes an Unhandled function error, as in Lambda. */
export function capResponse<T extends InvocationAnswer>(ctx: GatewayContext, o: T): T {
  if (o.payload.length <= ctx.limits.syncPayloadBytes) return o;
  return {
    ...o,
    status: 'error',
    functionError: 'Unhandled',
    errorType: 'Function.ResponseSizeTooLarge',
    payload: Buffer.from(
      JSON.stringify({
        errorMessage: `Response payload size (${o.payload.length} bytes) exceeded maximum allowed payload size (${ctx.limits.syncPayloadBytes} bytes).`,
        errorType: 'Function.ResponseSizeTooLarge',
      }),
    ),
  };
}

