import { describe, expect, it } from 'vitest';
import {
  address, checkMessage, copyMessage, formatAddress, formatDecisionLine, gatewayAddress, machineAddress, shardAddress,
  type Message, type MessageKind, type PlaceMsg,
} from './protocol.ts';
import { Shard } from './shard/shard.ts';
import { Rng } from './rng.ts';
import { job, shardConfig } from './testkit/fixtures.ts';

const G = gatewayAddress(1);
const S = shardAddress(2);
const M = machineAddress(3);

/** One message of every kind, as the parts send them. */
const SAMPLES: Readonly<Record<MessageKind, Message>> = {
  'arrive': { kind: 'arrive', from: G, to: S, job: job(5, 1, 10, 4), cargo: { fn: 'resize', payload: { w: 3 } } },
  'place': { kind: 'place', from: S, to: M, job: job(5, 1, 10, 4), via: 'idle-list', waited: 2.5, cargo: { fn: 'resize' } },
  'poll': { kind: 'poll', from: S, to: M, poll: 7, job: 5 },
  'poll-answer': { kind: 'poll-answer', from: M, to: S, poll: 7, jobs: 2 },
  'idle-poll': { kind: 'idle-poll', from: M, to: S, poll: 0 },
  'idle-answer': { kind: 'idle-answer', from: S, to: M, poll: 0, size: 4 },
  'idle-join': { kind: 'idle-join', from: M, to: S, freeMB: 1024.5, jobs: 0 },
  'idle-update': { kind: 'idle-update', from: M, to: S, freeMB: 900, jobs: 3 },
  'idle-leave': { kind: 'idle-leave', from: M, to: S },
  'reserve': { kind: 'reserve', from: S, to: M, job: 5 },
  'claim': { kind: 'claim', from: M, to: S, job: 5 },
  'taken': { kind: 'taken', from: S, to: M, job: 5 },
  'block': { kind: 'block', from: G, to: M, job: 5 },
  'unblock': { kind: 'unblock', from: G, to: M, job: 5 },
  'ask': { kind: 'ask', from: G, to: M, job: 5 },
  'unknown': { kind: 'unknown', from: M, to: G, job: 5 },
  'accepted': { kind: 'accepted', from: M, to: G, job: 5 },
  'started': { kind: 'started', from: M, to: G, job: 5 },
  'preempted': { kind: 'preempted', from: M, to: G, job: 5 },
  'swapped': { kind: 'swapped', from: M, to: G, job: 5, dir: 'out', mb: 128 },
  'answered': { kind: 'answered', from: M, to: G, job: 5, result: { status: 200, body: 'ok' } },
  'stream': { kind: 'stream', from: M, to: G, job: 5, seq: 0, data: 'aGk=', contentType: 'text/plain' },
  'stream-ack': { kind: 'stream-ack', from: G, to: M, job: 5, bytes: 65_536 },
  'done': { kind: 'done', from: M, to: G, job: 5, result: { cpuMs: 3 } },
  'call': { kind: 'call', from: gatewayAddress(2), to: G, caller: 'r-1', call: 9 },
  'call-end': { kind: 'call-end', from: gatewayAddress(2), to: G, caller: 'r-1', call: 9 },
  'refused': { kind: 'refused', from: S, to: G, job: 5, limit: 2 },
  'left': { kind: 'left', from: M, to: S, job: 5 },
  'release': { kind: 'release', from: G, to: S, job: 5 },
};

const roundTrip = (m: unknown): unknown => JSON.parse(JSON.stringify(m)) as unknown;

/** checkMessage's error for `x`, or a failure if it accepted it. */
function errorOf(x: unknown): string {
  const r = checkMessage(x);
  if (r.ok) throw new Error(`accepted ${JSON.stringify(x)}`);
  return r.error;
}

/** A sample message with some fields replaced (or removed, with undefined), as plain JSON. */
function altered(kind: MessageKind, changes: Record<string, unknown>): Record<string, unknown> {
  const o = roundTrip(SAMPLES[kind]) as Record<string, unknown>;
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete o[k];
    else o[k] = v;
  }
  return o;
}

