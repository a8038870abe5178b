import type { MachineReceipt } from '../../core/receipt.ts';
import { describe, expect, it } from 'vitest';
import { SchedulerClient, type SchedulerClientOptions } from './scheduler-client.ts';
import { InProcessBus } from '../transport/in-process.ts';
import { VirtualClock } from '../transport/clock.ts';
import { answerCargo, outcomeCargo, requestOf } from '../cargo.ts';
import { gatewayAddress, machineAddress, shardAddress, STREAM_WINDOW_BYTES, type ArriveMsg, type BlockMsg, type Cargo, type Message, type StreamAckMsg } from '../../core/protocol.ts';
import type { FunctionSpec, InvocationAnswer, InvokeOutcome, InvokeRequest } from '../types.ts';

const SHARDS = 4;
const MACHINES = [5, 7];

const spec = (over: Partial<FunctionSpec> = {}): FunctionSpec => ({
  tenant: 'acme', name: 'resize', runtime: 'nodejs', handler: 'index.handler', cls: 'standard',
  codeDir: '/srv/fare/code/acme/resize/1', version: 1, timeoutMs: 3000, env: { MODE: 'fast' }, ...over,
});

let nextRequest = 0;
const request = (over: Partial<InvokeRequest> = {}): InvokeRequest => ({
  fn: spec(), requestId: `req-${++nextRequest}`, payload: Buffer.from('{"w":3}'), cls: 2, ...over,
});

const outcome = (over: Partial<InvokeOutcome> = {}): InvokeOutcome => ({
  status: 'ok', payload: Buffer.from([0, 1, 2, 250, 255]), durationMs: 12, cpuMs: 4, memGBs: 0.002, maxMemMB: 64,
  coldStart: true, initMs: 80, logs: 'hello\n', ...over,
});

/** Lets the bus deliver everything queued. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What a promise came to, without an unhandled rejection. */
function track<T>(p: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: { code?: string; message: string } } {
  const r: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: { code?: string; message: string } } = { state: 'pending' };
  p.then(
    (v) => {
      r.state = 'resolved';
      r.value = v;
    },
    (e: unknown) => {
      r.state = 'rejected';
      r.error = e as { code?: string; message: string };
    },
  );
  return r;
}

/**
 * A gateway's SchedulerClient on an in-process bus (JSON round trip on every message, so all of it
 * could cross a network) with a virtual clock, fake shards that record arrivals and fake machines
 * that record block/unblock.
 */
function setup(opts: Partial<SchedulerClientOptions> = {}) {
  const clock = new VirtualClock();
  const bus = new InProcessBus({ clock, serialize: true });
  const arrivals: ArriveMsg[] = [];
  const atMachine: BlockMsg[] = [];
  for (let s = 0; s < SHARDS; s++) bus.listen(shardAddress(s), (m) => arrivals.push(m as ArriveMsg));
  for (const id of MACHINES) bus.listen(machineAddress(id), (m) => atMachine.push(m as BlockMsg));
  const client = new SchedulerClient(bus, clock, { id: 3, shards: SHARDS, ...opts });
  const G = client.address;
  /** A machine tells the gateway about job `job`. */
  const tell = (kind: 'accepted' | 'started' | 'preempted' | 'unknown' | 'answered' | 'done', job: number, machine = 5, result?: Cargo): void => {
    const from = machineAddress(machine);
    const m: Message = kind === 'answered' || kind === 'done'
      ? { kind, from, to: G, job, ...(result !== undefined ? { result } : {}) }
      : { kind, from, to: G, job };
    bus.send(m);
  };
  const blocks = (): string[] => atMachine.map((m) => `${m.kind} ${m.job} @machine/${m.to.id}`);
  return { clock, bus, client, arrivals, atMachine, blocks, tell };
}

