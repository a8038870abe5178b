import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SimBus, type LatencyModel, type SimBusConfig } from './bus.ts';
import { gatewayAddress, machineAddress, shardAddress, type Message, type PlaceMsg, type PollMsg } from '../core/protocol.ts';
import { Rng } from '../core/rng.ts';
import type { Mutable } from '../core/types.ts';

const G = gatewayAddress(0);
const S = shardAddress(0);
const M = machineAddress(1);

/** A poll from the shard to machine 1, numbered `n` (the number identifies it on delivery). */
const poll = (n: number, to = M): PollMsg => ({ kind: 'poll', from: S, to, poll: n, job: n });
const place = (id: number): PlaceMsg => ({ kind: 'place', from: S, to: M, job: { id, cls: 1, arrival: 0, fn: 0 }, via: 'idle-list', waited: 0 });
/** Numbers of the polls (or job ids) in the messages, in order. */
const nums = (ms: readonly Message[]): number[] => ms.map((m) => ('poll' in m ? m.poll : 'job' in m ? (typeof m.job === 'number' ? m.job : m.job.id) : -1));

/** A bus with a recording listener at machine 1 (and shard 0, gateway 0). */
function recorded(cfg?: SimBusConfig): { bus: SimBus; got: Message[]; at: Map<number, number> } {
  const bus = cfg === undefined ? new SimBus() : new SimBus(cfg);
  const got: Message[] = [];
  const at = new Map<number, number>();
  let now = 0;
  const record = (m: Message): void => {
    got.push(m);
    if ('poll' in m) at.set(m.poll, now);
  };
  bus.listen(M, record);
  bus.listen(S, record);
  bus.listen(G, record);
  // Track the time of each delivery through a wrapper around deliverDue.
  const deliverDue = bus.deliverDue.bind(bus);
  bus.deliverDue = (t: number): void => {
    now = t;
    deliverDue(t);
  };
  return { bus, got, at };
}

/** Delivers everything delayed, in time order (what the engine does between its events). */
function drain(bus: SimBus): void {
  for (let guard = 0; bus.nextTime < Infinity; guard++) {
    if (guard > 1_000_000) throw new Error('drain: runaway');
    bus.deliverDue(bus.nextTime);
  }
}

