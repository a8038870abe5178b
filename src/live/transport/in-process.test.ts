import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InProcessBus, type InProcessBusOptions } from './in-process.ts';
import { VirtualClock } from './clock.ts';
import { gatewayAddress, machineAddress, shardAddress, type ArriveMsg, type Message, type PlaceMsg, type PollMsg } from '../../core/protocol.ts';
import type { Mutable } from '../../core/types.ts';

const G = gatewayAddress(0);
const S = shardAddress(0);
const M = machineAddress(1);

const poll = (n: number, to = M): PollMsg => ({ kind: 'poll', from: S, to, poll: n, job: n });
const answer = (n: number, to = S): Message => ({ kind: 'poll-answer', from: M, to, poll: n, jobs: 100 + n });
const place = (id: number): PlaceMsg => ({ kind: 'place', from: S, to: M, job: { id, cls: 1, arrival: 0, fn: 0 }, via: 'idle-list', waited: 0 });
const label = (m: Message): string => `${m.kind}:${'poll' in m ? m.poll : 'job' in m ? (typeof m.job === 'number' ? m.job : m.job.id) : ''}`;

/** Lets every queued microtask (and the bus's flushes) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A bus with recording listeners at the shard, machine 1 and the gateway. */
function recorded(opts: InProcessBusOptions = {}): { bus: InProcessBus; got: Message[] } {
  const bus = new InProcessBus({ clock: new VirtualClock(), ...opts });
  const got: Message[] = [];
  for (const a of [S, M, G]) bus.listen(a, (m) => got.push(m));
  return { bus, got };
}

describe('InProcessBus delivery', () => {
  it('delivers nothing inside send, and delivers from a microtask', async () => {
    const { bus, got } = recorded();
    bus.send(poll(1));
    bus.send(poll(2));
    expect(got).toEqual([]);
    expect(bus.pending).toBe(2);
    await Promise.resolve();
    expect(got.map(label)).toEqual(['poll:1', 'poll:2']);
    expect(bus.pending).toBe(0);
  });

  it('delivers with the real clock by default, after setImmediate', async () => {
    const bus = new InProcessBus();
    const got: Message[] = [];
    bus.listen(M, (m) => got.push(m));
    bus.send(poll(1));
    expect(got).toEqual([]);
    await settle();
    expect(got.map(label)).toEqual(['poll:1']);
  });

  it('delivers in send order, messages sent by handlers during delivery after those already queued', async () => {
    const bus = new InProcessBus({ clock: new VirtualClock() });
    const order: string[] = [];
    bus.listen(M, (m) => {
      order.push(`M${(m as PollMsg).poll}`);
      bus.send(answer((m as PollMsg).poll));
      expect(order.at(-1)).toBe(`M${(m as PollMsg).poll}`); // not delivered inside the handler's send
    });
    bus.listen(S, (m) => order.push(`S${(m as PollMsg).poll}`));
    bus.send(poll(1));
    bus.send(poll(2));
    bus.send(poll(3));
    await Promise.resolve();
    // All of it in the one microtask.
    expect(order).toEqual(['M1', 'M2', 'M3', 'S1', 'S2', 'S3']);
  });

  it('keeps FIFO order for any interleaving of sends, handler sends and awaits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean(), fc.boolean()), { maxLength: 30 }), async (script) => {
        const bus = new InProcessBus({ clock: new VirtualClock() });
        const sentOrder: string[] = [];
        const got: string[] = [];
        let next = 0;
        // Machine 1 forwards every third poll to the shard as an answer (sent during delivery).
        bus.listen(M, (m) => {
          got.push(label(m));
          const p = m as PollMsg;
          if (p.poll % 3 === 0) {
            sentOrder.push(`poll-answer:${p.poll}`);
            bus.send(answer(p.poll));
          }
        });
        bus.listen(S, (m) => got.push(label(m)));
        const expected: string[] = [];
        for (const [n, awaitAfter, flushNow] of script) {
          for (let k = 0; k < n; k++) {
            const i = next++;
            sentOrder.push(`poll:${i}`);
            bus.send(poll(i));
          }
          if (flushNow) bus.flush();
          if (awaitAfter) await Promise.resolve();
        }
        await settle();
        // The order delivered is the order sent, counting handler sends when they happen.
        expected.push(...sentOrder);
        expect(got).toEqual(expected);
        expect(bus.pending).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a second listener at one address, naming it; the undo frees it', () => {
    const bus = new InProcessBus();
    const undo = bus.listen(shardAddress(5), () => {});
    expect(() => bus.listen(shardAddress(5), () => {})).toThrow(/shard\/5 already has a listener/);
    undo();
    expect(() => bus.listen(shardAddress(5), () => {})).not.toThrow();
    // The old undo does not remove the new listener.
    undo();
    expect(() => bus.listen(shardAddress(5), () => {})).toThrow(/already has a listener/);
  });
});

