// What the gateway needs from the rest of the live system. The gateway authenticates, validates,
// authorizes, admits against budgets, queues and bills; it never runs code. The lead wires an
// implementation of `Platform` (shard host + workers) in `fare up`; tests use a fake.

import type { PriceTable } from '../../core/classes.ts';
import type { Invocation } from '../store/index.ts';
import type { InvocationAnswer, InvokeOutcome, InvokeRequest } from '../types.ts';
import type { ConcurrencyCap } from '../../core/protocol.ts';
import type { SchedulerClient } from './scheduler-client.ts';

/** The platform could not take the invocation now (every instance busy, queue full, …). */
export interface PlatformThrottled {
  readonly status: 'throttled';
  /** Seconds the caller should wait; sent as `Retry-After`. */
  readonly retryAfterS: number;
  /** Sent as the `Reason` of Lambda's TooManyRequestsException (e.g. `ConcurrentInvocationLimitExceeded`). */
  readonly reason: string;
  /** What the caller is told, when more than the reason (why, and what to do). */
  readonly message?: string;
  /** The error code of Fare's API (default FARE_E_THROTTLED). */
  readonly code?: 'FARE_E_CONCURRENCY_LIMIT';
}

/** Lambda's Reason for a call refused because its function is at its reserved concurrency. */
export const RESERVED_CONCURRENCY_REASON = 'ReservedFunctionConcurrentInvocationLimitExceeded';

export type PlatformResult = InvokeOutcome | PlatformThrottled;

export interface Platform {
  /**
   * The price table in force. The gateway turns a function's class name into its index (0 = most
   * expensive) with it, and prices billing records with it.
   */
  readonly prices: PriceTable;

  /**
   * Runs one invocation to completion: a RequestResponse invocation, or one attempt of an Event
   * invocation (from `AsyncRunner`). `req.cls` is the effective class (own class, raised by the
   * caller's context, lowered to the last class when the owner's budget says `degrade`).
   * Function failures (handler error, crash, timeout, init failure) are an `InvokeOutcome` with
   * `status: 'error'`, never a rejection; reject only when the platform itself failed (the gateway
   * answers 500 ServiceException and bills nothing). The gateway writes the billing record of a
   * synchronous invocation from the outcome; the platform must not bill it again.
   */
  invoke(req: InvokeRequest): Promise<PlatformResult>;

  /**
   * An Event invocation has been durably queued in the store (the 202 is being sent). Start it when
   * there is room, e.g. `asyncRunner.wake()`. Must not throw; must not block.
   */
  enqueued(inv: Invocation): void;

  /**
   * Whether this machine keeps tenants apart (every instance in its own sandbox). `single`: it does
   * not, so the gateway refuses to create a tenant beside the administrators' own and one other.
   * Default `multi`.
   */
  readonly tenancy?: 'multi' | 'single';

  /**
   * A function's code or configuration changed (`version`: the new one) or it was deleted (null):
   * instances of its older versions must not run again — idle ones are killed now, busy ones when
   * their invocation ends. Must not throw.
   */
  functionChanged?(tenant: string, name: string, version: number | null): void;
}

export function isThrottled(r: PlatformResult): r is PlatformThrottled {
  return r.status === 'throttled';
}

/** What `schedulerPlatform` needs: the gateway's SchedulerClient and how functions are numbered. */
export interface SchedulerPlatformOptions {
  readonly prices: PriceTable;
  readonly scheduler: SchedulerClient;
  /** The function's number for shard selection (the same number from every gateway of a cluster). */
  readonly fnId: (req: InvokeRequest) => number;
  readonly tenancy: 'multi' | 'single';
  /** Before the job is sent (e.g. the cluster's gateway makes sure the workers can fetch its code). */
  readonly prepare?: (req: InvokeRequest) => Promise<void>;
  readonly functionChanged?: (tenant: string, name: string, version: number | null) => void;
  /** Called when an Event invocation was queued (`AsyncRunner.wake`), once the runner exists. */
  readonly enqueued: () => void;
  /**
   * The concurrency limit of the invoked function (over all its versions), if it has one: its
   * shard refuses a call past it (`concurrencyCapOf` reads the store's).
   */
  readonly capOf?: (req: InvokeRequest) => ConcurrencyCap | undefined;
}

