import { describe, expect, it } from 'vitest';
import { formatAmznTraceId, formatTraceparent, parseAmznTraceId, parseTraceparent, startTrace, traceAnswerHeaders, traceHeadersOf } from './trace.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const NOW = Date.UTC(2026, 11, 5, 20, 0, 0);

describe('traceparent', () => {
  it('parses a valid version-00 header, with its sampled flag', () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({ traceId: TRACE, parentId: PARENT, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)).toEqual({ traceId: TRACE, parentId: PARENT, sampled: false });
    // Other flags than sampled are ignored; a later version may carry more fields.
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-03`)?.sampled).toBe(true);
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-01-extra`)).toEqual({ traceId: TRACE, parentId: PARENT, sampled: true });
  });

  it('refuses what W3C calls invalid', () => {
    for (const bad of [
      undefined, '', 'garbage', `ff-${TRACE}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01-extra`, `00-${TRACE.slice(1)}-${PARENT}-01`, `00-${TRACE}-${PARENT}-1`,
    ]) expect(parseTraceparent(bad), String(bad)).toBeUndefined();
  });
});

describe('X-Amzn-Trace-Id', () => {
  it('parses Root, Parent and Sampled in any order, ignoring other fields', () => {
    expect(parseAmznTraceId(`Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=${PARENT};Sampled=1`)).toEqual({ traceId: TRACE, parentId: PARENT, sampled: true });
    expect(parseAmznTraceId(`Sampled=0;Lineage=a:1;Parent=${PARENT};Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)}`)).toEqual({ traceId: TRACE, parentId: PARENT, sampled: false });
    expect(parseAmznTraceId(`Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Sampled=?`)).toEqual({ traceId: TRACE, sampled: false });
  });

  it('refuses a header without a valid Root', () => {
    for (const bad of [undefined, '', `Parent=${PARENT}`, 'Root=2-5759e988-bd862e3fe1be46a994272793', 'Root=1-5759e988-bd862e3f', `Root=${TRACE}`]) {
      expect(parseAmznTraceId(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('startTrace', () => {
  it('continues a traceparent with a new span, keeping its sampled flag and its tracestate', () => {
    const t = startTrace({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=x', amzn: 'Root=1-11111111-222222222222222222222222' }, undefined, NOW);
    expect(t).toMatchObject({ traceId: TRACE, parentId: PARENT, sampled: true, state: 'vendor=x' });
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe(PARENT);
    expect(formatTraceparent(t)).toBe(`00-${TRACE}-${t.spanId}-01`);
    expect(formatAmznTraceId(t)).toBe(`Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=${t.spanId};Sampled=1`);
  });

  it('takes X-Amzn-Trace-Id when the traceparent is invalid, and drops the tracestate that came with it', () => {
    const t = startTrace({ traceparent: 'nonsense', tracestate: 'vendor=x', amzn: `Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=${PARENT};Sampled=0` }, undefined, NOW);
    expect(t).toMatchObject({ traceId: TRACE, parentId: PARENT, sampled: false });
    expect(t.state).toBeUndefined();
  });

  it("continues the calling invocation's trace when the request carries none", () => {
    const caller = startTrace({ traceparent: `00-${TRACE}-${PARENT}-01` }, undefined, NOW);
    const callee = startTrace({}, formatAmznTraceId(caller), NOW);
    expect(callee).toMatchObject({ traceId: TRACE, parentId: caller.spanId, sampled: true });
  });

  it('starts a new, unsampled trace when nothing valid is given, its id beginning with the epoch seconds as X-Ray ids do', () => {
    const t = startTrace({ traceparent: `00-${'0'.repeat(32)}-${PARENT}-01`, amzn: 'Root=bad' }, 'nonsense', NOW);
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.traceId.slice(0, 8)).toBe(Math.floor(NOW / 1000).toString(16));
    expect(t.sampled).toBe(false);
    expect(t.parentId).toBeUndefined();
    expect(startTrace({}, undefined, NOW).traceId).not.toBe(t.traceId);
  });

  it('answers both header forms, and reads the first of repeated request headers', () => {
    const t = startTrace(traceHeadersOf({ traceparent: [`00-${TRACE}-${PARENT}-01`, 'x'], tracestate: 'a=1' }), undefined, NOW);
    expect(traceAnswerHeaders(t, {})).toEqual({ traceparent: `00-${TRACE}-${t.spanId}-01`, tracestate: 'a=1', 'X-Amzn-Trace-Id': formatAmznTraceId(t) });
  });
});