describe('InProcessBus copies', () => {
  it('copies a message on send: the sender may mutate or reuse it afterwards', async () => {
    const { bus, got } = recorded();
    const m = place(7) as Mutable<PlaceMsg>;
    bus.send(m);
    m.waited = 99;
    (m.job as Mutable<PlaceMsg['job']>).cls = 3;
    m.job = { id: 8, cls: 0, arrival: 1, fn: 1 };
    bus.send(m); // the same object, reused for a second message
    await settle();
    expect(got).toHaveLength(2);
    expect(got[0]).not.toBe(m);
    expect(got[0]).toMatchObject({ kind: 'place', waited: 0, job: { id: 7, cls: 1 } });
    expect(got[1]).toMatchObject({ kind: 'place', waited: 99, job: { id: 8, cls: 0 } });
  });

  it('gives each receiver its own object, not the sender’s', async () => {
    const { bus, got } = recorded();
    const m = poll(1);
    bus.send(m);
    bus.send(m);
    await settle();
    expect(got[0]).not.toBe(m);
    expect(got[1]).not.toBe(m);
    expect(got[0]).not.toBe(got[1]);
    expect(got[0]).toEqual(m);
  });
});

describe('InProcessBus and cargo', () => {
  it('copies the message but passes its cargo along as immutable data; sendOwned copies nothing', async () => {
    const { bus, got } = recorded();
    const cargo = { fn: { env: { A: '1' } } };
    const sent = { ...place(1), cargo };
    bus.send(sent);
    const owned = { ...place(2), cargo };
    bus.sendOwned(owned);
    sent.waited = 99;
    await settle();
    expect((got[0] as PlaceMsg).waited).toBe(0);
    expect((got[0] as PlaceMsg).cargo).toBe(cargo);
    expect(got[1]).toBe(owned);
  });
});

describe('InProcessBus with serialize', () => {
  const arrive = (cargo: Record<string, unknown>): ArriveMsg => ({ kind: 'arrive', from: G, to: S, job: { id: 1, cls: 2, arrival: 3, fn: 4 }, cargo });

  it('makes a JSON round trip: cargo is copied deeply and addresses are interned again', async () => {
    const { bus, got } = recorded({ serialize: true });
    const cargo = { fn: { name: 'f', env: { A: '1' } }, payload: 'aGk=' };
    const m = arrive(cargo);
    bus.send(m);
    cargo.fn.env.A = 'changed';
    await settle();
    expect(got).toHaveLength(1);
    const d = got[0] as ArriveMsg;
    expect(d).toEqual({ ...m, cargo: { fn: { name: 'f', env: { A: '1' } }, payload: 'aGk=' } });
    expect(d.cargo).not.toBe(cargo);
    expect(d.to).toBe(shardAddress(0));
    expect(d.from).toBe(gatewayAddress(0));
  });

  it('turns a Buffer in cargo into its JSON form (so non-JSON cargo shows up), and drops undefined fields', async () => {
    const { bus, got } = recorded({ serialize: true });
    bus.send(arrive({ payload: Buffer.from([1, 2, 3]), gone: undefined, when: new Date(0) }));
    await settle();
    const c = (got[0] as ArriveMsg).cargo as Record<string, unknown>;
    expect(Buffer.isBuffer(c.payload)).toBe(false);
    expect(c.payload).toEqual({ type: 'Buffer', data: [1, 2, 3] });
    expect('gone' in c).toBe(false);
    expect(c.when).toBe('1970-01-01T00:00:00.000Z');
  });

  it('throws from send, naming the message, for a message that does not survive JSON, and delivers nothing', async () => {
    const { bus, got } = recorded({ serialize: true });
    // A poll-answer whose count is NaN: JSON makes it null.
    expect(() => bus.send({ kind: 'poll-answer', from: M, to: S, poll: 1, jobs: NaN })).toThrow('bus: a poll-answer does not survive JSON: poll-answer: jobs must be a number');
    // Infinity too.
    expect(() => bus.send({ kind: 'idle-join', from: M, to: S, freeMB: Infinity, jobs: 0 })).toThrow(/a idle-join does not survive JSON: idle-join: freeMB must be a number/);
    // A message going the wrong way.
    expect(() => bus.send({ kind: 'poll', from: G, to: M, poll: 1, job: 1 } as unknown as Message)).toThrow(/a poll does not survive JSON: poll goes from shard to machine, not from gateway/);
    // A job without its numbers.
    expect(() => bus.send({ kind: 'place', from: S, to: M, job: { id: 1 }, via: 'idle-list', waited: 0 } as unknown as Message)).toThrow(/a place does not survive JSON: place: job needs numbers/);
    // Cargo JSON cannot hold at all.
    expect(() => bus.send(arrive({ big: 1n }))).toThrow();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => bus.send(arrive(cyclic))).toThrow();
    await settle();
    expect(got).toEqual([]);
    expect(bus.pending).toBe(0);
  });
});

