// Runs queued Event invocations: claims them from the store (highest class first), admits each claim
// against its owner's budget again, invokes it through the platform, and completes it in one
// transaction with its billing record and log entry. Failed attempts are retried with a delay, as
// Lambda does (3 attempts in all by default, or as the function's event invoke config says, which
// also bounds how old an event may be when it runs); attempts the platform throttled are requeued without
// counting; a claim over budget waits, without counting, until the allowance has grown past the
// spend, or fails if that is after the maximum event age. A building block for the lead's Platform:
// `enqueued: () => runner.wake()`.

import { classIndex, costOf, ratesFor } from '../../core/classes.ts';
import { executionLog, type BillingInput, type Invocation, type NewInvocation, type Store } from '../store/index.ts';
import type { InvokeRequest } from '../types.ts';
import { ownDeadline, type FareContexts } from './fare-context.ts';
import { admitInvocation, microCents, type BudgetVerdict } from './budget-gate.ts';
import { isThrottled, RESERVED_CONCURRENCY_REASON, type Platform } from './platform.ts';
import type { Metrics } from '../metrics.ts';
import type { Recorder } from '../recorder.ts';
import { composeReceipt } from './receipts.ts';
import { whereItRan } from '../recorder.ts';
import { logInvocation, waitBefore, type GatewayLog } from './access-log.ts';
import { formatAmznTraceId, startTrace } from './trace.ts';
import { functionArn } from './context.ts';
import { parseFunctionRef } from './function-ref.ts';
import { newRequestId } from './request-id.ts';

/** Lambda's default maximum age of an event: 6 hours. */
export const DEFAULT_MAX_EVENT_AGE_MS = 6 * 3_600_000;

export interface AsyncRunnerOptions {
  readonly store: Store;
  readonly platform: Pick<Platform, 'invoke' | 'prices'>;
  /** Registers each attempt while it runs and mints the context passed to it (class inheritance for its own calls). */
  readonly contexts?: FareContexts;
  /** Invocations in flight at once (default 16). */
  readonly concurrency?: number;
  /** Attempts in all, the first included (default 3: Lambda's two retries). */
  readonly maxAttempts?: number;
  /** Delay before attempt n+1 after attempt n failed (default 60 s × n). */
  readonly retryDelayMs?: (attempt: number) => number;
  /**
   * Delay before trying again an attempt the platform failed to run (a worker lost, a shard gone;
   * not the function's failure, and not counted as an attempt). Default 2 s: soon, on another worker.
   */
  readonly platformRetryDelayMs?: number;
  /** Delay before trying again an attempt the platform throttled (default: its Retry-After). */
  readonly throttleDelayMs?: (retryAfterS: number) => number;
  /**
   * When an attempt of a function with a concurrency limit ends, the oldest of its Events waiting
   * after a refusal is made due at once, so that a backlog runs at the limit instead of at the pace of
   * its back-off (default true; a cluster's gateways, whose retries are the work queue's, pass false).
   */
  readonly expedite?: boolean;
  /**
   * An invocation whose budget leaves no room for it before it is this old (since accepted) fails
   * instead of waiting (default 6 h, Lambda's default maximum event age).
   */
  readonly maxEventAgeMs?: number;
  readonly clock?: () => number;
  /** Unexpected failures (the store throwing, say); the invocation stays running until restart. */
  readonly onError?: (e: unknown, inv: Invocation) => void;
  /** Each attempt's invocation line (access-log.ts). */
  readonly log?: GatewayLog;
  /** Billed attempts, and claims throttled or degraded by budget, are counted. */
  readonly metrics?: Metrics;
  /** Records each attempt for the simulator (`fare up --record`). */
  readonly recorder?: Recorder;
  /** The region named in the ARNs of destination records (default us-east-1). */
  readonly region?: string;
}

/** How an invocation is tried: its function's event invoke config, or the runner's defaults. */
interface Limits {
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
  /** Destinations: functions' ARNs. */
  readonly onSuccess?: string;
  readonly onFailure?: string;
}

/** A throttled Event is tried again after at most this long (ms), however long it has waited. */
export const MAX_THROTTLE_BACKOFF_MS = 30_000;

export class AsyncRunner {
  readonly #o: Required<Omit<AsyncRunnerOptions, 'contexts' | 'onError' | 'metrics' | 'log' | 'recorder'>> & Pick<AsyncRunnerOptions, 'contexts' | 'onError' | 'metrics' | 'log' | 'recorder'>;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Stopping (see `stop`), how to end its grace now, and whether the invocations in flight were abandoned. */
  #stopping: Promise<void> | undefined;
  #cut: (() => void) | undefined;
  #abandoned = false;
  #idle: (() => void)[] = [];

