// Errors at this folder's edge, with stable codes. Expected outcomes of running function code
// (handler errors, crashes, timeouts, init failures) are not thrown: they are InvokeOutcomes. What is
// thrown is misuse by the caller or a machine that cannot do what was asked.

import type { ErrorDocument } from './runtime-api.ts';

export type RuntimeErrorCode =
  /** invoke() on an instance that is not idle, start() twice, and similar misuse. */
  | 'FARE_E_INSTANCE_STATE'
  /** The pool is at its instance cap and has no idle instance to evict: queue and retry. */
  | 'FARE_E_POOL_FULL'
  /** The function's runtime cannot run on this machine (e.g. no python3 the function user can execute). */
  | 'FARE_E_RUNTIME_UNAVAILABLE'
  /** Every uid of the instance range is taken (by this and other Fare processes on the machine). */
  | 'FARE_E_UIDS_EXHAUSTED';

export class FareRuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'FareRuntimeError';
  }
}

/** The runtime did not get ready: it reported an init error, exited, or timed out (start() rejects with it). */
export class InitError extends Error {
  readonly code = 'FARE_E_INIT';
  constructor(
    /** The error document, as the runtime posted it to /init/error or as Fare made it up. */
    readonly error: ErrorDocument,
    /** Tail of what the instance printed while starting. */
    readonly logs: string,
    readonly initMs: number,
  ) {
    super(`FARE_E_INIT: ${error.errorType}: ${error.errorMessage}`);
    this.name = 'InitError';
  }
}