describe('address', () => {
  it('interns addresses: one frozen object per part and id', () => {
    expect(address('shard', 4)).toBe(address('shard', 4));
    expect(shardAddress(4)).toBe(address('shard', 4));
    expect(machineAddress(4)).toBe(address('machine', 4));
    expect(gatewayAddress(4)).toBe(address('gateway', 4));
    expect(machineAddress(4)).not.toBe(shardAddress(4));
    expect(machineAddress(4)).not.toBe(machineAddress(5));
    expect(machineAddress(4)).toEqual({ part: 'machine', id: 4 });
    expect(Object.isFrozen(machineAddress(4))).toBe(true);
    expect(address('machine', 0)).toEqual({ part: 'machine', id: 0 });
    expect(address('machine', 100_000)).toBe(machineAddress(100_000));
  });

  it('rejects an id that is not a whole number ≥ 0', () => {
    expect(() => address('shard', -1)).toThrow(RangeError);
    expect(() => address('shard', -1)).toThrow('address shard/-1: the id must be a whole number ≥ 0');
    expect(() => machineAddress(1.5)).toThrow(/address machine\/1.5: the id must be a whole number/);
    expect(() => gatewayAddress(NaN)).toThrow(RangeError);
    expect(() => gatewayAddress(Infinity)).toThrow(RangeError);
  });

  it('formats as part/id', () => {
    expect(formatAddress(shardAddress(3))).toBe('shard/3');
    expect(formatAddress(machineAddress(12))).toBe('machine/12');
    expect(formatAddress(gatewayAddress(0))).toBe('gateway/0');
  });
});