describe('InProcessBus faults', () => {
  it('drop loses the messages it picks, and only those, seeing each message once', async () => {
    const seen: string[] = [];
    const { bus, got } = recorded({ drop: (m) => (seen.push(label(m)), m.kind === 'poll' && m.poll % 2 === 1) });
    for (let i = 0; i < 6; i++) bus.send(poll(i));
    expect(bus.pending).toBe(3);
    await settle();
    expect(got.map(label)).toEqual(['poll:0', 'poll:2', 'poll:4']);
    expect(seen).toEqual(['poll:0', 'poll:1', 'poll:2', 'poll:3', 'poll:4', 'poll:5']);
  });

  it('a handler that throws loses only its own message: the earlier and later ones are delivered', async () => {
    const bus = new InProcessBus({ clock: new VirtualClock() });
    const got: string[] = [];
    bus.listen(M, (m) => {
      if ((m as PollMsg).poll === 2) throw new Error('handler failed on 2');
      got.push(label(m));
      if ((m as PollMsg).poll === 1) bus.send(answer(1)); // sent during the flush that fails
    });
    bus.listen(S, (m) => got.push(label(m)));
    for (let i = 1; i <= 4; i++) bus.send(poll(i));
    // Deliver now, synchronously, to see the handler's error (from the microtask it would be uncaught).
    expect(() => bus.flush()).toThrow('handler failed on 2');
    expect(got).toEqual(['poll:1']);
    expect(bus.pending).toBe(3);
    await settle();
    expect(got).toEqual(['poll:1', 'poll:3', 'poll:4', 'poll-answer:1']);
    expect(bus.pending).toBe(0);
    // The bus still works afterwards.
    bus.send(poll(5));
    await settle();
    expect(got.at(-1)).toBe('poll:5');
  });

  it('gives a message for an address nobody listens at to `undeliverable`, and goes on', async () => {
    const lost: Message[] = [];
    const { bus, got } = recorded({ undeliverable: (m) => lost.push(m) });
    bus.send(poll(1, machineAddress(9)));
    bus.send(poll(2));
    await settle();
    expect(lost.map(label)).toEqual(['poll:1']);
    expect(lost[0]?.to).toEqual(machineAddress(9));
    expect(got.map(label)).toEqual(['poll:2']);
  });

  it('without `undeliverable`, throws from the delivery an error naming the address and the message', async () => {
    const { bus, got } = recorded();
    bus.send(poll(1, machineAddress(9)));
    bus.send(poll(2));
    expect(() => bus.flush()).toThrow('bus: nobody listens at machine/9 (a poll from shard/0)');
    await settle();
    expect(got.map(label)).toEqual(['poll:2']);
  });
});

