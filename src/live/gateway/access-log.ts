// What the gateway logs: one access line per request (filled in by the handlers as they learn the
// tenant, the operation and the trace) and one line per invocation when it ends. The gateway writes
// to a `GatewayLog` — a pino logger fits it (the CLI makes one per process); nothing here imports pino.

import type { IncomingMessage } from 'node:http';
import type { InvokeOutcome } from '../types.ts';

/** Where the gateway's lines go: a pino logger, or anything with its three methods. */
export interface GatewayLog {
  info(entry: object, msg: string): void;
  warn(entry: object, msg: string): void;
  error(entry: object, msg: string): void;
  /** Health checks' access lines (pino's debug: left out at the default level). */
  debug?(entry: object, msg: string): void;
}

/** What a handler learned about a request, for its access line. */
export interface RequestNote {
  tenant?: string;
  /** Lambda's operation (Invoke, CreateFunction, …), Fare's route, or FunctionUrl. */
  operation?: string;
  function?: string;
  /** The invocation's trace id (32 hex digits). */
  traceId?: string;
}

const notes = new WeakMap<IncomingMessage, RequestNote>();

/** Adds what is known about `req` to its access line. */
export function noteRequest(req: IncomingMessage, fields: RequestNote): void {
  const n = notes.get(req);
  if (n === undefined) notes.set(req, Object.assign({}, fields));
  else Object.assign(n, fields);
}

export function requestNote(req: IncomingMessage): RequestNote | undefined {
  return notes.get(req);
}

/** One invocation as it ended, for its log line. */
export interface InvocationEnd {
  readonly id: string;
  readonly tenant: string;
  readonly function: string;
  /** The effective class's name. */
  readonly cls: string;
  readonly type: 'sync' | 'async';
  readonly traceId?: string;
  /** The invocation's span, and its caller's (trace.ts). */
  readonly spanId?: string;
  readonly parentId?: string;
  /** Wall time from handing the invocation to the platform until its outcome (ms). */
  readonly totalMs: number;
  readonly outcome?: InvokeOutcome;
  readonly costMicroCents?: number;
  /** Set when there is no outcome: the platform had no room. */
  readonly throttled?: string;
  /** Event attempts: which one this was. */
  readonly attempt?: number;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Time before the handler ran: the latency less the run and a cold start's init (queueing, placement, the messages there and back). */
export function waitBefore(o: Pick<InvokeOutcome, 'durationMs' | 'coldStart' | 'initMs'>, latencyMs: number): number {
  return Math.max(0, latencyMs - o.durationMs - (o.coldStart ? o.initMs : 0));
}

/** Logs an invocation's end: info when it ran ok, warn when the function failed or there was no room. */
export function logInvocation(log: GatewayLog | undefined, e: InvocationEnd): void {
  if (log === undefined) return;
  const o = e.outcome;
  const entry: Record<string, unknown> = {
    kind: 'invocation', id: e.id, tenant: e.tenant, function: e.function, class: e.cls,
    status: o === undefined ? 'throttled' : o.status, type: e.type,
  };
  if (e.attempt !== undefined) entry.attempt = e.attempt;
  if (e.traceId !== undefined) entry.traceId = e.traceId;
  if (e.spanId !== undefined) entry.spanId = e.spanId;
  if (e.parentId !== undefined) entry.parentId = e.parentId;
  if (o !== undefined) {
    // Before the handler ran: queueing, placement and the messages there and back, and a cold start's init.
    entry.waitMs = r2(waitBefore(o, e.totalMs));
    entry.runMs = r2(o.durationMs);
    entry.totalMs = r2(e.totalMs);
    entry.coldStart = o.coldStart;
    if (o.coldStart) entry.initMs = r2(o.initMs);
    entry.cpuMs = r2(o.cpuMs);
    if (e.costMicroCents !== undefined) entry.costMicroCents = r2(e.costMicroCents);
    if (o.status === 'error') {
      entry.errorType = o.errorType ?? o.functionError ?? 'Unhandled';
      log.warn(entry, 'invocation failed');
    } else {
      log.info(entry, 'invocation');
    }
  } else {
    entry.totalMs = r2(e.totalMs);
    if (e.throttled !== undefined) entry.reason = e.throttled;
    log.warn(entry, 'invocation throttled');
  }
}