describe('checkMessage', () => {
  it.each(Object.keys(SAMPLES) as MessageKind[])('accepts a JSON round trip of %s, with its addresses interned again', (kind) => {
    const sent = SAMPLES[kind];
    const r = checkMessage(roundTrip(sent));
    if (!r.ok) throw new Error(r.error);
    expect(r.msg).toEqual(sent);
    expect(r.msg.from).toBe(sent.from);
    expect(r.msg.to).toBe(sent.to);
  });

  it('accepts what a shard sends, and a shard accepts what it gives back', () => {
    const s = new Shard(shardConfig({ k: 2 }), new Rng(1));
    const arrive = checkMessage(roundTrip({ kind: 'arrive', from: G, to: shardAddress(0), job: job(1, 0, 0) }));
    if (!arrive.ok || arrive.msg.kind !== 'arrive') throw new Error('arrive refused');
    s.step(0, arrive.msg);
    const polls = s.ready().map((d) => checkMessage(roundTrip(d)));
    s.advance();
    expect(polls.map((p) => p.ok && p.msg.kind)).toEqual(['poll', 'poll']);
    for (const p of polls) {
      if (!p.ok || p.msg.kind !== 'poll') throw new Error('poll refused');
      const a = checkMessage(roundTrip({ kind: 'poll-answer', from: p.msg.to, to: p.msg.from, poll: p.msg.poll, jobs: p.msg.to.id }));
      if (!a.ok || a.msg.kind !== 'poll-answer') throw new Error('poll-answer refused');
      s.step(1, a.msg);
    }
    const [placed] = s.ready();
    expect(placed?.kind).toBe('place');
    expect(checkMessage(roundTrip(placed)).ok).toBe(true);
  });

  it('accepts what a Sparrow shard sends, and the shard accepts the claims that come back', () => {
    const s = new Shard(shardConfig({ k: 2, useIdleList: false, placement: 'reserve' }), new Rng(1));
    s.step(0, { kind: 'arrive', from: G, to: shardAddress(0), job: job(1, 0, 0) });
    const reserves = s.ready().map((d) => checkMessage(roundTrip(d)));
    s.advance();
    expect(reserves.map((r) => r.ok && r.msg.kind)).toEqual(['reserve', 'reserve']);
    const answers = reserves.map((r) => {
      if (!r.ok || r.msg.kind !== 'reserve') throw new Error('reserve refused');
      const c = checkMessage(roundTrip({ kind: 'claim', from: r.msg.to, to: r.msg.from, job: r.msg.job }));
      if (!c.ok || c.msg.kind !== 'claim') throw new Error('claim refused');
      s.step(1, c.msg);
      const out = s.ready().map((d) => checkMessage(roundTrip(d)));
      s.advance();
      return out.map((o) => o.ok && o.msg.kind);
    });
    expect(answers).toEqual([['place'], ['taken']]);
  });

  it('does not change the message it checks, and keeps fields it does not read', () => {
    const x = altered('swapped', { extra: [1, 2] });
    const before = structuredClone(x);
    const r = checkMessage(x);
    expect(x).toEqual(before);
    expect(r.ok && r.msg).toMatchObject({ extra: [1, 2], dir: 'out' });
    expect(r.ok && r.msg).not.toBe(x);
  });

  it('rejects what is not an object', () => {
    for (const x of [null, undefined, 5, 'arrive', true]) expect(errorOf(x)).toBe('a message is an object');
  });

  it('rejects an unknown or missing kind, naming it', () => {
    expect(errorOf(altered('arrive', { expectedMs: -1 }))).toBe('arrive: expectedMs must be a number ≥ 0, got -1');
    expect(checkMessage(altered('arrive', { expectedMs: 12.5 })).ok).toBe(true);
    // A concurrency limit: a function's key and a whole number ≥ 0 (0: every call refused).
    expect(checkMessage(altered('arrive', { cap: { key: 'acme/resize', limit: 0 } })).ok).toBe(true);
    for (const cap of [{ key: 'acme/resize', limit: -1 }, { key: 'acme/resize', limit: 1.5 }, { key: '', limit: 1 }, { limit: 1 }, 'acme/resize', { key: 'x'.repeat(257), limit: 1 }]) {
      expect(errorOf(altered('arrive', { cap }))).toMatch(/^arrive: cap must be \{key: a string of 1 to 256 characters, limit: a whole number ≥ 0\}, or absent; got /);
    }
    expect(checkMessage(altered('place', { capped: true })).ok).toBe(true);
    expect(errorOf(altered('place', { capped: false }))).toBe('place: capped must be true or absent, got false');
    expect(errorOf(altered('refused', { limit: undefined }))).toBe('refused: limit must be a number');
    expect(errorOf(altered('poll', { kind: 'polled' }))).toBe('unknown message kind "polled"');
    expect(errorOf(altered('poll', { kind: 'shard-sizes' }))).toBe('unknown message kind "shard-sizes"');
    expect(errorOf(altered('poll', { kind: undefined }))).toBe('unknown message kind undefined');
    expect(errorOf(altered('poll', { kind: 3 }))).toBe('unknown message kind 3');
    expect(errorOf(altered('poll', { kind: 'POLL' }))).toBe('unknown message kind "POLL"');
    expect(errorOf([])).toBe('unknown message kind undefined');
  });

  it('rejects a message going the wrong way, saying which way it goes', () => {
    expect(errorOf(altered('poll-answer', { from: S, to: M }))).toBe('poll-answer goes from machine to shard, not from shard');
    expect(errorOf(altered('poll-answer', { to: machineAddress(0) }))).toBe('poll-answer goes from machine to shard, not to machine');
    expect(errorOf(altered('arrive', { from: M }))).toBe('arrive goes from gateway to shard, not from machine');
    expect(errorOf(altered('place', { to: G }))).toBe('place goes from shard to machine, not to gateway');
    expect(errorOf(altered('idle-join', { from: G }))).toBe('idle-join goes from machine to shard, not from gateway');
    expect(errorOf(altered('block', { from: S }))).toBe('block goes from gateway to machine, not from shard');
    expect(errorOf(altered('done', { to: S }))).toBe('done goes from machine to gateway, not to shard');
    expect(errorOf(altered('reserve', { from: M, to: S }))).toBe('reserve goes from shard to machine, not from machine');
    expect(errorOf(altered('claim', { to: M }))).toBe('claim goes from machine to shard, not to machine');
  });

  it('rejects a missing or malformed address', () => {
    expect(errorOf(altered('poll', { from: undefined }))).toBe('from is not an address');
    expect(errorOf(altered('poll', { to: undefined }))).toBe('to is not an address');
    expect(errorOf(altered('poll', { to: 'machine/3' }))).toBe('to is not an address');
    expect(errorOf(altered('poll', { to: { part: 'machine' } }))).toBe('to is not an address');
    expect(errorOf(altered('poll', { to: { part: 'machine', id: -1 } }))).toBe('to is not an address');
    expect(errorOf(altered('poll', { to: { part: 'machine', id: 1.5 } }))).toBe('to is not an address');
    expect(errorOf(altered('poll', { to: { part: 'machine', id: '3' } }))).toBe('to is not an address');
    expect(errorOf(altered('poll', { from: { part: 'scheduler', id: 0 } }))).toBe('from is not an address');
    expect(errorOf(altered('poll', { from: null }))).toBe('from is not an address');
  });

  it('rejects a message without the numbers its receiver reads', () => {
    const cases: [MessageKind, Record<string, unknown>, string][] = [
      ['poll', { poll: undefined }, 'poll: poll must be a number'],
      ['poll', { job: '5' }, 'poll: job must be a number'],
      ['poll-answer', { jobs: undefined }, 'poll-answer: jobs must be a number'],
      ['poll-answer', { poll: null }, 'poll-answer: poll must be a number'], // NaN and Infinity come through JSON as null
      ['idle-poll', { poll: '0' }, 'idle-poll: poll must be a number'],
      ['idle-answer', { size: undefined }, 'idle-answer: size must be a number'],
      ['idle-join', { freeMB: undefined }, 'idle-join: freeMB must be a number'],
      ['idle-update', { jobs: undefined }, 'idle-update: jobs must be a number'],
      ['poll-answer', { memoryLow: 1 }, 'poll-answer: memoryLow must be true, false or absent'],
      ['idle-join', { cores: 0 }, 'idle-join: cores must be a whole number ≥ 1 (the machine\'s cores), or absent'],
      ['idle-join', { cores: 2.5 }, 'idle-join: cores must be a whole number ≥ 1 (the machine\'s cores), or absent'],
      ['place', { waited: undefined }, 'place: waited must be a number'],
      ['block', { job: undefined }, 'block: job must be a number'],
      ['unblock', { job: { id: 5 } }, 'unblock: job must be a number'],
      ['started', { job: undefined }, 'started: job must be a number'],
      ['preempted', { job: undefined }, 'preempted: job must be a number'],
      ['swapped', { mb: undefined }, 'swapped: mb must be a number'],
      ['answered', { job: undefined }, 'answered: job must be a number'],
      ['stream', { seq: undefined }, 'stream: seq must be a number'],
      ['stream', { data: 5 }, 'stream: data must be a string (base64)'],
      ['stream', { contentType: 1 }, 'stream: contentType must be a string, or absent'],
      ['done', { job: undefined }, 'done: job must be a number'],
      ['reserve', { job: undefined }, 'reserve: job must be a number'],
      ['claim', { job: '5' }, 'claim: job must be a number'],
      ['taken', { job: null }, 'taken: job must be a number'],
    ];
    for (const [kind, changes, error] of cases) expect(errorOf(altered(kind, changes)), `${kind} ${JSON.stringify(changes)}`).toBe(error);
  });

  it('rejects non-finite numbers that did not come through JSON', () => {
    expect(errorOf({ ...SAMPLES['poll-answer'], jobs: NaN })).toBe('poll-answer: jobs must be a number');
    expect(errorOf({ ...SAMPLES['idle-join'], freeMB: Infinity })).toBe('idle-join: freeMB must be a number');
  });

  it('rejects an arrive or place whose job lacks a number', () => {
    for (const kind of ['arrive', 'place'] as const) {
      expect(errorOf(altered(kind, { job: undefined }))).toBe(`${kind}: job needs numbers id, cls, arrival and fn`);
      expect(errorOf(altered(kind, { job: 5 }))).toBe(`${kind}: job needs numbers id, cls, arrival and fn`);
      for (const f of ['id', 'cls', 'arrival', 'fn']) {
        const j: Record<string, unknown> = { id: 5, cls: 1, arrival: 10, fn: 4 };
        delete j[f];
        expect(errorOf(altered(kind, { job: j })), f).toBe(`${kind}: job needs numbers id, cls, arrival and fn`);
        expect(errorOf(altered(kind, { job: { ...j, [f]: String(5) } })), f).toBe(`${kind}: job needs numbers id, cls, arrival and fn`);
      }
    }
  });

  it('accepts an arrive or place without cargo, and an idle-leave with nothing but its addresses', () => {
    expect(checkMessage(altered('arrive', { cargo: undefined })).ok).toBe(true);
    expect(checkMessage(altered('place', { cargo: undefined })).ok).toBe(true);
    expect(checkMessage({ kind: 'idle-leave', from: { part: 'machine', id: 9 }, to: { part: 'shard', id: 0 } })).toEqual({
      ok: true, msg: { kind: 'idle-leave', from: machineAddress(9), to: shardAddress(0) },
    });
  });
});

