// What travels with a live job in the protocol's messages: the invocation (function, payload,
// context, trace) on `arrive` and `place`, the function's answer on `answered`, the outcome on `done` —
// as JSON-safe data (payloads in base64), so the same messages can cross a network.

import type { Cargo } from '../core/protocol.ts';
import type { Mutable } from '../core/types.ts';
import type { MachineReceipt } from '../core/receipt.ts';
import type { FunctionSpec, InvocationAnswer, InvokeOutcome, InvokeRequest } from './types.ts';

/** The invocation, as it travels to the worker. */
export interface InvocationCargo {
  /** The gateway to tell (started, answered, done). */
  readonly gateway: number;
  readonly fn: FunctionSpec;
  readonly requestId: string;
  /** Base64. */
  readonly payload: string;
  readonly clientContext?: string;
  readonly invokedArn?: string;
  readonly fareContext?: string;
  readonly waitingCaller?: string;
  /** The invocation's trace (X-Amzn-Trace-Id form), handed to the function. */
  readonly traceId?: string;
  /** The caller streams the response (the worker sends it in `stream` messages). */
  readonly stream?: boolean;
}

export function invocationCargo(gateway: number, req: InvokeRequest): Cargo {
  const c: Record<string, unknown> = { gateway, fn: req.fn, requestId: req.requestId, payload: req.payload.toString('base64') };
  if (req.clientContext !== undefined) c.clientContext = req.clientContext;
  if (req.invokedArn !== undefined) c.invokedArn = req.invokedArn;
  if (req.fareContext !== undefined) c.fareContext = req.fareContext;
  if (req.waitingCaller !== undefined) c.waitingCaller = req.waitingCaller;
  if (req.traceId !== undefined) c.traceId = req.traceId;
  if (req.stream === true) c.stream = true;
  return c;
}

/** The request a worker runs, from the cargo of a `place` (the job's effective class from the job). */
export function requestOf(cargo: Cargo, cls: number): { gateway: number; req: InvokeRequest } {
  const c = cargo as unknown as InvocationCargo;
  const req: Mutable<InvokeRequest> = { fn: c.fn, requestId: c.requestId, payload: Buffer.from(c.payload, 'base64'), cls };
  if (c.clientContext !== undefined) req.clientContext = c.clientContext;
  if (c.invokedArn !== undefined) req.invokedArn = c.invokedArn;
  if (c.fareContext !== undefined) req.fareContext = c.fareContext;
  if (c.waitingCaller !== undefined) req.waitingCaller = c.waitingCaller;
  if (c.traceId !== undefined) req.traceId = c.traceId;
  if (c.stream === true) req.stream = true;
  return { gateway: c.gateway, req };
}

export function answerCargo(a: InvocationAnswer): Cargo {
  return withPayload(a, a.payload.toString('base64'));
}

export function answerOf(c: Cargo): InvocationAnswer {
  const a = c as unknown as InvocationAnswer & { payload: string };
  return withPayload(a, Buffer.from(a.payload, 'base64')) as unknown as InvocationAnswer;
}

/** The outcome, or why there is none (`code`: e.g. FARE_E_POOL_FULL), with the machine's part of the job's receipt. */
export function outcomeCargo(o: InvokeOutcome | undefined, err?: unknown, receipt?: MachineReceipt): Cargo {
  if (o !== undefined) return receipt === undefined ? { outcome: withPayload(o, o.payload.toString('base64')) } : { outcome: withPayload(o, o.payload.toString('base64')), receipt };
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const error = { code: typeof e?.code === 'string' ? e.code : 'FARE_E_WORKER', message: typeof e?.message === 'string' ? e.message : String(err) };
  return receipt === undefined ? { error } : { error, receipt };
}

/** The machine's part of the receipt a `done` carries, if it does. */
export function receiptOf(c: Cargo | undefined): MachineReceipt | undefined {
  return (c as { receipt?: MachineReceipt } | undefined)?.receipt;
}

/** The outcome a `done` carries; throws the worker's error (with its code) when there is none. */
export function outcomeOf(c: Cargo | undefined): InvokeOutcome {
  const x = c as { outcome?: InvokeOutcome & { payload: string }; error?: { code: string; message: string } } | undefined;
  if (x?.outcome !== undefined) return withPayload(x.outcome, Buffer.from(x.outcome.payload, 'base64')) as unknown as InvokeOutcome;
  const e = x?.error ?? { code: 'FARE_E_WORKER', message: 'the worker gave no outcome' };
  throw Object.assign(new Error(e.message), { code: e.code });
}

/**
 * A copy of `o` with another payload. Not `{ ...o, payload }`: on Node 20 a spread followed by
 * more properties in one literal takes V8's slow path (~1.6 µs against ~50 ns for a plain copy).
 */
function withPayload(o: object, payload: unknown): Record<string, unknown> {
  const c = Object.assign({}, o) as Record<string, unknown>;
  c.payload = payload;
  return c;
}