describe('SimBus with zero latency', () => {
  it('delivers nothing inside send, and everything in send order when pump runs', () => {
    const { bus, got } = recorded();
    for (let i = 0; i < 5; i++) bus.send(poll(i));
    expect(got).toEqual([]);
    expect(bus.idle).toBe(false);
    expect(bus.instant).toBe(true);
    bus.pump();
    expect(nums(got)).toEqual([0, 1, 2, 3, 4]);
    expect(bus.idle).toBe(true);
    expect(bus.sent).toBe(5);
    expect(bus.nextTime).toBe(Infinity);
  });

  it('delivers what handlers send during pump after what was already waiting, in one pump', () => {
    const bus = new SimBus();
    const order: string[] = [];
    bus.listen(M, (m) => {
      order.push(`M${(m as PollMsg).poll}`);
      bus.send({ kind: 'poll-answer', from: M, to: S, poll: (m as PollMsg).poll, jobs: 0 });
    });
    bus.listen(S, (m) => order.push(`S${(m as PollMsg).poll}`));
    bus.send(poll(1));
    bus.send(poll(2));
    bus.pump();
    expect(order).toEqual(['M1', 'M2', 'S1', 'S2']);
    expect(bus.idle).toBe(true);
  });

  it('keeps FIFO order across any interleaving of sends and pumps, past the mailbox growing', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 1500 }), fc.constant(0)), { maxLength: 12 }), (script) => {
        const { bus, got } = recorded();
        let n = 0;
        for (const step of script) {
          if (step === 0) bus.pump();
          else for (let k = 0; k < step; k++) bus.send(poll(n++));
        }
        bus.pump();
        expect(nums(got)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 60 },
    );
  });

  it('wraps the mailbox around and grows it without reordering', () => {
    const { bus, got } = recorded();
    for (let i = 0; i < 1000; i++) bus.send(poll(i));
    bus.pump(); // head is now near the end of the 1024-slot ring
    got.length = 0;
    for (let i = 0; i < 3000; i++) bus.send(poll(i));
    bus.pump();
    expect(nums(got)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });

  it('copies a message on send: mutating the original afterwards does not change what is delivered', () => {
    const { bus, got } = recorded();
    const m = place(7);
    bus.send(m);
    (m as Mutable<PlaceMsg>).waited = 99;
    (m.job as Mutable<PlaceMsg['job']>).cls = 3;
    bus.pump();
    expect(got).toHaveLength(1);
    expect(got[0]).not.toBe(m);
    expect(got[0]).toMatchObject({ kind: 'place', waited: 0, job: { id: 7, cls: 1 } });
  });

  it('copies on send with a latency model too', () => {
    const { bus, got } = recorded({ latency: { kind: 'fixed', ms: 3 } });
    const m = poll(1);
    bus.send(m);
    (m as Mutable<PollMsg>).poll = 42;
    drain(bus);
    expect(got[0]).not.toBe(m);
    expect(got[0]).toMatchObject({ kind: 'poll', poll: 1 });
  });

  it('does not copy with sendOwned: the very object is delivered', () => {
    const { bus, got } = recorded();
    const m = place(7);
    bus.sendOwned(m);
    bus.pump();
    expect(got[0]).toBe(m);

    const late = recorded({ latency: { kind: 'fixed', ms: 1 } });
    const p = poll(3);
    late.bus.sendOwned(p);
    drain(late.bus);
    expect(late.got[0]).toBe(p);
  });

  it('deliverNow delivers at once, uncopied, and counts the message as sent', () => {
    const { bus, got } = recorded();
    const m = poll(5);
    bus.deliverNow(m);
    expect(got).toEqual([m]);
    expect(got[0]).toBe(m);
    expect(bus.sent).toBe(1);
    expect(bus.idle).toBe(true);
  });
});

describe('SimBus listeners and addresses', () => {
  it('refuses a second listener at one address, naming it', () => {
    const bus = new SimBus();
    bus.listen(machineAddress(4), () => {});
    expect(() => bus.listen(machineAddress(4), () => {})).toThrow(/machine\/4 already has a listener/);
  });

  it('keeps listeners of different parts with the same number apart', () => {
    const bus = new SimBus();
    const seen: string[] = [];
    bus.listen(shardAddress(2), () => seen.push('shard'));
    bus.listen(machineAddress(2), () => seen.push('machine'));
    bus.listen(gatewayAddress(2), () => seen.push('gateway'));
    bus.send({ kind: 'idle-leave', from: machineAddress(2), to: shardAddress(2) });
    bus.send({ kind: 'block', from: gatewayAddress(2), to: machineAddress(2), job: 1 });
    bus.send({ kind: 'started', from: machineAddress(2), to: gatewayAddress(2), job: 1 });
    bus.pump();
    expect(seen).toEqual(['shard', 'machine', 'gateway']);
  });

  it('lets an address be listened at again after the undo, and the old undo does not remove the new listener', () => {
    const bus = new SimBus();
    const seen: string[] = [];
    const undo = bus.listen(M, () => seen.push('old'));
    undo();
    bus.listen(M, () => seen.push('new'));
    undo();
    bus.send(poll(1));
    bus.pump();
    expect(seen).toEqual(['new']);
  });

  it('throws a clear error naming an address nobody listens at (and the message)', () => {
    const bus = new SimBus();
    bus.send(poll(1, machineAddress(9)));
    expect(() => bus.pump()).toThrow('bus: nobody listens at machine/9 (a poll from shard/0)');
    // The message is not retried: the mailbox is empty.
    expect(bus.idle).toBe(true);
  });

  it('throws for a listener removed by its undo', () => {
    const bus = new SimBus();
    const undo = bus.listen(shardAddress(3), () => {});
    undo();
    bus.send({ kind: 'idle-leave', from: M, to: shardAddress(3) });
    expect(() => bus.pump()).toThrow(/nobody listens at shard\/3/);
  });
});