describe('SchedulerClient job ids and arrivals', () => {
  it('mints job ids gateway·2^32 + 1, 2, 3, … and sends each job’s arrive with its class, arrival time and function', async () => {
    const h = setup();
    h.clock.fireNext(250); // now = 250
    const reqs = [request({ cls: 0 }), request({ cls: 1 }), request({ cls: 3 })];
    reqs.forEach((r, i) => void track(h.client.invoke(r, 10 + i)));
    expect(h.client.inFlight).toBe(3);
    expect(h.arrivals).toEqual([]); // sent through the bus, not delivered inside invoke
    await settle();
    const base = 3 * 2 ** 43;
    expect(h.arrivals.map((a) => a.job)).toEqual([
      { id: base + 1, cls: 0, arrival: 250, fn: 10 },
      { id: base + 2, cls: 1, arrival: 250, fn: 11 },
      { id: base + 3, cls: 3, arrival: 250, fn: 12 },
    ]);
    for (const a of h.arrivals) expect(a.from).toEqual(gatewayAddress(3));
  });

  it('keeps job ids of different gateways apart (the gateway number is in the high bits)', async () => {
    const h = setup();
    const other = new SchedulerClient(h.bus, h.clock, { id: 0, shards: SHARDS });
    const last = new SchedulerClient(h.bus, h.clock, { id: 2 ** 10 - 1, shards: SHARDS });
    void track(other.invoke(request(), 1));
    void track(h.client.invoke(request(), 1));
    void track(last.invoke(request(), 1));
    await settle();
    const ids = h.arrivals.map((a) => a.job.id);
    expect(ids).toEqual([1, 3 * 2 ** 43 + 1, (2 ** 10 - 1) * 2 ** 43 + 1]);
    expect(ids.every((id) => Number.isSafeInteger(id))).toBe(true);
  });

  it('refuses a gateway number outside 0 to 2^10 - 1, and a second client at the same gateway address', () => {
    const bus = new InProcessBus();
    const clock = new VirtualClock();
    for (const id of [-1, 1.5, 2 ** 10, NaN]) expect(() => new SchedulerClient(bus, clock, { id, shards: 1 })).toThrow(RangeError);
    expect(() => new SchedulerClient(bus, clock, { id: 1, shards: 0 })).toThrow(RangeError);
    new SchedulerClient(bus, clock, { id: 1, shards: 1 });
    expect(() => new SchedulerClient(bus, clock, { id: 1, shards: 1 })).toThrow(/gateway\/1 already has a listener/);
  });

  it('round-robin: spreads jobs over the shards in turn, whatever their function', async () => {
    const h = setup({ shardChoice: 'round-robin' });
    for (let i = 0; i < 6; i++) void track(h.client.invoke(request(), 7));
    await settle();
    expect(h.arrivals.map((a) => a.to.id)).toEqual([0, 1, 2, 3, 0, 1]);
  });

  it('by-function (the default): every invocation of a function goes to shard fn mod shards, from every gateway', async () => {
    const h = setup();
    const other = new SchedulerClient(h.bus, h.clock, { id: 9, shards: SHARDS, shardChoice: 'by-function' });
    for (const fn of [5, 2, 5, 8, 3]) void track(h.client.invoke(request(), fn));
    for (const fn of [5, 2]) void track(other.invoke(request(), fn));
    await settle();
    expect(h.arrivals.map((a) => [a.job.fn, a.to.id])).toEqual([[5, 1], [2, 2], [5, 1], [8, 0], [3, 3], [5, 1], [2, 2]]);
  });

  it('carries the invocation as cargo, so requestOf rebuilds the request (payload in base64)', async () => {
    const h = setup();
    const req = request({
      payload: Buffer.from([0, 255, 10, 13, 34, 92, 200]),
      cls: 1,
      clientContext: 'eyJjdXN0b20iOnt9fQ==',
      fareContext: 'token.sig',
      waitingCaller: 'req-parent',
      onAnswer: () => {},
    });
    void track(h.client.invoke(req, 4));
    await settle();
    const a = h.arrivals[0] as ArriveMsg;
    const cargo = a.cargo as Cargo;
    expect(cargo.payload).toBe(req.payload.toString('base64'));
    expect(cargo.gateway).toBe(3);
    expect(cargo.requestId).toBe(req.requestId);
    const back = requestOf(cargo, a.job.cls);
    expect(back.gateway).toBe(3);
    expect(back.req.payload.equals(req.payload)).toBe(true);
    const { onAnswer: _onAnswer, payload: _p, ...rest } = req;
    const { payload: _q, ...restBack } = back.req;
    expect(restBack).toEqual(rest);
  });

  it('leaves optional context out of the cargo when the request has none', async () => {
    const h = setup();
    void track(h.client.invoke(request(), 0));
    await settle();
    const cargo = (h.arrivals[0] as ArriveMsg).cargo as Cargo;
    expect(Object.keys(cargo).sort()).toEqual(['fn', 'gateway', 'payload', 'requestId']);
    const back = requestOf(cargo, 2).req;
    expect('clientContext' in back || 'fareContext' in back || 'waitingCaller' in back).toBe(false);
  });

  it('logs each arrival as a decision line with the time and class', async () => {
    const lines: string[] = [];
    const h = setup({ log: (l) => lines.push(l), shardChoice: 'round-robin' });
    h.clock.fireNext(1.5);
    void track(h.client.invoke(request({ cls: 2 }), 6));
    await settle();
    expect(lines).toEqual([`t=1.5 gateway/3 → shard/0 arrive job=${3 * 2 ** 43 + 1} cls=2`]);
  });
});