/** The concurrency limit of a request's function, as its `$LATEST` record in `functions` says (read from memory). */
export function concurrencyCapOf(functions: { get(tenant: string, name: string): { readonly reservedConcurrency?: number } | undefined }): (req: InvokeRequest) => ConcurrencyCap | undefined {
  return (req) => {
    const limit = functions.get(req.fn.tenant, req.fn.name)?.reservedConcurrency;
    return limit === undefined ? undefined : { key: `${req.fn.tenant}/${req.fn.name}`, limit };
  };
}

/** Runs in all of a synchronous call to an idempotent function whose worker is lost (the first included). */
const IDEMPOTENT_ATTEMPTS = 3;

/** The Platform of a gateway that sends every invocation into the scheduler (`fare up`, `fare gateway`). */
export function schedulerPlatform(o: SchedulerPlatformOptions): Platform {
  const platform: Platform = {
    prices: o.prices,
    async invoke(req): Promise<PlatformResult> {
      // A caller waiting for this call gives up its core until the answer (else a chain of calls as
      // deep as the cores would deadlock).
      const ended = req.waitingCaller === undefined ? undefined : o.scheduler.callStarted(req.waitingCaller, req.waitingCallerGateway);
      try {
        if (o.prepare) await o.prepare(req);
        const cap = o.capOf?.(req);
        if (req.fn.idempotent !== true) return await o.scheduler.invoke(req, o.fnId(req), cap);
        // Its worker was lost (it may or may not have run there): a function safe to run twice runs
        // again — unless its caller already has an answer (the loss came after it).
        let answered = false;
        const onAnswer = req.onAnswer;
        const once: InvokeRequest = Object.assign({}, req, {
          onAnswer: (a: InvocationAnswer) => {
            answered = true;
            onAnswer?.(a);
          },
        });
        for (let attempt = 1; ; attempt++) {
          try {
            return await o.scheduler.invoke(once, o.fnId(req), cap);
          } catch (e) {
            const code = (e as { code?: string }).code;
            if (!answered && attempt < IDEMPOTENT_ATTEMPTS && (code === 'FARE_E_WORKER_LOST' || code === 'FARE_E_LOST')) continue;
            throw e;
          }
        }
      } catch (e) {
        if ((e as { code?: string }).code === 'FARE_E_POOL_FULL') {
          return { status: 'throttled', retryAfterS: 1, reason: 'ConcurrentInvocationLimitExceeded' };
        }
        if ((e as { code?: string }).code === 'FARE_E_CONCURRENCY_LIMIT') {
          const limit = (e as { limit?: number }).limit ?? 0;
          return {
            status: 'throttled', retryAfterS: 1, reason: RESERVED_CONCURRENCY_REASON, code: 'FARE_E_CONCURRENCY_LIMIT',
            message: limit === 0
              ? `Rate Exceeded. Function ${req.fn.name} has a reserved concurrency of 0: no call runs until it is raised or removed (PutFunctionConcurrency, DeleteFunctionConcurrency; fare concurrency ${req.fn.name} N|--clear)`
              : `Rate Exceeded. Function ${req.fn.name} has ${limit} call${limit === 1 ? '' : 's'} in flight, its reserved concurrency: retry shortly, or raise it (PutFunctionConcurrency; fare concurrency ${req.fn.name} N)`,
          };
        }
        throw e;
      } finally {
        ended?.();
      }
    },
    enqueued: () => o.enqueued(),
    tenancy: o.tenancy,
  };
  if (o.functionChanged) (platform as { functionChanged?: Platform['functionChanged'] }).functionChanged = o.functionChanged;
  return platform;
}
