// The NATS Bus against a real nats-server: the Bus port's promises (asynchronous, ordered delivery,
// no shared objects, requests with deadlines), untrusted bytes refused, and a server restart survived.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { findNatsServer, startNatsServer, type NatsServer } from '../cluster/nats-server.ts';
import { machineAddress, shardAddress, type Message, type PollMsg } from '../../core/protocol.ts';
import { NatsBus } from './nats.ts';
import { VirtualClock } from './clock.ts';

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED NatsBus tests: ${nats.why}\n`);

const poll = (n: number): PollMsg => ({ kind: 'poll', from: shardAddress(0), to: machineAddress(1), poll: n, job: 100 + n });

/** Resolves once `cond` holds (polling every few ms), or fails after 5 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!nats.ok)('NatsBus', () => {
  let dir = '';
  let server: NatsServer;
  let nc: NatsConnection;
  let n = 0;
  const fresh = (opts: ConstructorParameters<typeof NatsBus>[1] = {}): NatsBus => new NatsBus(nc, { prefix: `t${n++}`, ...opts });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-natsbus-'));
    server = await startNatsServer({ dir, name: 'bus-test' });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers in the order sent, never inside send, and shares no object with the sender', async () => {
    const bus = fresh();
    const got: Message[] = [];
    bus.listen(machineAddress(1), (m) => got.push(m));
    const msg = poll(0) as { -readonly [K in keyof PollMsg]: PollMsg[K] };
    for (let i = 0; i < 50; i++) {
      msg.poll = i;
      bus.send(msg);
    }
    expect(got).toHaveLength(0);
    await until(() => got.length === 50, '50 messages');
    expect(got.map((m) => (m as PollMsg).poll)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(got[0]).not.toBe(msg);
    expect(got[49]).toEqual({ ...msg, poll: 49 });
    bus.close();
  });

  it('refuses bytes that are not a protocol message, and loses nothing else', async () => {
    const problems: string[] = [];
    const bus = fresh({ problem: (w) => problems.push(w) });
    const got: Message[] = [];
    bus.listen(machineAddress(1), (m) => got.push(m));
    const subject = bus.subject(machineAddress(1));
    nc.publish(subject, 'not json');
    nc.publish(subject, JSON.stringify({ kind: 'poll', from: shardAddress(0), to: machineAddress(1), poll: 'x', job: 1 }));
    // A valid message on the wrong subject (it names another address): refused too.
    nc.publish(subject, JSON.stringify({ ...poll(7), to: machineAddress(2) }));
    bus.send(poll(3));
    await until(() => got.length === 1, 'the valid message');
    expect((got[0] as PollMsg).poll).toBe(3);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/not JSON/);
    expect(problems[1]).toMatch(/not a protocol message/);
    expect(problems[2]).toMatch(/addressed to machine\/2/);
    bus.close();
  });

  it('a handler that throws loses only its own message', async () => {
    const problems: string[] = [];
    const bus = fresh({ problem: (w) => problems.push(w) });
    const got: number[] = [];
    bus.listen(machineAddress(1), (m) => {
      if ((m as PollMsg).poll === 1) throw new Error('boom');
      got.push((m as PollMsg).poll);
    });
    for (let i = 0; i < 3; i++) bus.send(poll(i));
    await until(() => got.length === 2, 'two messages');
    expect(got).toEqual([0, 2]);
    expect(problems.join()).toMatch(/failed on a poll: Error: boom/);
    bus.close();
  });

  it('one listener per address; after the undo nothing more is delivered there', async () => {
    const problems: string[] = [];
    const bus = fresh({ problem: (w) => problems.push(w) });
    const got: number[] = [];
    const undo = bus.listen(machineAddress(1), (m) => got.push((m as PollMsg).poll));
    expect(() => bus.listen(machineAddress(1), () => {})).toThrow(/machine\/1 already has a listener/);
    bus.send(poll(1));
    await until(() => got.length === 1, 'the first message');
    undo();
    bus.send(poll(2));
    await bus.flush();
    await new Promise((r) => setTimeout(r, 30));
    expect(got).toEqual([1]);
    bus.close();
  });

  it('request: the matching reply goes to the answer (not the listener); no reply means undefined at the deadline', async () => {
    const clock = new VirtualClock();
    const bus = fresh({ clock });
    const atShard: Message[] = [];
    bus.listen(shardAddress(0), (m) => atShard.push(m));
    // The machine answers each poll with its load.
    bus.listen(machineAddress(1), (m) => {
      const p = m as PollMsg;
      if (p.poll !== 9) bus.send({ kind: 'poll-answer', from: machineAddress(1), to: shardAddress(0), poll: p.poll, jobs: 4 });
    });
    const answers: (Message | undefined)[] = [];
    bus.request(poll(5), 100, (r) => r.kind === 'poll-answer' && r.poll === 5, (r) => answers.push(r));
    await until(() => answers.length === 1, 'the reply');
    expect(answers[0]).toMatchObject({ kind: 'poll-answer', poll: 5, jobs: 4 });
    expect(atShard).toHaveLength(0);
    // Poll 9 is never answered: the virtual deadline passes.
    bus.request(poll(9), 100, (r) => r.kind === 'poll-answer' && r.poll === 9, (r) => answers.push(r));
    await bus.flush();
    expect(clock.fireNext(100)).toBe(true);
    expect(answers).toEqual([answers[0], undefined]);
    // A reply nobody waits for any more goes to the listener.
    bus.send({ kind: 'poll-answer', from: machineAddress(1), to: shardAddress(0), poll: 9, jobs: 1 });
    await until(() => atShard.length === 1, 'the late reply');
    bus.close();
  });

  it('a request from an address with no listener still gets its reply (the Bus listens there while it waits)', async () => {
    const bus = fresh();
    bus.listen(machineAddress(1), (m) => {
      const p = m as PollMsg;
      bus.send({ kind: 'poll-answer', from: machineAddress(1), to: p.from, poll: p.poll, jobs: 2 });
    });
    const replies: (Message | undefined)[] = [];
    bus.request({ ...poll(1), from: shardAddress(5) }, 1000, () => true, (r) => replies.push(r));
    await until(() => replies.length === 1, 'the reply');
    expect(replies[0]).toMatchObject({ kind: 'poll-answer', to: { part: 'shard', id: 5 }, jobs: 2 });
    bus.close();
  });

  it('survives a server restart: delivery resumes once the client has reconnected', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'fare-natsbus-restart-'));
    let s2 = await startNatsServer({ dir: d2, name: 'restart' });
    const c2 = await connect({ servers: s2.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    const bus = new NatsBus(c2, { prefix: 'restart' });
    const got: number[] = [];
    bus.listen(machineAddress(1), (m) => got.push((m as PollMsg).poll));
    bus.send(poll(1));
    await until(() => got.length === 1, 'before the restart');
    const url = new URL(s2.url.replace('nats:', 'http:'));
    await s2.stop('SIGKILL');
    s2 = await startNatsServer({ dir: d2, name: 'restart', port: Number(url.port) });
    // The subscription is restored by the client; a message sent after that arrives.
    for (let i = 2; got.length < 2 && i < 400; i++) {
      bus.send(poll(i));
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(got.length).toBeGreaterThanOrEqual(2);
    bus.close();
    await c2.close();
    await s2.stop();
    rmSync(d2, { recursive: true, force: true });
  });
});