  constructor(opts: AsyncRunnerOptions) {
    this.#o = {
      concurrency: 16,
      maxAttempts: 3,
      retryDelayMs: (n) => 60_000 * n,
      throttleDelayMs: (s) => s * 1000,
      expedite: true,
      platformRetryDelayMs: 2000,
      maxEventAgeMs: DEFAULT_MAX_EVENT_AGE_MS,
      region: 'us-east-1',
      clock: Date.now,
      ...opts,
    };
  }

  /** Claims and starts as many runnable invocations as there is room for. Cheap; call it freely. */
  wake(): void {
    if (this.#stopped) return;
    while (this.#inFlight.size < this.#o.concurrency) {
      const inv = this.#o.store.invocations.claim();
      if (inv === undefined) break;
      const p: Promise<void> = this.#run(inv).finally(() => {
        this.#inFlight.delete(p);
        this.wake();
      });
      this.#inFlight.add(p);
    }
    this.#arm();
    if (this.#inFlight.size === 0) this.#settle();
  }

  /**
   * Runs an invocation claimed elsewhere (a cluster gateway's shared queue, through
   * `InvocationRepo.adopt`) as a claim of its own is run; resolves once its outcome is recorded
   * (finished, or queued again for a retry).
   */
  runClaimed(inv: Invocation): Promise<void> {
    const p: Promise<void> = this.#run(inv).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
    return p;
  }

  /** Invocations running now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Resolves when nothing is in flight and nothing is runnable now (for tests and shutdown). */
  idle(): Promise<void> {
    if (this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Stops claiming and waits for the invocations in flight, for up to `graceMs` (default: as long
   * as they take). Past it they are abandoned: what they come to is not recorded, and they stay
   * claimed (`running`), so the store gives them back at the next start, as after a crash. A call
   * with 0 while a grace runs ends it now.
   */
  stop(graceMs = Infinity): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#stopping !== undefined) {
      if (graceMs <= 0) this.#cut?.();
      return this.#stopping;
    }
    const all = Promise.all([...this.#inFlight]);
    this.#stopping = new Promise<void>((resolve) => {
      const timer = graceMs > 0 && Number.isFinite(graceMs) ? setTimeout(() => this.#cut?.(), graceMs) : undefined;
      const end = (abandon: boolean): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.#cut = undefined;
        if (abandon) this.#abandoned = true;
        resolve();
      };
      this.#cut = () => end(true);
      void all.then(() => end(false));
      if (graceMs <= 0 && this.#inFlight.size > 0) end(true);
    });
    return this.#stopping;
  }

  /** Sets one timer for the earliest delayed retry. */
  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#o.store.invocations.nextRunAfter();
    if (next === undefined || this.#inFlight.size >= this.#o.concurrency) return;
    // Due already (a timer fires up to a millisecond early, and the store's claim may have read the
    // clock just before): soon again, else nothing would wake the runner for it.
    const delay = Math.max(1, next - this.#o.clock());
    this.#timer = setTimeout(() => this.wake(), Math.min(delay, 2 ** 31 - 1));
    this.#timer.unref();
  }

  #settle(): void {
    const waiting = this.#idle;
    this.#idle = [];
    for (const f of waiting) f();
  }

  async #run(inv: Invocation): Promise<void> {
    const { store, platform } = this.#o;
    try {
      const fn = store.versions.resolve(inv.tenant, inv.function, inv.qualifier ?? undefined, () => store.functions.get(inv.tenant, inv.function))?.fn;
      if (fn === undefined) {
        const what = inv.qualifier === null ? 'the function was deleted' : `version ${inv.qualifier} of the function was deleted`;
        store.invocations.finish(inv.id, { status: 'failed', result: null, error: `ResourceNotFoundException: ${what} before the invocation ran` });
        return;
      }
      // The event invoke config of the qualifier it was invoked with (Lambda's PutFunctionEventInvokeConfig), else the defaults.
      const limits = this.#limits(inv);
      if (this.#o.clock() > inv.createdAt + limits.maxAgeMs) {
        this.#tooOld(inv, limits);
        return;
      }
      let cls = classIndex(platform.prices, inv.cls) ?? classIndex(platform.prices, fn.cls) ?? platform.prices.classes.length - 1;
      // Admitted again at the claim (synchronously, before any other claim), its own reservation
      // left out: retries, costs above their estimates, a lowered budget or a new month are counted.
      const now = this.#o.clock();
      const budget = admitInvocation(store, platform.prices, now, fn, cls, inv.reservedMicroCents);
      if (budget.kind === 'throttle') {
        this.#o.metrics?.throttled(inv.tenant, 'claim');
        this.#overBudget(inv, budget, limits);
        return;
      }
      const degraded = budget.cls !== cls;
      if (degraded) this.#o.metrics?.degraded(inv.tenant, 'claim');
      cls = budget.cls;
      const clsName = platform.prices.classes[cls]?.name ?? inv.cls;
      if (degraded || budget.reserve !== inv.reservedMicroCents) store.invocations.reserve(inv.id, budget.reserve, degraded ? { name: clsName, index: cls } : undefined);
      // The attempt's context is honoured while it runs. An Event is never raised by its caller's
      // context (`inheritContext`), so its own deadline applies.
      const running = this.#o.contexts?.begin({ requestId: inv.id, tenant: inv.tenant, function: inv.function, cls, deadline: ownDeadline(this.#o.clock(), fn.timeoutMs) });
      // Each attempt continues the trace the Event was accepted with (a span of its own), or begins one.
      const trace = startTrace({}, inv.trace ?? undefined, now);
      let req: InvokeRequest = {
        fn,
        requestId: inv.id,
        payload: inv.payload,
        cls,
        traceId: formatAmznTraceId(trace),
        ...(inv.clientContext !== null ? { clientContext: inv.clientContext } : {}),
        ...(inv.invokedArn !== null ? { invokedArn: inv.invokedArn } : {}),
        ...(running !== undefined ? { fareContext: running.token } : {}),
        // Its context ends with its answer (the attempt is measured a moment longer).
        ...(running !== undefined ? { onAnswer: () => running.end() } : {}),
      };
      let result;
      const started = performance.now();
      const arrivedAt = this.#o.clock();
      let answeredMs: number | undefined;
      if (this.#o.recorder !== undefined) {
        const end = req.onAnswer;
        req = { ...req, onAnswer: (a) => { answeredMs = performance.now() - started; end?.(a); } };
      }
      try {
        result = await platform.invoke(req);
      } catch (e) {
        if (this.#abandoned) return;
        // The platform failed, not the function: try again later, nothing to bill.
        store.invocations.retry(inv.id, this.#o.clock() + this.#o.platformRetryDelayMs, { refundAttempt: true, keepReservation: true, error: `platform: ${(e as Error).message}` });
        return;
      } finally {
        running?.end();
      }
      // Given up by a stop whose grace passed: the next start runs it again (its claim stands).
      if (this.#abandoned) return;
      const line = { id: inv.id, tenant: inv.tenant, function: inv.function, cls: clsName, type: 'async' as const, attempt: inv.attempts, traceId: trace.traceId, spanId: trace.spanId, ...(trace.parentId !== undefined ? { parentId: trace.parentId } : {}) };
      if (isThrottled(result)) {
        if (result.code === 'FARE_E_CONCURRENCY_LIMIT') this.#o.metrics?.concurrencyRefused(inv.tenant, 'claim');
        if (this.#o.log !== undefined) logInvocation(this.#o.log, Object.assign({}, line, { totalMs: performance.now() - started, throttled: result.reason }));
        // Tried again after the platform's Retry-After, or later the longer the event has waited (a
        // function at its concurrency limit for minutes is not asked every second by each event).
        const now = this.#o.clock();
        const delay = Math.ceil(Math.max(this.#o.throttleDelayMs(result.retryAfterS), Math.min(MAX_THROTTLE_BACKOFF_MS, (now - inv.createdAt) / 4)));
        store.invocations.retry(inv.id, now + delay, { refundAttempt: true, keepReservation: true, error: `throttled: ${result.reason}` });
        return;
      }
      // It ran, so its function has a place again: the next of its Events refused for the limit goes now.
      if (this.#o.expedite && store.functions.get(inv.tenant, inv.function)?.reservedConcurrency !== undefined) store.invocations.expedite(inv.tenant, inv.function, RESERVED_CONCURRENCY_REASON);
      const billing: BillingInput = {
        id: `${inv.id}#${inv.attempts}`,
        invocationId: inv.id,
        tenant: inv.tenant,
        function: inv.function,
        caller: inv.caller,
        cls: clsName,
        cpuMs: result.cpuMs,
        memGBs: result.memGBs,
        ...ratesFor(platform.prices, cls),
      };
      const ref = { requestId: inv.id, attempt: inv.attempts, type: 'async' as const, version: fn.version, ...(fn.published !== undefined ? { published: fn.published } : {}) };
      const receipt = composeReceipt({
        ref, tenant: inv.tenant, function: inv.function, prices: platform.prices, cls, origin: { own: classIndex(platform.prices, fn.cls) ?? cls },
        acceptedAt: inv.createdAt, sentAt: arrivedAt, outcome: result, price: billing.price, memoryPrice: billing.memoryPrice,
      });
      const log = executionLog(ref, result, undefined, receipt);
      let written: boolean;
      const executed = fn.published !== undefined ? String(fn.published) : '$LATEST';
      if (result.status === 'ok') {
        const then = this.#destination(inv, limits.onSuccess, 'Success', { executed, payload: result.payload });
        written = store.invocations.finish(inv.id, { status: 'succeeded', result: result.payload, version: fn.version }, billing, log, then);
      } else if (inv.attempts < limits.maxAttempts && this.#o.clock() + this.#o.retryDelayMs(inv.attempts) <= inv.createdAt + limits.maxAgeMs) {
        written = store.invocations.retry(inv.id, this.#o.clock() + this.#o.retryDelayMs(inv.attempts), { billing, log, error: result.errorType ?? 'Unhandled' });
      } else {
        // Its attempts are used up, or the next would come after its maximum event age: it failed.
        const functionError = result.functionError ?? 'Unhandled';
        const then = this.#destination(inv, limits.onFailure, inv.attempts < limits.maxAttempts ? 'EventAgeExceeded' : 'RetriesExhausted', { executed, payload: result.payload, functionError });
        written = store.invocations.finish(
          inv.id,
          { status: 'failed', result: result.payload, functionError, error: result.errorType ?? 'Unhandled', version: fn.version },
          billing,
          log,
          then,
        );
      }
      if (this.#o.log !== undefined) logInvocation(this.#o.log, Object.assign({}, line, { totalMs: performance.now() - started, outcome: result, costMicroCents: costOf(result.cpuMs, result.memGBs, billing.price, billing.memoryPrice).total }));
      if (written) this.#o.metrics?.billed(clsName, result.cpuMs, costOf(result.cpuMs, result.memGBs, billing.price, billing.memoryPrice).total, result.coldStart, result.status);
      if (this.#o.recorder !== undefined) {
        const latencyMs = answeredMs ?? performance.now() - started;
        this.#o.recorder.record({ arrivedAt, fn: `${inv.tenant}/${inv.function}`, class: clsName, cpuMs: result.cpuMs, ...whereItRan(result), memMB: result.maxMemMB, latencyMs, waitMs: waitBefore(result, latencyMs), type: 'async', status: result.status });
      }
    } catch (e) {
      this.#o.onError?.(e, inv);
    }
  }

  /**
   * Attempts in all and the maximum event age of an invocation: its function's event invoke config
   * for the qualifier it was invoked with (`$LATEST` when none; an alias's, not its version's), each
   * setting the config leaves out (or no config) the runner's own.
   */
  #limits(inv: Invocation): Limits {
    const c = this.#o.store.eventConfigs.get(inv.tenant, inv.function, invokedQualifier(inv.invokedArn));
    return {
      maxAttempts: c?.maxRetryAttempts !== undefined ? c.maxRetryAttempts + 1 : this.#o.maxAttempts,
      maxAgeMs: c?.maxEventAgeS !== undefined ? c.maxEventAgeS * 1000 : this.#o.maxEventAgeMs,
      ...(c?.onSuccess !== undefined ? { onSuccess: c.onSuccess } : {}),
      ...(c?.onFailure !== undefined ? { onFailure: c.onFailure } : {}),
    };
  }

  /** An event past its maximum event age when it comes to be run: it fails without running (again), as Lambda discards it. */
  #tooOld(inv: Invocation, limits: Limits): void {
    const waited = Math.round((this.#o.clock() - inv.createdAt) / 1000);
    const tried = inv.attempts > 1 ? `after ${inv.attempts - 1} attempt${inv.attempts > 2 ? 's' : ''} (its last error: ${inv.error ?? 'none'})` : 'before any attempt';
    this.#o.store.invocations.finish(inv.id, {
      status: 'failed',
      result: null,
      error: `EventAgeExceeded: the event was accepted ${waited} s ago, past its maximum event age of ${limits.maxAgeMs / 1000} s, and was dropped ${tried}; raise MaximumEventAgeInSeconds (PutFunctionEventInvokeConfig) to keep events longer`,
    }, undefined, undefined, this.#destination(inv, limits.onFailure, 'EventAgeExceeded'));
  }

  /**
   * The Event invocation of a destination (`arn`, a function's) with the record of `inv`'s outcome,
   * in Lambda's shape; undefined without a destination, or when it is gone or no longer allowed to
   * the invocation's tenant (its outcome is kept all the same).
   */
  #destination(inv: Invocation, arn: string | undefined, condition: 'Success' | 'RetriesExhausted' | 'EventAgeExceeded', response?: { executed: string; payload: Buffer | null; functionError?: string }): NewInvocation | undefined {
    // Attempts that ran: this claim's counts only if it ran (a response), not if the event was dropped at it.
    const ran = response !== undefined ? inv.attempts : inv.attempts - 1;
    if (arn === undefined) return undefined;
    const ref = parseFunctionRef(arn);
    const owner = ref?.owner;
    if (ref === undefined || owner === undefined || !this.#o.store.grants.allows(owner, ref.name, inv.tenant)) return undefined;
    const { store, platform } = this.#o;
    const target = store.versions.resolve(owner, ref.name, ref.qualifier, () => store.functions.get(owner, ref.name));
    if (target === undefined) return undefined;
    const cls = classIndex(platform.prices, target.fn.cls) ?? platform.prices.classes.length - 1;
    const json = (b: Buffer | null): unknown => {
      if (b === null) return null;
      try {
        return JSON.parse(b.toString('utf8')) as unknown;
      } catch {
        return b.toString('utf8');
      }
    };
    const record = {
      version: '1.0',
      timestamp: new Date(this.#o.clock()).toISOString(),
      requestContext: {
        requestId: inv.id,
        functionArn: functionArn(this.#o.region, inv.tenant, inv.function, invokedQualifier(inv.invokedArn)),
        condition,
        approximateInvokeCount: Math.max(0, ran),
      },
      requestPayload: json(inv.payload),
      ...(response !== undefined
        ? {
            responseContext: { statusCode: 200, executedVersion: response.executed, ...(response.functionError !== undefined ? { functionError: response.functionError } : {}) },
            responsePayload: json(response.payload),
          }
        : {}),
    };
    return {
      id: newRequestId(this.#o.clock()),
      tenant: owner,
      function: ref.name,
      version: target.fn.version,
      caller: inv.tenant,
      cls: platform.prices.classes[cls]?.name ?? target.fn.cls,
      classIndex: cls,
      payload: Buffer.from(JSON.stringify(record)),
      ...(target.fn.published !== undefined ? { qualifier: String(target.fn.published) } : {}),
      ...(ref.qualifier !== undefined ? { invokedArn: arn } : {}),
      ...(inv.trace !== null ? { trace: inv.trace } : {}),
    };
  }

  /**
   * A claim its budget has no room for: not run, the attempt not counted, its reservation given up.
   * It waits until the allowance will have grown past the spend, or fails now if that is after its
   * maximum event age (or only a new month helps and the month ends after it).
   */
  #overBudget(inv: Invocation, v: Extract<BudgetVerdict, { kind: 'throttle' }>, limits: Limits): void {
    const { store } = this.#o;
    const maxAgeMs = limits.maxAgeMs;
    const deadline = inv.createdAt + maxAgeMs;
    const why = `tenant ${inv.tenant} has spent ${microCents(v.spent)} and holds ${microCents(v.reserved)} for its other admitted, unbilled invocations; with this invocation's estimate of ${microCents(v.estimate)} that passes its ${v.line} of ${microCents(v.limit)}`;
    if (v.retryAt >= deadline) {
      const ageH = Math.round((maxAgeMs / 3_600_000) * 100) / 100;
      store.invocations.finish(inv.id, {
        status: 'failed',
        result: null,
        error: `FARE_E_OVER_BUDGET: BudgetExceeded: ${why}, and there is no room for it before ${new Date(v.retryAt).toISOString()}, after its maximum event age (${ageH} h) runs out; raise the budget (PATCH /v1/tenants/${inv.tenant}) and invoke it again`,
      }, undefined, undefined, this.#destination(inv, limits.onFailure, 'EventAgeExceeded'));
      return;
    }
    store.invocations.retry(inv.id, v.retryAt, { refundAttempt: true, error: `BudgetExceeded: ${why}; waiting until ${new Date(v.retryAt).toISOString()}` });
  }
}

/** The qualifier an invocation was invoked with, from the ARN it was invoked by (`$LATEST` when by name alone). */
export function invokedQualifier(invokedArn: string | null): string {
  return (invokedArn === null ? undefined : parseFunctionRef(invokedArn)?.qualifier) ?? '$LATEST';
}
