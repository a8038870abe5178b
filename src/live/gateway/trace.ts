// Trace context along call chains: W3C `traceparent` / `tracestate` and Lambda's `X-Amzn-Trace-Id`
// on the way in, one trace per invocation (the caller's trace id, a new span id), and both header
// forms on the way out and to the function (`Lambda-Runtime-Trace-Id`, `_X_AMZN_TRACE_ID`). A
// header that does not parse is ignored, as W3C asks: the invocation starts a new trace.

import { randomBytesFast } from '../random.ts';

/** Where a trace came from, as a caller sent it. */
export interface TraceParent {
  /** 32 lower-case hex digits (X-Ray's `1-<8>-<24>` without its dashes). */
  readonly traceId: string;
  /** The caller's span: 16 lower-case hex digits. */
  readonly parentId: string;
  readonly sampled: boolean;
}

/** The trace of one invocation. */
export interface Trace {
  readonly traceId: string;
  /** This invocation's own span (16 hex digits): the parent of the calls it makes. */
  readonly spanId: string;
  /** The caller's span, when the trace came with the request. */
  readonly parentId?: string;
  readonly sampled: boolean;
  /** `tracestate` as given, passed on unchanged. */
  readonly state?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ROOT = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZEROS = /^0+$/;

/** W3C `traceparent` (version 00, or a later one read as 00), or undefined when it is not valid. */
export function parseTraceparent(v: string | undefined): TraceParent | undefined {
  if (v === undefined) return undefined;
  const m = TRACEPARENT.exec(v.trim());
  if (m === null) return undefined;
  const [, version = '', traceId = '', parentId = '', flags = ''] = m;
  // Version ff is invalid; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && m[5] !== undefined)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/**
 * Lambda's (X-Ray's) `X-Amzn-Trace-Id: Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0|1|?`,
 * fields in any order, others ignored; undefined without a valid Root. Without a Parent the caller
 * is the root itself (parent id all zeros is not allowed: a new one is not invented here).
 */
export function parseAmznTraceId(v: string | undefined): (Omit<TraceParent, 'parentId'> & { readonly parentId?: string }) | undefined {
  if (v === undefined) return undefined;
  let root: string | undefined;
  let parent: string | undefined;
  let sampled = false;
  for (const field of v.split(';')) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const k = field.slice(0, eq).trim();
    const val = field.slice(eq + 1).trim().toLowerCase();
    if (k === 'Root') root = val;
    else if (k === 'Parent') parent = val;
    else if (k === 'Sampled') sampled = val === '1';
  }
  const m = root === undefined ? null : ROOT.exec(root);
  if (m === null) return undefined;
  const traceId = `${m[1] ?? ''}${m[2] ?? ''}`;
  if (ZEROS.test(traceId)) return undefined;
  return parent !== undefined && HEX16.test(parent) && !ZEROS.test(parent) ? { traceId, parentId: parent, sampled } : { traceId, sampled };
}

/** A new trace id: X-Ray's shape (8 hex digits of epoch seconds, 24 random), so both header forms can carry it. */
export function newTraceId(nowMs: number): string {
  return `${Math.floor(nowMs / 1000).toString(16).padStart(8, '0').slice(-8)}${randomBytesFast(12).toString('hex')}`;
}

function newSpanId(): string {
  const b = randomBytesFast(8);
  if (b.every((x) => x === 0)) b[7] = 1;
  return b.toString('hex');
}

export interface TraceHeaders {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
  readonly amzn?: string | undefined;
}

/**
 * The trace of a new invocation: continued from `traceparent` if valid, else from `X-Amzn-Trace-Id`,
 * else from the calling invocation's trace (`caller`, in the X-Amzn-Trace-Id form: its context or its
 * invocation credentials), else a new one (not sampled). Always a new span id.
 */
export function startTrace(h: TraceHeaders, caller: string | undefined, nowMs: number): Trace {
  const w3c = parseTraceparent(h.traceparent);
  const from = w3c ?? parseAmznTraceId(h.amzn) ?? parseAmznTraceId(caller);
  const spanId = newSpanId();
  if (from === undefined) return { traceId: newTraceId(nowMs), spanId, sampled: false };
  const t: { traceId: string; spanId: string; parentId?: string; sampled: boolean; state?: string } = { traceId: from.traceId, spanId, sampled: from.sampled };
  if (from.parentId !== undefined) t.parentId = from.parentId;
  // tracestate goes with the traceparent it was sent with, and only with a valid one.
  if (w3c !== undefined && h.tracestate !== undefined && h.tracestate !== '') t.state = h.tracestate;
  return t;
}

/** `traceparent` of the invocation's span (version 00). */
export function formatTraceparent(t: Trace): string {
  return `00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}`;
}

/** `X-Amzn-Trace-Id` of the invocation's span, as the function gets it (`_X_AMZN_TRACE_ID`). */
export function formatAmznTraceId(t: Trace): string {
  return `Root=1-${t.traceId.slice(0, 8)}-${t.traceId.slice(8)};Parent=${t.spanId};Sampled=${t.sampled ? '1' : '0'}`;
}

/** The headers an answer carries: both forms, and `tracestate` as it came. */
export function traceAnswerHeaders(t: Trace, into: Record<string, string>): Record<string, string> {
  into['traceparent'] = formatTraceparent(t);
  if (t.state !== undefined) into['tracestate'] = t.state;
  into['X-Amzn-Trace-Id'] = formatAmznTraceId(t);
  return into;
}

/** The request's trace headers (each first value). */
export function traceHeadersOf(headers: Readonly<Record<string, string | string[] | undefined>>): TraceHeaders {
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  return { traceparent: one(headers['traceparent']), tracestate: one(headers['tracestate']), amzn: one(headers['x-amzn-trace-id']) };
}