describe('SimBus with fixed latency', () => {
  it('delivers at now + ms, not before, ties in send order', () => {
    const { bus, got, at } = recorded({ latency: { kind: 'fixed', ms: 5 } });
    expect(bus.instant).toBe(false);
    bus.setNow(10);
    bus.send(poll(1));
    bus.send(poll(2));
    bus.setNow(12);
    bus.send(poll(3));
    bus.pump(); // the mailbox has nothing: delayed messages wait for their time
    expect(got).toEqual([]);
    expect(bus.nextTime).toBe(15);
    bus.deliverDue(15);
    expect(nums(got)).toEqual([1]);
    expect(bus.nextTime).toBe(15);
    bus.deliverDue(15);
    expect(nums(got)).toEqual([1, 2]);
    expect(bus.nextTime).toBe(17);
    bus.deliverDue(17);
    expect(nums(got)).toEqual([1, 2, 3]);
    expect(bus.nextTime).toBe(Infinity);
    expect([...at]).toEqual([[1, 15], [2, 15], [3, 17]]);
  });

  it('sends a handler’s messages at the time of the delivery (deliverDue moves now)', () => {
    const bus = new SimBus({ latency: { kind: 'fixed', ms: 5 } });
    const got: [string, number][] = [];
    let now = 0;
    bus.listen(M, (m) => bus.send({ kind: 'poll-answer', from: M, to: S, poll: (m as PollMsg).poll, jobs: 1 }));
    bus.listen(S, (m) => got.push([m.kind, now]));
    bus.send(poll(1));
    while (bus.nextTime < Infinity) {
      now = bus.nextTime;
      bus.deliverDue(now);
    }
    expect(got).toEqual([['poll-answer', 10]]);
  });

  it('delivers in (time, send order) order for any sends at any times', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3 })), { maxLength: 200 }), (plan) => {
        // Latency `fixed 0` with pollRoundTrip 0 is still "zero": use one ms so every message is delayed.
        const { bus, got, at } = recorded({ latency: { kind: 'fixed', ms: 1 } });
        // Send times must not go backwards (the engine moves time forward): sort by time.
        const sends = plan.map(([t], i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i);
        for (const s of sends) {
          bus.setNow(s.t);
          bus.send(poll(s.i));
        }
        drain(bus);
        // Sent in this order, each due one ms after it was sent: delivered in the same order.
        expect(nums(got)).toEqual(sends.map((s) => s.i));
        for (const s of sends) expect(at.get(s.i)).toBe(s.t + 1);
      }),
      { numRuns: 100 },
    );
  });

  it('orders messages sent later but due earlier first', () => {
    const { bus, got } = recorded({ latency: { kind: 'uniform', minMs: 0, maxMs: 100 }, rng: new Rng(3) });
    for (let i = 0; i < 300; i++) bus.send(poll(i));
    const times: number[] = [];
    while (bus.nextTime < Infinity) {
      times.push(bus.nextTime);
      bus.deliverDue(bus.nextTime);
    }
    expect(got).toHaveLength(300);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});