describe('copyMessage', () => {
  it('copies the message and its job, so the copy outlives the sender’s reuse of its objects', () => {
    const s = new Shard(shardConfig(), new Rng(1));
    s.step(0, { kind: 'idle-join', from: machineAddress(4), to: shardAddress(0), freeMB: 1000, jobs: 0 });
    s.step(1, { kind: 'arrive', from: G, to: shardAddress(0), job: job(1, 0, 1) });
    const sent = s.ready()[0] as PlaceMsg;
    const copy = copyMessage(sent);
    expect(copy).toEqual(sent);
    expect(copy).not.toBe(sent);
    expect(copy.job).not.toBe(sent.job);
    expect(copy.to).toBe(sent.to); // addresses are interned and frozen: shared, not copied
    s.advance();
    s.step(2, { kind: 'idle-join', from: machineAddress(6), to: shardAddress(0), freeMB: 1000, jobs: 0 });
    s.step(2, { kind: 'arrive', from: G, to: shardAddress(0), job: job(2, 1, 2) });
    expect(s.ready()[0]).toBe(sent); // the shard reused its message…
    expect(copy).toEqual({ kind: 'place', from: shardAddress(0), to: machineAddress(4), job: job(1, 0, 1), via: 'idle-list', waited: 0, cargo: undefined }); // …not the copy
  });

  it('copies messages whose job is an id', () => {
    const m = SAMPLES.poll;
    const c = copyMessage(m);
    expect(c).toEqual(m);
    expect(c).not.toBe(m);
  });
});