describe('SchedulerClient answers and outcomes', () => {
  it('calls onAnswer with the decoded answer on `answered`, and resolves with the decoded outcome on `done`', async () => {
    const answers: InvocationAnswer[] = [];
    const h = setup();
    const p = track(h.client.invoke(request({ onAnswer: (a) => answers.push(a) }), 1));
    await settle();
    const id = (h.arrivals[0] as ArriveMsg).job.id;
    h.tell('started', id);
    const ans: InvocationAnswer = { status: 'error', payload: Buffer.from('{"errorMessage":"no"}'), functionError: 'Handled', errorType: 'Error' };
    h.tell('answered', id, 5, answerCargo(ans));
    await settle();
    expect(answers).toHaveLength(1);
    expect(Buffer.isBuffer(answers[0]?.payload)).toBe(true);
    expect(answers[0]).toEqual(ans);
    expect(p.state).toBe('pending');
    const o = outcome();
    // The machine's part of the receipt travels in `done`; the client adds what it heard itself.
    const mr: MachineReceipt = { machine: 5, cores: 2, shard: 1, placement: 'idle-list', shardWaitMs: 0.5, placedAt: 1_700_000_000_000, startedMs: 1, answeredMs: 2, doneMs: 3, waits: [{ fromMs: 0, toMs: 1, after: 'placed', ran: [{ cls: 0, coreMs: 2 }] }], preemptions: [], swaps: [], swapsLeftOut: 0, blockedMs: 0 };
    h.tell('done', id, 5, outcomeCargo(o, undefined, mr));
    await settle();
    expect(p.state).toBe('resolved');
    expect(p.value).toEqual({ ...o, schedule: { gateway: 3, shard: 1, startedMs: 0, answeredMs: 0, doneMs: 0, machine: mr } });
    expect(p.value?.payload.equals(o.payload)).toBe(true);
    expect(h.client.inFlight).toBe(0);
    // Its time to be given up as lost passes without effect.
    while (h.clock.fireNext(1_000_000));
    await settle();
    expect(p.state).toBe('resolved');
  });

  it('hands the parts of a streamed response on in order, from the machine that runs the job, and stops at a gap', async () => {
    const parts: string[] = [];
    const h = setup();
    track(h.client.invoke(request({ stream: true, onChunk: (c, type) => void parts.push(`${c.toString('utf8')}:${type}`) }), 1));
    await settle();
    const id = (h.arrivals[0] as ArriveMsg).job.id;
    expect((h.arrivals[0] as ArriveMsg).cargo).toMatchObject({ stream: true });
    const part = (seq: number, text: string, machine = 5, contentType?: string): void => {
      h.bus.send({ kind: 'stream', from: machineAddress(machine), to: h.client.address, job: id, seq, data: Buffer.from(text).toString('base64'), ...(contentType !== undefined ? { contentType } : {}) });
    };
    // Before `started` says where it runs, a part is nobody's.
    part(0, 'early', 5, 'text/plain');
    await settle();
    expect(parts).toEqual([]);
    h.tell('started', id);
    part(0, 'a', 5, 'text/plain');
    part(1, 'b');
    part(1, 'b again'); // a duplicate
    part(2, 'from elsewhere', 7);
    part(2, 'c');
    part(4, 'e'); // 3 was lost: the stream stops here
    part(5, 'f');
    await settle();
    expect(parts).toEqual(['a:text/plain', 'b:application/octet-stream', 'c:application/octet-stream']);
  });

  it('tells the machine how much of a streamed response its caller has taken: every quarter window, and when a slow reader catches up', async () => {
    let hold: (() => void) | undefined;
    let slow = false;
    const h = setup();
    track(h.client.invoke(request({
      stream: true,
      onChunk: () => (slow ? new Promise<void>((r) => (hold = r)) : undefined),
    }), 1));
    await settle();
    const id = (h.arrivals[0] as ArriveMsg).job.id;
    h.tell('started', id);
    let seq = 0;
    const part = (bytes: number): void => {
      h.bus.send({ kind: 'stream', from: machineAddress(5), to: h.client.address, job: id, seq: seq++, data: Buffer.alloc(bytes).toString('base64') });
    };
    const acks = (): number[] => h.atMachine.filter((m) => (m.kind as string) === 'stream-ack').map((m) => (m as unknown as StreamAckMsg).bytes);
    const quarter = STREAM_WINDOW_BYTES / 4;
    part(quarter - 10);
    await settle();
    expect(acks()).toEqual([]); // taken, but not yet a quarter window
    part(10);
    await settle();
    expect(acks()).toEqual([quarter]);
    slow = true;
    part(100); // its reader is slow: not taken yet
    await settle();
    expect(acks()).toEqual([quarter]);
    hold?.();
    await settle();
    expect(acks()).toEqual([quarter, quarter + 100]); // caught up: said at once
    expect(h.atMachine.filter((m) => (m.kind as string) === 'stream-ack').every((m) => m.to.id === 5 && m.job === id)).toBe(true);
  });

  it('does not call onAnswer for an `answered` without a result, nor fail without onAnswer', async () => {
    const answers: InvocationAnswer[] = [];
    const h = setup();
    void track(h.client.invoke(request({ onAnswer: (a) => answers.push(a) }), 1));
    void track(h.client.invoke(request(), 1));
    await settle();
    const [a, b] = h.arrivals.map((x) => x.job.id) as [number, number];
    h.tell('answered', a);
    h.tell('answered', b, 5, answerCargo({ status: 'ok', payload: Buffer.from('x') }));
    await settle();
    expect(answers).toEqual([]);
  });

  it('rejects with the worker’s code and message when `done` carries an error', async () => {
    const h = setup();
    const p = track(h.client.invoke(request(), 1));
    const q = track(h.client.invoke(request(), 1));
    await settle();
    const [a, b] = h.arrivals.map((x) => x.job.id) as [number, number];
    h.tell('done', a, 5, outcomeCargo(undefined, Object.assign(new Error('no room for an instance'), { code: 'FARE_E_POOL_FULL' })));
    h.tell('done', b, 7);
    await settle();
    expect(p.state).toBe('rejected');
    expect(p.error).toMatchObject({ code: 'FARE_E_POOL_FULL', message: 'no room for an instance' });
    expect(q.state).toBe('rejected');
    expect(q.error).toMatchObject({ code: 'FARE_E_WORKER', message: 'the worker gave no outcome' });
    expect(h.client.inFlight).toBe(0);
  });

  it('ignores late and duplicate messages after `done`, and messages about jobs it never sent', async () => {
    const answers: InvocationAnswer[] = [];
    const h = setup();
    const p = track(h.client.invoke(request({ onAnswer: (a) => answers.push(a) }), 1));
    await settle();
    const id = (h.arrivals[0] as ArriveMsg).job.id;
    const first = outcome({ logs: 'first\n' });
    h.tell('done', id, 5, outcomeCargo(first));
    h.tell('done', id, 5, outcomeCargo(outcome({ logs: 'second\n' })));
    h.tell('done', id, 5, outcomeCargo(undefined, Object.assign(new Error('late'), { code: 'FARE_E_X' })));
    h.tell('answered', id, 5, answerCargo({ status: 'ok', payload: Buffer.from('late') }));
    h.tell('started', id, 7);
    h.tell('preempted', id, 7);
    h.tell('done', id + 1000, 5, outcomeCargo(outcome()));
    h.tell('started', 12345, 5);
    await settle();
    expect(p.state).toBe('resolved');
    expect(p.value?.logs).toBe('first\n');
    expect(answers).toEqual([]);
    expect(h.atMachine).toEqual([]);
  });

  it('resolves each of several concurrent jobs with its own outcome, whatever order they finish in', async () => {
    const h = setup({ shardChoice: 'round-robin' });
    const ps = [0, 1, 2].map(() => track(h.client.invoke(request(), 1)));
    await settle();
    const ids = h.arrivals.map((a) => a.job.id);
    for (const k of [2, 0, 1]) h.tell('done', ids[k] as number, 5, outcomeCargo(outcome({ logs: `job ${k}` })));
    await settle();
    expect(ps.map((p) => p.value?.logs)).toEqual(['job 0', 'job 1', 'job 2']);
  });
});