describe('SimBus poll round trip', () => {
  it('adds half the round trip to poll and poll-answer only, on top of the latency', () => {
    const { bus, got, at } = recorded({ latency: { kind: 'fixed', ms: 5 }, pollRoundTripMs: 4 });
    const when: number[] = [];
    bus.send(poll(1));
    bus.send({ kind: 'poll-answer', from: M, to: S, poll: 2, jobs: 0 });
    bus.send({ kind: 'idle-poll', from: M, to: S, poll: 3 });
    bus.send(place(4));
    bus.send({ kind: 'started', from: M, to: G, job: 4 });
    while (bus.nextTime < Infinity) {
      when.push(bus.nextTime);
      bus.deliverDue(bus.nextTime);
    }
    expect(got.map((m) => m.kind)).toEqual(['idle-poll', 'place', 'started', 'poll', 'poll-answer']);
    // poll and poll-answer at 5 + 4/2; idle-poll (a dispatcher's question, not a shard's poll),
    // place and started at the one-way latency only.
    expect(when).toEqual([5, 5, 5, 7, 7]);
    expect([...at].sort((x, y) => x[0] - y[0])).toEqual([[1, 7], [2, 7], [3, 5]]);
  });

  it('with zero latency and a poll round trip, delays polls by half of it and other messages by nothing, but through deliverDue', () => {
    const { bus, got, at } = recorded({ latency: { kind: 'zero' }, pollRoundTripMs: 6 });
    expect(bus.instant).toBe(false);
    bus.setNow(100);
    bus.send(poll(1));
    bus.send({ kind: 'idle-poll', from: M, to: S, poll: 2 });
    bus.pump();
    expect(got).toEqual([]);
    expect(bus.nextTime).toBe(100);
    drain(bus);
    expect(at.get(2)).toBe(100);
    expect(at.get(1)).toBe(103);
  });
});