describe('formatDecisionLine', () => {
  it('writes a message as sender → receiver, kind, and its fields (a job as its id), without its cargo or result', () => {
    expect(formatDecisionLine(S, SAMPLES.place)).toBe('shard/2 → machine/3 place job=5 via=idle-list waited=2.5');
    expect(formatDecisionLine(G, SAMPLES.arrive)).toBe('gateway/1 → shard/2 arrive job=5');
    expect(formatDecisionLine(S, SAMPLES.poll)).toBe('shard/2 → machine/3 poll poll=7 job=5');
    expect(formatDecisionLine(M, SAMPLES['poll-answer'])).toBe('machine/3 → shard/2 poll-answer poll=7 jobs=2');
    expect(formatDecisionLine(M, SAMPLES['idle-leave'])).toBe('machine/3 → shard/2 idle-leave');
    expect(formatDecisionLine(S, SAMPLES.reserve)).toBe('shard/2 → machine/3 reserve job=5');
    expect(formatDecisionLine(M, SAMPLES.claim)).toBe('machine/3 → shard/2 claim job=5');
    expect(formatDecisionLine(S, SAMPLES.taken)).toBe('shard/2 → machine/3 taken job=5');
    expect(formatDecisionLine(M, SAMPLES.swapped)).toBe('machine/3 → gateway/1 swapped job=5 dir=out mb=128');
    expect(formatDecisionLine(M, SAMPLES.answered)).toBe('machine/3 → gateway/1 answered job=5');
  });

  it('writes a local decision (no receiver) as who, kind and fields', () => {
    expect(formatDecisionLine(M, { kind: 'run', job: job(9, 0) } as { kind: string })).toBe('machine/3 run job=9');
    expect(formatDecisionLine(M, { kind: 'swap-out', job: job(9, 0), mb: 64 } as { kind: string })).toBe('machine/3 swap-out job=9 mb=64');
    expect(formatDecisionLine(S, { kind: 'tick' })).toBe('shard/2 tick');
  });

  it('rounds numbers to six decimals, writes infinities as inf, arrays in brackets, and leaves out undefined fields', () => {
    const d = { kind: 'x', a: 1 / 3, b: Infinity, c: -Infinity, d: [1, 2.0000004, [3]], e: undefined, f: 'word', g: true, h: { k: 'v' } };
    expect(formatDecisionLine(M, d)).toBe('machine/3 x a=0.333333 b=inf c=-inf d=[1,2,[3]] f=word g=true h={"k":"v"}');
    expect(formatDecisionLine(S, { ...SAMPLES.place, waited: 0.1 + 0.2, cargo: undefined } as PlaceMsg)).toBe('shard/2 → machine/3 place job=5 via=idle-list waited=0.3');
  });

  it('writes the same line for a message and its checked JSON round trip', () => {
    for (const m of Object.values(SAMPLES)) {
      const r = checkMessage(roundTrip(m));
      if (!r.ok) throw new Error(r.error);
      expect(formatDecisionLine(m.from, r.msg)).toBe(formatDecisionLine(m.from, m));
    }
  });
});