describe('InProcessBus request', () => {
  /** Machine 1 answers every poll (unless told not to); the shard's listener records what it gets. */
  function answering(opts: InProcessBusOptions & { silent?: boolean } = {}): { bus: InProcessBus; clock: VirtualClock; toListener: Message[] } {
    const clock = new VirtualClock();
    const bus = new InProcessBus({ clock, ...opts });
    const toListener: Message[] = [];
    bus.listen(M, (m) => {
      if (opts.silent !== true) bus.send(answer((m as PollMsg).poll, m.from as typeof S));
    });
    bus.listen(S, (m) => toListener.push(m));
    return { bus, clock, toListener };
  }

  it('answers with the reply when it comes before the deadline, cancels the deadline, and keeps the reply from the listener', async () => {
    const { bus, clock, toListener } = answering();
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), 100, (r) => r.kind === 'poll-answer' && r.poll === 1, (r) => answers.push(r));
    expect(answers).toEqual([]);
    expect(clock.nextTimer()).toBe(100);
    await settle();
    expect(answers).toEqual([answer(1)]);
    expect(toListener).toEqual([]);
    expect(clock.nextTimer()).toBe(Infinity);
    expect(clock.fireNext(1000)).toBe(false);
    expect(answers).toHaveLength(1);
  });

  it('answers undefined once when the virtual clock passes the deadline first; a late reply goes to the listener', async () => {
    const { bus, clock, toListener } = answering({ silent: true });
    clock.fireNext(10); // now = 10
    const answers: [Message | undefined, number][] = [];
    bus.request(poll(1), 50, () => true, (r) => answers.push([r, clock.now()]));
    await settle();
    expect(answers).toEqual([]);
    expect(clock.fireNext(59)).toBe(false);
    expect(answers).toEqual([]);
    expect(clock.fireNext(60)).toBe(true);
    expect(answers).toEqual([[undefined, 60]]);
    bus.send(answer(1));
    await settle();
    expect(answers).toHaveLength(1);
    expect(toListener.map(label)).toEqual(['poll-answer:1']);
  });

  it('answers undefined at the deadline when the request is dropped', async () => {
    const { bus, clock } = answering({ drop: (m) => m.kind === 'poll' });
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), 5, () => true, (r) => answers.push(r));
    await settle();
    expect(answers).toEqual([]);
    clock.fireNext(5);
    expect(answers).toEqual([undefined]);
  });

  it('gives non-matching replies to the listener and keeps waiting', async () => {
    const { bus, clock, toListener } = answering();
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), 100, (r) => r.kind === 'poll-answer' && r.poll === 2, (r) => answers.push(r));
    await settle();
    expect(toListener.map(label)).toEqual(['poll-answer:1']);
    expect(answers).toEqual([]);
    bus.send(poll(2));
    await settle();
    expect(answers.map((r) => (r === undefined ? 'none' : label(r)))).toEqual(['poll-answer:2']);
    expect(clock.nextTimer()).toBe(Infinity);
  });

  it('answers two requests from one address each with its own reply', async () => {
    const { bus, toListener } = answering({ serialize: true });
    const answers: string[] = [];
    for (const n of [1, 2]) bus.request(poll(n), 100, (r) => r.kind === 'poll-answer' && r.poll === n, (r) => answers.push(`${n}<-${r === undefined ? 'none' : label(r)}`));
    await settle();
    expect(answers).toEqual(['1<-poll-answer:1', '2<-poll-answer:2']);
    expect(toListener).toEqual([]);
  });

  it('with no deadline (Infinity) sets no timer and waits for the reply', async () => {
    const { bus, clock } = answering({ silent: true });
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), Infinity, () => true, (r) => answers.push(r));
    expect(clock.nextTimer()).toBe(Infinity);
    await settle();
    bus.send(answer(1));
    await settle();
    expect(answers).toHaveLength(1);
  });

  it('a request whose message cannot be sent (serialize rejects it) throws and never answers later', async () => {
    // BUG: request() registers its watch and deadline timer before send() throws, so the caller
    // gets the exception *and*, at the deadline, answer(undefined) (and a later message from the
    // machine to the shard would be taken as the reply).
    const { bus, clock } = answering({ serialize: true });
    const answers: (Message | undefined)[] = [];
    expect(() => bus.request({ kind: 'poll', from: S, to: M, poll: 1, job: NaN }, 10, () => true, (r) => answers.push(r))).toThrow(/does not survive JSON/);
    expect(clock.nextTimer()).toBe(Infinity);
    clock.fireNext(10);
    await settle();
    expect(answers).toEqual([]);
  });
});
