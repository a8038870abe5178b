import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AsyncRunner } from './async-runner.ts';
import { outcome, startHarness, type Harness } from './testing.ts';
import { parseAmznTraceId } from './trace.ts';

/** A pino logger writing JSON lines into `lines`, synchronously. */
function capture(): { lines: Record<string, unknown>[]; raw: string[]; logger: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (l === '') continue;
        raw.push(l);
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, raw, logger: pino({ level: 'info', base: {} }, dest) };
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Lines are written on the next turn of the event loop (the stream's write callback). */
const flushed = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('gateway logs and traces', () => {
  it('answers an Invoke with the traceparent\'s trace, hands it to the function, and logs an access line and an invocation line as JSON', async () => {
    const { lines, raw, logger } = capture();
    h = await startHarness({ log: logger });
    const acme = await h.tenant('acme');
    expect((await h.deploy(acme, 'hello', { class: 'high' })).status).toBeLessThan(300);
    h.platform.respond = () => outcome({ durationMs: 20, cpuMs: 7, coldStart: true, initMs: 30 });
    const r = await h.invoke(acme, 'hello', '{}', { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'v=1' });
    expect(r.status).toBe(200);
    const tp = r.headers.get('traceparent') ?? '';
    expect(tp).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(r.headers.get('tracestate')).toBe('v=1');
    const span = tp.split('-')[2];
    expect(r.headers.get('x-amzn-trace-id')).toBe(`Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=${span};Sampled=1`);
    // The function is given the same trace, its span the answer's.
    expect(h.platform.invoked[0]?.traceId).toBe(r.headers.get('x-amzn-trace-id'));
    await flushed();
    const requestId = r.headers.get('x-amzn-requestid');
    const inv = lines.find((l) => l.kind === 'invocation');
    expect(inv).toMatchObject({
      level: 30, msg: 'invocation', id: requestId, tenant: 'acme', function: 'hello', class: 'high', status: 'ok', type: 'sync', traceId: TRACE,
      runMs: 20, coldStart: true, initMs: 30, cpuMs: 7,
    });
    expect(typeof inv?.waitMs).toBe('number');
    expect(typeof inv?.totalMs).toBe('number');
    expect(typeof inv?.costMicroCents).toBe('number');
    expect(typeof inv?.time).toBe('number');
    const access = lines.find((l) => l.kind === 'access' && l.operation === 'Invoke');
    expect(access).toMatchObject({ level: 30, msg: 'request', method: 'POST', path: '/2015-03-31/functions/hello/invocations', status: 200, requestId, tenant: 'acme', function: 'hello', traceId: TRACE });
    expect(typeof access?.ms).toBe('number');
    // The deploy's line names the route's operation.
    expect(lines.find((l) => l.kind === 'access' && l.method === 'PUT')).toMatchObject({ operation: 'PutFunction', tenant: 'acme', status: 201 });
    // One JSON object a line, and no secret in any of them.
    expect(raw.every((l) => l.startsWith('{') && l.endsWith('}'))).toBe(true);
    expect(raw.join('\n')).not.toContain(acme.secret);
  });

  it('continues the caller\'s trace on a call made with its X-Fare-Context, and mints a new trace for a request with none', async () => {
    const { lines, logger } = capture();
    h = await startHarness({ log: logger });
    const acme = await h.tenant('acme');
    await h.deploy(acme, 'caller');
    await h.deploy(acme, 'callee');
    const harness = h;
    let inner: Response | undefined;
    // The caller, while it runs, calls the callee with its context and no trace header.
    harness.platform.respond = async (req) => {
      if (req.fn.name === 'caller') inner = await harness.invoke(acme, 'callee', '{}', { 'X-Fare-Context': req.fareContext ?? '' });
      return outcome();
    };
    const outer = await h.invoke(acme, 'caller', '{}', { 'X-Amzn-Trace-Id': `Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=${PARENT};Sampled=0` });
    expect(outer.status).toBe(200);
    expect(inner?.status).toBe(200);
    const callerTrace = parseAmznTraceId(outer.headers.get('x-amzn-trace-id') ?? '');
    const calleeTrace = parseAmznTraceId(inner?.headers.get('x-amzn-trace-id') ?? '');
    expect(callerTrace).toMatchObject({ traceId: TRACE, sampled: false });
    expect(calleeTrace?.traceId).toBe(TRACE);
    // The function is given its own span; the callee's span is new, its parent the caller's span.
    expect(h.platform.invoked[1]?.traceId).toBe(inner?.headers.get('x-amzn-trace-id'));
    expect(calleeTrace?.parentId).not.toBe(callerTrace?.parentId);

    const fresh = await h.invoke(acme, 'callee', '{}', { traceparent: 'not-a-traceparent' });
    const t = (fresh.headers.get('traceparent') ?? '').split('-');
    expect(t[1]).toMatch(/^[0-9a-f]{32}$/);
    expect(t[1]).not.toBe(TRACE);
    expect(t[3]).toBe('00');
    await flushed();
    const invs = lines.filter((l) => l.kind === 'invocation');
    expect(invs.map((l) => l.traceId)).toEqual([TRACE, TRACE, t[1]]);
    // Ended first, the callee: its parent is the caller's span, whose parent is the header's.
    expect(invs[0]).toMatchObject({ function: 'callee', spanId: calleeTrace?.parentId, parentId: callerTrace?.parentId });
    expect(invs[1]).toMatchObject({ function: 'caller', spanId: callerTrace?.parentId, parentId: PARENT });
    expect(invs[2]?.parentId).toBeUndefined();
  });

  it('keeps an Event\'s trace with it: the 202 answers it, and each attempt continues it in a span of its own', async () => {
    const { lines, logger } = capture();
    h = await startHarness({ log: logger });
    const acme = await h.tenant('acme');
    await h.deploy(acme, 'later');
    const r = await h.invoke(acme, 'later', '{}', { 'X-Amz-Invocation-Type': 'Event', traceparent: `00-${TRACE}-${PARENT}-01` });
    expect(r.status).toBe(202);
    const accepted = parseAmznTraceId(r.headers.get('x-amzn-trace-id') ?? '');
    expect(accepted).toMatchObject({ traceId: TRACE, sampled: true });
    const runner = new AsyncRunner({ store: h.store, platform: h.platform, clock: h.clock, log: logger });
    runner.wake();
    await runner.idle();
    await runner.stop();
    const ran = parseAmznTraceId(h.platform.invoked[0]?.traceId);
    expect(ran).toMatchObject({ traceId: TRACE, sampled: true });
    expect(ran?.parentId).not.toBe(accepted?.parentId);
    await flushed();
    expect(lines.find((l) => l.kind === 'invocation')).toMatchObject({ type: 'async', attempt: 1, traceId: TRACE, spanId: ran?.parentId, parentId: accepted?.parentId, status: 'ok' });
  });

  it('logs a throttled invocation at warn, and a 5xx access line at error', async () => {
    const { lines, logger } = capture();
    h = await startHarness({ log: logger });
    const acme = await h.tenant('acme');
    await h.deploy(acme, 'busy');
    h.platform.respond = () => ({ status: 'throttled', retryAfterS: 1, reason: 'ConcurrentInvocationLimitExceeded' });
    expect((await h.invoke(acme, 'busy')).status).toBe(429);
    h.platform.respond = () => Promise.reject(new Error('boom'));
    expect((await h.invoke(acme, 'busy')).status).toBe(500);
    await flushed();
    expect(lines.find((l) => l.kind === 'invocation' && l.status === 'throttled')).toMatchObject({ level: 40, function: 'busy', reason: 'ConcurrentInvocationLimitExceeded' });
    expect(lines.find((l) => l.kind === 'access' && l.status === 429)).toMatchObject({ level: 40 });
    expect(lines.find((l) => l.kind === 'access' && l.status === 500)).toMatchObject({ level: 50 });
  });
});
