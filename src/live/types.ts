// Shared vocabulary of the live system: functions as deployed, invocations as requested and as
// finished. The gateway, the store, the shard host and the worker speak it; none of it is policy.

import type { MachineReceipt } from '../core/receipt.ts';

/** How a function's code is started. `provided`: an executable `bootstrap` in the code directory. */
export type RuntimeName = 'nodejs' | 'python' | 'provided';

export interface FunctionSpec {
  readonly tenant: string;
  readonly name: string;
  readonly runtime: RuntimeName;
  /** `file.function` for nodejs/python (Lambda style); ignored for provided. */
  readonly handler: string;
  /** Price-class name from the price table. */
  readonly cls: string;
  /** Directory holding the unpacked code (read-only for the function). */
  readonly codeDir: string;
  /**
   * Hex SHA-256 naming the code (set by the store). In a cluster a worker fetches the code by it
   * and runs its own copy: `codeDir` is the gateway's.
   */
  readonly codeSha256?: string;
  /**
   * Safe to run twice: a synchronous call whose worker was lost (it may or may not have run there)
   * is run again, up to twice, instead of failing. Default false.
   */
  readonly idempotent?: boolean;
  /** Version, bumped on every code or config update; instances of older versions are retired. */
  readonly version: number;
  /**
   * Lambda's published version this is (its `version` is the one `$LATEST` had when it was
   * published): its instances stay warm when `$LATEST` moves on, since its code never changes.
   */
  readonly published?: number;
  readonly timeoutMs: number;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Lambda's name of the version a function record is: `$LATEST`, or its published number. What an
 * invocation's `X-Amz-Executed-Version`, its log's START line and its instance's
 * `AWS_LAMBDA_FUNCTION_VERSION` say.
 */
export const lambdaVersion = (fn: { readonly published?: number | undefined }): string => (fn.published === undefined ? '$LATEST' : String(fn.published));

export interface InvokeRequest {
  readonly fn: FunctionSpec;
  readonly requestId: string;
  readonly payload: Buffer;
  /** Effective class index (after inheritance). */
  readonly cls: number;
  /** Lambda-Runtime-Client-Context, base64 JSON, if the caller sent one. */
  readonly clientContext?: string;
  /**
   * The ARN the caller invoked, when it named a qualifier (an alias, a version or `$LATEST`): what the
   * function sees as its invoked ARN (`context.invokedFunctionArn`). Default: the instance's own.
   */
  readonly invokedArn?: string;
  /**
   * Token a function can pass to Fare (X-Fare-Context) to invoke its own tenant's functions with this
   * invocation's class; honoured only while this invocation runs (gateway/fare-context.ts).
   */
  readonly fareContext?: string;
  /** Request id of the invocation that made this call synchronously and waits for it, if any: set only from a context that passed every check. */
  readonly waitingCaller?: string;
  /** The gateway that sent that caller, when it is another one of the cluster (it blocks the caller: `SchedulerClient.callStarted`). */
  readonly waitingCallerGateway?: number;
  /**
   * The invocation's trace as Lambda hands it to a function (`Lambda-Runtime-Trace-Id`,
   * `_X_AMZN_TRACE_ID`): `Root=1-…;Parent=<its span>;Sampled=0|1` (gateway/trace.ts).
   */
  readonly traceId?: string;
  /**
   * Called once, as soon as the function has answered (before its instance is parked and the
   * invocation measured), so a waiting caller can be answered at once; the invocation's outcome,
   * with its CPU time and logs, follows when the measurement ends. In-process only.
   */
  readonly onAnswer?: (a: InvocationAnswer) => void;
  /**
   * The caller streams the response (InvokeWithResponseStream, a function URL in RESPONSE_STREAM
   * mode): a function that streams its response has each chunk handed to `onChunk` as it comes, and
   * its outcome's payload is then empty (`streamed` says what was sent). A function that does not
   * stream answers whole, as to any call.
   */
  readonly stream?: boolean;
  /**
   * Where the chunks of a streamed response go (the first with its content type). In-process only.
   * A promise back: the chunk is not taken yet (its reader is slow), and the function's stream is
   * held until it settles (backpressure).
   */
  readonly onChunk?: ChunkSink;
}

/** Takes a chunk of a streamed response: a promise back holds the stream until it settles. */
export type ChunkSink = (chunk: Buffer, contentType: string) => void | Promise<void>;

/** The line put in an invocation's logs where output was left out (`InvokeOutcome.logs`). */
export function omittedLine(bytes: number): string {
  return `[… ${bytes} bytes of output omitted …]\n`;
}

/** What a caller is told as soon as the function answers: the outcome without its measurement. */
export type InvocationAnswer = Pick<InvokeOutcome, 'status' | 'payload' | 'functionError' | 'errorType' | 'streamed'>;

/** What running one invocation produced and cost. */
export interface InvokeOutcome {
  /** `ok`: the handler returned; `error`: it reported an error (`/error`), crashed, timed out or failed to init. */
  readonly status: 'ok' | 'error';
  /** Response body, or the error document `{errorMessage, errorType, stackTrace?}`. */
  readonly payload: Buffer;
  /** Why it failed, for errors: Handled (reported by the handler) or Unhandled (crash, timeout, init). */
  readonly functionError?: 'Handled' | 'Unhandled';
  readonly errorType?: string;
  /**
   * The response went out as a stream, in chunks handed to the request's `onChunk` (the payload holds
   * none of it; with an error, the error document): how many chunks, of how many bytes, of which
   * content type.
   */
  readonly streamed?: { readonly chunks: number; readonly bytes: number; readonly contentType: string };
  /** Wall time from start of execution to response (ms), excluding queueing. */
  readonly durationMs: number;
  /** CPU time used by the instance during the invocation (ms). */
  readonly cpuMs: number;
  /** Memory integrated over the invocation (GB·s). */
  readonly memGBs: number;
  /** Peak memory seen (MB). */
  readonly maxMemMB: number;
  /** This invocation started a new instance; `initMs` is how long the cold start took. */
  readonly coldStart: boolean;
  readonly initMs: number;
  /**
   * What the instance printed during the invocation: all of it, or when it printed more than is kept,
   * its beginning and its end around a line saying how much was left out.
   */
  readonly logs: string;
  /** Bytes of output left out of `logs` (absent or 0: nothing was). */
  readonly logsOmittedBytes?: number;
  /** How it was scheduled, for its receipt: added by the gateway's scheduler client from what the shard and the machine told it. */
  readonly schedule?: ScheduleReport;
}

/** What the gateway that sent a job heard of its scheduling (times since it sent the job, its clock), and the machine's report. */
export interface ScheduleReport {
  readonly gateway: number;
  readonly shard: number;
  readonly startedMs: number | null;
  readonly answeredMs: number | null;
  readonly doneMs: number;
  /** null: the machine's `done` carried no report. */
  readonly machine: MachineReceipt | null;
}