describe('SchedulerClient block and unblock for waiting callers', () => {
  async function started(h: ReturnType<typeof setup>, machine = 5): Promise<{ id: number; req: InvokeRequest }> {
    const req = request();
    void track(h.client.invoke(req, 1));
    await settle();
    const id = (h.arrivals.at(-1) as ArriveMsg).job.id;
    if (machine >= 0) {
      h.tell('started', id, machine);
      await settle();
    }
    return { id, req };
  }

  it('blocks the caller at once on the machine that started it, and unblocks it when the call ends', async () => {
    const h = setup();
    const { id, req } = await started(h, 7);
    const end = h.client.callStarted(req.requestId);
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/7`]);
    expect(h.atMachine[0]?.from).toEqual(gatewayAddress(3));
    end();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/7`, `unblock ${id} @machine/7`]);
  });

  it("a call taken by another gateway of the cluster is told to the caller's gateway, which blocks the caller until every call, its own and the other's, has ended", async () => {
    const h = setup();
    const other = new SchedulerClient(h.bus, h.clock, { id: 4, shards: SHARDS });
    const { id, req } = await started(h, 7);
    const endThere = other.callStarted(req.requestId, 3);
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/7`]);
    expect(h.atMachine[0]?.from).toEqual(gatewayAddress(3));
    const endHere = h.client.callStarted(req.requestId);
    const endThere2 = other.callStarted(req.requestId, 3);
    endThere();
    endThere(); // once
    endHere();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/7`]);
    endThere2();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/7`, `unblock ${id} @machine/7`]);
    // A call-end that overtakes its call: the call is never begun.
    h.bus.send({ kind: 'call-end', from: gatewayAddress(4), to: gatewayAddress(3), caller: req.requestId, call: 99 });
    h.bus.send({ kind: 'call', from: gatewayAddress(4), to: gatewayAddress(3), caller: req.requestId, call: 99 });
    await settle();
    expect(h.blocks()).toHaveLength(2);
    other.close();
  });

  it('blocks a caller not yet known to run once `started` arrives, on that machine', async () => {
    const h = setup();
    const { id, req } = await started(h, -1);
    const end = h.client.callStarted(req.requestId);
    await settle();
    expect(h.atMachine).toEqual([]);
    h.tell('started', id, 5);
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/5`]);
    end();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/5`, `unblock ${id} @machine/5`]);
  });

  it('sends nothing for a call that ended before its caller was known to run, nor when it starts', async () => {
    const h = setup();
    const { id, req } = await started(h, -1);
    h.client.callStarted(req.requestId)();
    h.tell('started', id, 5);
    await settle();
    expect(h.atMachine).toEqual([]);
  });

  it('blocks once for concurrent calls and unblocks when the last one ends; ending one twice counts once', async () => {
    const h = setup();
    const { id, req } = await started(h, 5);
    const end1 = h.client.callStarted(req.requestId);
    const end2 = h.client.callStarted(req.requestId);
    const end3 = h.client.callStarted(req.requestId);
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/5`]);
    end1();
    end1();
    end1();
    end2();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/5`]);
    end3();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/5`, `unblock ${id} @machine/5`]);
    // A new call after that blocks again.
    const end4 = h.client.callStarted(req.requestId);
    end4();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/5`, `unblock ${id} @machine/5`, `block ${id} @machine/5`, `unblock ${id} @machine/5`]);
  });

  it('sends nothing for a caller it does not know (another gateway’s request, or one already done)', async () => {
    const h = setup();
    const end = h.client.callStarted('req-never-seen');
    end();
    const { id, req } = await started(h, 5);
    h.tell('done', id, 5, outcomeCargo(outcome()));
    await settle();
    h.client.callStarted(req.requestId)();
    await settle();
    expect(h.atMachine).toEqual([]);
  });

  it('does not unblock a caller that ended (done) while its call was in flight', async () => {
    const h = setup();
    const { id, req } = await started(h, 5);
    const end = h.client.callStarted(req.requestId);
    h.tell('done', id, 5, outcomeCargo(outcome()));
    await settle();
    end();
    await settle();
    expect(h.blocks()).toEqual([`block ${id} @machine/5`]);
  });

  it('blocks only the caller, not the other jobs in flight', async () => {
    const h = setup();
    const a = await started(h, 5);
    const b = await started(h, 7);
    const end = h.client.callStarted(b.req.requestId);
    end();
    await settle();
    expect(h.blocks()).toEqual([`block ${b.id} @machine/7`, `unblock ${b.id} @machine/7`]);
    expect(a.id).not.toBe(b.id);
  });
});

describe('SchedulerClient lost jobs and closing', () => {
  it('rejects a job never heard of with FARE_E_LOST after its timeout plus grace on the virtual clock', async () => {
    const h = setup({ graceMs: 1000 });
    h.clock.fireNext(100);
    const req = request({ fn: spec({ timeoutMs: 3000 }) });
    const p = track(h.client.invoke(req, 1));
    await settle();
    expect(h.clock.nextTimer()).toBe(100 + 3000 + 1000);
    expect(h.clock.fireNext(4099)).toBe(false);
    await settle();
    expect(p.state).toBe('pending');
    expect(h.clock.fireNext(4100)).toBe(true);
    await settle();
    expect(p.state).toBe('rejected');
    expect(p.error?.code).toBe('FARE_E_LOST');
    expect(p.error?.message).toContain(req.requestId);
    expect(p.error?.message).toContain(String(3 * 2 ** 43 + 1));
    expect(p.error?.message).toContain('4000 ms');
    expect(h.client.inFlight).toBe(0);
    // Its `done`, arriving after all, is ignored; so is a call it makes.
    const id = (h.arrivals[0] as ArriveMsg).job.id;
    h.tell('done', id, 5, outcomeCargo(outcome()));
    h.client.callStarted(req.requestId)();
    await settle();
    expect(p.state).toBe('rejected');
    expect(h.atMachine).toEqual([]);
  });

  it('gives up after timeout + 60 s by default, even if the job started and answered', async () => {
    const h = setup();
    const answers: InvocationAnswer[] = [];
    const p = track(h.client.invoke(request({ fn: spec({ timeoutMs: 500 }), onAnswer: (a) => answers.push(a) }), 1));
    await settle();
    const id = (h.arrivals[0] as ArriveMsg).job.id;
    h.tell('started', id);
    h.tell('answered', id, 5, answerCargo({ status: 'ok', payload: Buffer.from('y') }));
    await settle();
    expect(answers).toHaveLength(1);
    expect(h.clock.nextTimer()).toBe(60_500);
    h.clock.fireNext(60_499);
    await settle();
    expect(p.state).toBe('pending');
    h.clock.fireNext(60_500);
    await settle();
    expect(p.error?.code).toBe('FARE_E_LOST');
  });

  it('gives up each job at its own time, whatever order their deadlines come in', async () => {
    const h = setup({ graceMs: 100 });
    const invoke = (timeoutMs: number): ReturnType<typeof track<InvokeOutcome>> => track(h.client.invoke(request({ fn: spec({ timeoutMs }) }), 1));
    const jobs = new Map<string, ReturnType<typeof track<InvokeOutcome>>>();
    jobs.set('slow', invoke(5000)); // lost at 5100
    jobs.set('fast', invoke(1000)); // lost at 1100: sent later, given up first
    h.clock.fireNext(50);
    jobs.set('mid', invoke(2000)); // lost at 2150
    jobs.set('done', invoke(500)); // lost at 650, but done in time
    await settle();
    h.tell('done', (h.arrivals[3] as ArriveMsg).job.id, 5, outcomeCargo(outcome()));
    await settle();
    const lost: [string, number][] = [];
    const seen = new Set<string>();
    while (h.clock.fireNext(10_000)) {
      await settle();
      for (const [name, p] of jobs) {
        if (p.state === 'rejected' && !seen.has(name)) {
          seen.add(name);
          lost.push([name, h.clock.now()]);
        }
      }
    }
    expect(lost).toEqual([['fast', 1100], ['mid', 2150], ['slow', 5100]]);
    expect(jobs.get('done')?.state).toBe('resolved');
    for (const name of ['fast', 'mid', 'slow']) expect(jobs.get(name)?.error?.code).toBe('FARE_E_LOST');
    expect(h.client.inFlight).toBe(0);
  });

  it('gives up a job sent after an earlier one was given up (the lost-job watch starts again)', async () => {
    const h = setup({ graceMs: 0 });
    const a = track(h.client.invoke(request({ fn: spec({ timeoutMs: 10 }) }), 1));
    h.clock.fireNext(10);
    await settle();
    expect(a.error?.code).toBe('FARE_E_LOST');
    expect(h.clock.fireNext(500)).toBe(false);
    const b = track(h.client.invoke(request({ fn: spec({ timeoutMs: 10 }) }), 1));
    while (h.clock.fireNext(600));
    await settle();
    expect(b.state).toBe('rejected');
    expect(b.error?.code).toBe('FARE_E_LOST');
    expect(h.clock.now()).toBe(600);
  });

  it('does not give up a job whose `done` came in time', async () => {
    const h = setup({ graceMs: 10 });
    const p = track(h.client.invoke(request({ fn: spec({ timeoutMs: 100 }) }), 1));
    await settle();
    h.tell('done', (h.arrivals[0] as ArriveMsg).job.id, 5, outcomeCargo(outcome()));
    await settle();
    while (h.clock.fireNext(1_000_000));
    await settle();
    expect(p.state).toBe('resolved');
    expect(p.value?.logs).toBe('hello\n');
  });

  it('close() rejects every pending job with FARE_E_CLOSED, cancels their timers and stops listening', async () => {
    const h = setup();
    const ps = [0, 1, 2].map(() => track(h.client.invoke(request(), 1)));
    await settle();
    const ids = h.arrivals.map((a) => a.job.id);
    h.tell('done', ids[1] as number, 5, outcomeCargo(outcome()));
    await settle();
    h.client.close();
    await settle();
    expect(ps.map((p) => p.state)).toEqual(['rejected', 'resolved', 'rejected']);
    expect(ps[0]?.error?.code).toBe('FARE_E_CLOSED');
    expect(ps[2]?.error?.code).toBe('FARE_E_CLOSED');
    expect(h.client.inFlight).toBe(0);
    expect(h.clock.nextTimer()).toBe(Infinity);
    // Its address is free again: nothing listens there now.
    expect(() => h.bus.listen(gatewayAddress(3), () => {})).not.toThrow();
  });

  it('refuses an invocation after close, at once, with FARE_E_CLOSED (it would otherwise wait for ever)', async () => {
    const h = setup();
    h.client.close();
    await expect(h.client.invoke(request(), 0)).rejects.toMatchObject({ code: 'FARE_E_CLOSED' });
  });
});

describe('SchedulerClient and the cluster’s membership', () => {
  it('a job sent to a shard that is gone, not yet started, is sent again to a live shard with the same id; a started one stays', async () => {
    const h = setup();
    h.client.shardsAre([0, 1, 2, 3]);
    const a = track(h.client.invoke(request(), 11));
    const b = track(h.client.invoke(request(), 12));
    await settle();
    const [ja, jb] = h.arrivals.map((m) => m.job.id);
    const shardOf = new Map(h.arrivals.map((m) => [m.job.id, m.to.id]));
    // Job b starts on machine 5; then the shard of job a goes (and, if the same, b's too).
    h.tell('started', jb as number);
    await settle();
    const gone = shardOf.get(ja as number) as number;
    const live = [0, 1, 2, 3].filter((s) => s !== gone);
    h.arrivals.length = 0;
    h.client.shardsAre(live);
    await settle();
    expect(h.arrivals.map((m) => m.job.id)).toEqual([ja]);
    expect(live).toContain(h.arrivals[0]?.to.id);
    // Every gateway picks the same live shard for the same function.
    const again = setup();
    again.client.shardsAre(live);
    void track(again.client.invoke(request(), 11));
    await settle();
    expect(again.arrivals[0]?.to.id).toBe(h.arrivals[0]?.to.id);
    expect([a.state, b.state]).toEqual(['pending', 'pending']);
  });

  it('no live shard: the invocation fails at once with a clear error', async () => {
    const h = setup();
    h.client.shardsAre([]);
    const r = track(h.client.invoke(request(), 1));
    await settle();
    expect(r.state).toBe('rejected');
    expect(r.error?.code).toBe('FARE_E_NO_SHARD');
    expect(h.arrivals).toEqual([]);
  });

  it('a lost worker fails the jobs it had started at once (FARE_E_WORKER_LOST); jobs elsewhere go on', async () => {
    const h = setup();
    const on5 = track(h.client.invoke(request(), 1));
    const on7 = track(h.client.invoke(request(), 2));
    const waiting = track(h.client.invoke(request(), 3));
    await settle();
    const [j5, j7] = h.arrivals.map((m) => m.job.id);
    h.tell('started', j5 as number, 5);
    h.tell('started', j7 as number, 7);
    await settle();
    h.client.machineLost(5, 'was not heard for 3000 ms');
    await settle();
    expect(on5.state).toBe('rejected');
    expect(on5.error?.code).toBe('FARE_E_WORKER_LOST');
    expect(on5.error?.message).toMatch(/worker 5, which was not heard for 3000 ms/);
    expect([on7.state, waiting.state]).toEqual(['pending', 'pending']);
    expect(h.client.inFlight).toBe(2);
    // A late `done` from the lost worker changes nothing.
    h.tell('done', j5 as number, 5, outcomeCargo(outcome()));
    await settle();
    expect(on5.state).toBe('rejected');
  });
});

describe('SchedulerClient: jobs a worker accepted but has not started', () => {
  it('a lost worker fails the jobs waiting in its run queue too; a job accepted somewhere is not sent again when its shard goes', async () => {
    const h = setup();
    h.client.shardsAre([0, 1, 2, 3]);
    const waiting = track(h.client.invoke(request(), 1));
    await settle();
    const [j] = h.arrivals.map((m) => m.job.id);
    h.tell('accepted', j as number, 7);
    await settle();
    h.arrivals.length = 0;
    h.client.shardsAre([]);
    h.client.shardsAre([9]);
    await settle();
    expect(h.arrivals).toEqual([]);
    h.client.machineLost(7, 'restarted');
    await settle();
    expect(waiting.state).toBe('rejected');
    expect(waiting.error?.code).toBe('FARE_E_WORKER_LOST');
    expect(waiting.error?.message).toMatch(/was waiting for a core on worker 7, which restarted; it had not started/);
  });
});

describe('SchedulerClient audits (auditMs: a carrier that may lose messages)', () => {
  it('a job nobody has said they hold is sent again with its id; one a worker holds is asked about; unknown there, it fails clearly', async () => {
    const h = setup({ auditMs: 1000 });
    const r = track(h.client.invoke(request(), 4));
    await settle();
    const [first] = h.arrivals;
    h.arrivals.length = 0;
    expect(h.clock.fireNext(999)).toBe(false);
    expect(h.clock.fireNext(1000)).toBe(true);
    await settle();
    expect(h.arrivals.map((m) => [m.job.id, m.to.id])).toEqual([[first?.job.id, first?.to.id]]);
    // The worker says it has it: from then on it is asked, not sent again.
    h.tell('accepted', first?.job.id as number, 7);
    await settle();
    h.arrivals.length = 0;
    h.clock.fireNext(3000);
    h.clock.fireNext(3000);
    await settle();
    expect(h.arrivals).toEqual([]);
    expect(h.atMachine.map((m) => `${m.kind} ${m.job} @${m.to.id}`)).toContain(`ask ${first?.job.id} @7`);
    expect(r.state).toBe('pending');
    // It has no trace of it: the invocation fails with a clear error.
    h.tell('unknown', first?.job.id as number, 7);
    await settle();
    expect(r.state).toBe('rejected');
    expect(r.error?.code).toBe('FARE_E_LOST');
    expect(r.error?.message).toMatch(/worker 7, which has no trace of it/);
  });

  it('a job heard of recently is left alone', async () => {
    const h = setup({ auditMs: 1000 });
    void track(h.client.invoke(request(), 4));
    await settle();
    const id = h.arrivals[0]?.job.id as number;
    h.tell('started', id, 5);
    h.clock.fireNext(900);
    await settle();
    h.tell('preempted', id, 5);
    await settle();
    h.clock.fireNext(1000); // the audit: heard 100 ms ago
    await settle();
    expect(h.atMachine.filter((m) => (m.kind as string) === 'ask')).toEqual([]);
  });
});

describe('SchedulerClient: functions with a concurrency limit', () => {
  const CAP = { key: 'acme/resize', limit: 2 };

  it('sends the limit with the arrival (again when it sends the job again); a refusal fails the call with FARE_E_CONCURRENCY_LIMIT', async () => {
    const h = setup();
    const p = track(h.client.invoke(request(), 1, CAP));
    const plain = track(h.client.invoke(request(), 1));
    await settle();
    expect(h.arrivals.map((m) => m.cap)).toEqual([CAP, undefined]);
    const id = (h.arrivals[0] as ArriveMsg).job.id;
    h.bus.send({ kind: 'refused', from: shardAddress(1), to: h.client.address, job: id, limit: 2 });
    await settle();
    expect(p.state).toBe('rejected');
    expect(p.error).toMatchObject({ code: 'FARE_E_CONCURRENCY_LIMIT', limit: 2, message: 'function acme/resize is at its concurrency limit (2 at once): the call was not run' });
    expect(plain.state).toBe('pending');
    expect(h.client.inFlight).toBe(1);
    // Its shard gone, a job not started is sent again with its limit.
    const q = track(h.client.invoke(request(), 1, CAP));
    await settle();
    h.client.shardsAre([0, 2, 3]);
    await settle();
    expect(h.arrivals.at(-1)?.cap).toEqual(CAP);
    expect(q.state).toBe('pending');
  });

  it('a job given up without its end (worker lost, not heard of in time) is released at its shard, and so is one that ended (its worker\'s left may be lost)', async () => {
    const h = setup({ graceMs: 1000 });
    const lostWorker = track(h.client.invoke(request(), 1, CAP));
    const ended = track(h.client.invoke(request(), 1, CAP));
    const silent = track(h.client.invoke(request(), 1, CAP));
    const unlimited = track(h.client.invoke(request(), 1));
    await settle();
    const [a, b, c, d] = h.arrivals.map((m) => m.job.id) as [number, number, number, number];
    h.tell('started', a, 5);
    h.tell('started', b, 7);
    h.tell('started', d, 5);
    h.tell('done', b, 7, outcomeCargo(outcome()));
    await settle();
    h.client.machineLost(5, 'restarted');
    await settle();
    h.clock.fireNext(3000 + 1000);
    await settle();
    expect([lostWorker.state, ended.state, silent.state, unlimited.state]).toEqual(['rejected', 'resolved', 'rejected', 'rejected']);
    const released = (h.arrivals as unknown as Message[]).filter((m) => m.kind === 'release');
    expect(released).toEqual([
      { kind: 'release', from: h.client.address, to: shardAddress(1), job: b },
      { kind: 'release', from: h.client.address, to: shardAddress(1), job: a },
      { kind: 'release', from: h.client.address, to: shardAddress(1), job: c },
    ]);
  });
});