describe('SimBus random latencies', () => {
  /** (poll number, delivery time) for `n` messages all sent at time 0. */
  function times(latency: LatencyModel, seed: number, n = 200, loss = 0): [number, number][] {
    const { bus, at } = recorded({ latency, rng: new Rng(seed), loss });
    for (let i = 0; i < n; i++) bus.send(poll(i));
    drain(bus);
    return [...at].sort((a, b) => a[0] - b[0]);
  }

  it('uniform: the same seed gives the same times, each within [min, max)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), (seed, a100, w100) => {
        const a = a100 / 100, w = w100 / 100;
        const model: LatencyModel = { kind: 'uniform', minMs: a, maxMs: a + w };
        const one = times(model, seed, 50);
        expect(times(model, seed, 50)).toEqual(one);
        expect(one).toHaveLength(50);
        for (const [, t] of one) {
          expect(t).toBeGreaterThanOrEqual(a);
          expect(t).toBeLessThanOrEqual(a + w);
          if (w > 0) expect(t).toBeLessThan(a + w);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('uniform: different seeds give different times, spread over the range', () => {
    const a = times({ kind: 'uniform', minMs: 10, maxMs: 20 }, 1, 2000);
    const b = times({ kind: 'uniform', minMs: 10, maxMs: 20 }, 2, 2000);
    expect(a).not.toEqual(b);
    const mean = a.reduce((s, [, t]) => s + t, 0) / a.length;
    expect(mean).toBeGreaterThan(14.7);
    expect(mean).toBeLessThan(15.3);
    expect(Math.min(...a.map(([, t]) => t))).toBeLessThan(10.1);
    expect(Math.max(...a.map(([, t]) => t))).toBeGreaterThan(19.9);
  });

  it('exponential: the same seed gives the same times, all positive and finite, with about the configured mean', () => {
    const model: LatencyModel = { kind: 'exponential', meanMs: 8 };
    const one = times(model, 42, 5000);
    expect(times(model, 42, 5000)).toEqual(one);
    expect(times(model, 43, 5000)).not.toEqual(one);
    for (const [, t] of one) {
      expect(t).toBeGreaterThan(0);
      expect(Number.isFinite(t)).toBe(true);
    }
    const mean = one.reduce((s, [, t]) => s + t, 0) / one.length;
    expect(mean).toBeGreaterThan(7.6);
    expect(mean).toBeLessThan(8.4);
  });

  it('exponential: positive and finite for any seed', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        for (const [, t] of times({ kind: 'exponential', meanMs: 1 }, seed, 30)) {
          expect(t).toBeGreaterThan(0);
          expect(Number.isFinite(t)).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('SimBus loss', () => {
  it('drops about the configured fraction, counts it in lost, and the rest is delivered', () => {
    for (const loss of [0.05, 0.25, 0.6]) {
      const { bus, got } = recorded({ latency: { kind: 'zero' }, loss, rng: new Rng(`loss-${loss}`) });
      expect(bus.instant).toBe(false);
      for (let i = 0; i < 20_000; i++) bus.send(poll(i));
      bus.pump();
      expect(bus.sent).toBe(20_000);
      expect(bus.lost / bus.sent).toBeGreaterThan(loss - 0.02);
      expect(bus.lost / bus.sent).toBeLessThan(loss + 0.02);
      expect(got.length).toBe(bus.sent - bus.lost);
      // What survives keeps its order.
      const ns = nums(got);
      expect(ns).toEqual([...ns].sort((x, y) => x - y));
    }
  });

  it('loses the same messages for the same seed, and other ones for another seed', () => {
    const survivors = (seed: number): number[] => {
      const { bus, got } = recorded({ latency: { kind: 'fixed', ms: 1 }, loss: 0.3, rng: new Rng(seed) });
      for (let i = 0; i < 500; i++) bus.send(poll(i));
      drain(bus);
      return nums(got);
    };
    expect(survivors(7)).toEqual(survivors(7));
    expect(survivors(7)).not.toEqual(survivors(8));
  });

  it('loses nothing with loss 0 and counts every message sent', () => {
    const { bus, got } = recorded({ latency: { kind: 'zero' }, loss: 0 });
    for (let i = 0; i < 100; i++) bus.send(poll(i));
    bus.pump();
    expect(got).toHaveLength(100);
    expect(bus.lost).toBe(0);
    expect(bus.sent).toBe(100);
  });

  it('uniform latency with loss is reproducible from the seed', () => {
    const model: LatencyModel = { kind: 'uniform', minMs: 1, maxMs: 9 };
    const run = (): [number, number][] => {
      const { bus, at } = recorded({ latency: model, loss: 0.2, rng: new Rng(99) });
      for (let i = 0; i < 300; i++) bus.send(poll(i));
      drain(bus);
      return [...at];
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(a.length).toBeLessThan(300);
    expect(a.length).toBeGreaterThan(200);
  });
});

describe('SimBus request', () => {
  /** A bus where machine 1 answers every poll with a poll-answer, and the shard's listener records. */
  function answering(cfg?: SimBusConfig): { bus: SimBus; toListener: Message[] } {
    const bus = cfg === undefined ? new SimBus() : new SimBus(cfg);
    const toListener: Message[] = [];
    bus.listen(M, (m) => {
      const p = m as PollMsg;
      bus.send({ kind: 'poll-answer', from: M, to: p.from, poll: p.poll, jobs: 10 + p.poll });
    });
    bus.listen(S, (m) => toListener.push(m));
    return { bus, toListener };
  }

  it('answers with the first matching message to the requester, which the listener does not get (zero latency)', () => {
    const { bus, toListener } = answering();
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), 50, (r) => r.kind === 'poll-answer' && r.poll === 1, (r) => answers.push(r));
    expect(answers).toEqual([]);
    bus.pump();
    expect(answers).toEqual([{ kind: 'poll-answer', from: M, to: S, poll: 1, jobs: 11 }]);
    expect(toListener).toEqual([]);
    // The deadline later passes without a second answer.
    drain(bus);
    expect(answers).toHaveLength(1);
  });

  it('gives non-matching messages to the listener and waits for a matching one', () => {
    const { bus, toListener } = answering();
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), 50, (r) => r.kind === 'poll-answer' && r.poll === 2, (r) => answers.push(r));
    bus.send(poll(2));
    bus.pump();
    expect(nums(toListener)).toEqual([1]);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ poll: 2 });
  });

  it('answers each of two requests with its own reply, the listener getting neither', () => {
    const { bus, toListener } = answering({ latency: { kind: 'fixed', ms: 2 } });
    const answers: [number, number | undefined][] = [];
    for (const n of [1, 2]) {
      bus.request(poll(n), 100, (r) => r.kind === 'poll-answer' && r.poll === n, (r) => answers.push([n, r?.kind === 'poll-answer' ? r.jobs : undefined]));
    }
    drain(bus);
    expect(answers).toEqual([[1, 11], [2, 12]]);
    expect(toListener).toEqual([]);
  });

  it('answers undefined at the deadline, through deliverDue, when no reply comes', () => {
    const bus = new SimBus({ latency: { kind: 'fixed', ms: 1 } });
    const toListener: Message[] = [];
    bus.listen(M, () => {}); // never answers
    bus.listen(S, (m) => toListener.push(m));
    bus.setNow(10);
    const answers: [Message | undefined, number][] = [];
    let now = 10;
    bus.request(poll(1), 30, () => true, (r) => answers.push([r, now]));
    expect(bus.nextTime).toBe(11);
    now = 11;
    bus.deliverDue(11);
    expect(answers).toEqual([]);
    expect(bus.nextTime).toBe(40);
    now = 40;
    bus.deliverDue(40);
    expect(answers).toEqual([[undefined, 40]]);
    // A reply after the deadline goes to the listener.
    bus.send({ kind: 'poll-answer', from: M, to: S, poll: 1, jobs: 0 });
    drain(bus);
    expect(toListener).toHaveLength(1);
    expect(answers).toHaveLength(1);
  });

  it('answers undefined at the deadline with zero latency when the request is lost on the way', () => {
    // Loss of the request itself: find a seed whose first draw loses it.
    let seed = 0;
    while (new Rng(seed).next() >= 0.5) seed++;
    const { bus, toListener } = answering({ latency: { kind: 'zero' }, loss: 0.5, rng: new Rng(seed) });
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), 25, () => true, (r) => answers.push(r));
    expect(bus.lost).toBe(1);
    bus.pump();
    expect(answers).toEqual([]);
    expect(bus.nextTime).toBe(25);
    bus.deliverDue(25);
    expect(answers).toEqual([undefined]);
    expect(toListener).toEqual([]);
  });

  it('with no deadline (Infinity) waits forever and sets no timer', () => {
    const bus = new SimBus({ latency: { kind: 'fixed', ms: 1 } });
    bus.listen(M, () => {});
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), Infinity, () => true, (r) => answers.push(r));
    drain(bus);
    expect(answers).toEqual([]);
    expect(bus.nextTime).toBe(Infinity);
    bus.send({ kind: 'poll-answer', from: M, to: S, poll: 1, jobs: 0 });
    drain(bus);
    expect(answers).toHaveLength(1);
  });

  it('does not answer with a matching message addressed elsewhere', () => {
    const bus = new SimBus();
    const other: Message[] = [];
    bus.listen(M, () => {});
    bus.listen(shardAddress(1), (m) => other.push(m));
    const answers: (Message | undefined)[] = [];
    bus.request(poll(1), 5, () => true, (r) => answers.push(r));
    bus.send({ kind: 'poll-answer', from: M, to: shardAddress(1), poll: 1, jobs: 0 });
    bus.pump();
    expect(answers).toEqual([]);
    expect(other).toHaveLength(1);
    bus.deliverDue(5);
    expect(answers).toEqual([undefined]);
  });
});

describe('SimBus configuration', () => {
  it('refuses a loss outside [0, 1)', () => {
    for (const loss of [-0.1, 1, 1.5, NaN]) {
      expect(() => new SimBus({ latency: { kind: 'zero' }, loss, rng: new Rng(1) })).toThrow(/loss must be in \[0, 1\)/);
    }
    expect(() => new SimBus({ latency: { kind: 'zero' }, loss: 0.999, rng: new Rng(1) })).not.toThrow();
  });

  it('refuses a random latency or a loss without a seeded stream', () => {
    expect(() => new SimBus({ latency: { kind: 'uniform', minMs: 0, maxMs: 1 } })).toThrow(/needs a seeded stream/);
    expect(() => new SimBus({ latency: { kind: 'exponential', meanMs: 1 } })).toThrow(/needs a seeded stream/);
    expect(() => new SimBus({ latency: { kind: 'zero' }, loss: 0.1 })).toThrow(/needs a seeded stream/);
    expect(() => new SimBus({ latency: { kind: 'fixed', ms: 1 } })).not.toThrow();
    expect(() => new SimBus({ latency: { kind: 'fixed', ms: 1 }, pollRoundTripMs: 2 })).not.toThrow();
  });
});
