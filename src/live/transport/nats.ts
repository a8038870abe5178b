// The Bus over NATS (the cluster): every address is a subject, `<prefix>.<part>.<id>`, and every
// message travels as JSON, checked by the protocol's `checkMessage` when it arrives (a peer's bytes
// are untrusted input). NATS delivers asynchronously (never inside `send`), keeps the order of one
// connection's messages to one subscriber, and may lose messages when a link or a server fails: the
// parts already tolerate that (polls and lost jobs have deadlines), as the Bus port asks.
//
// Plain core NATS, at most once: the scheduling messages are soft state, rebuilt after a failure;
// what must survive a crash (async invocations, billing records) goes through JetStream elsewhere.

import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Bus, Handler } from '../../core/bus.ts';
import { checkMessage, formatAddress, type Address, type Message } from '../../core/protocol.ts';
import type { Millis } from '../../core/types.ts';
import { realClock, type Clock } from './clock.ts';
import { ChurnSet } from '../../core/util/churn-map.ts';

export interface NatsBusOptions {
  /** The first token of every subject (default `fare`): clusters sharing a NATS server use different ones. */
  readonly prefix?: string;
  readonly clock?: Clock;
  /**
   * A message this Bus could not deliver: not a valid protocol message, addressed to nobody listening
   * here, or its handler threw. Default: a line on stderr. Nothing else is lost with it.
   */
  readonly problem?: (what: string) => void;
  /** Every message sent and received, as a line (diagnosis: `FARE_TRACE_BUS=1` in a cluster's parts). */
  readonly trace?: (line: string) => void;
}

interface Watch {
  readonly from: Address;
  readonly matches: (m: Message) => boolean;
  readonly answer: (m: Message | undefined) => void;
  cancel: () => void;
  done: boolean;
}

interface Listening {
  readonly sub: Subscription;
  handler: Handler | undefined;
  /** Requests waiting for a reply at this address. */
  watchers: number;
}

/** Subject tokens: NATS forbids spaces, dots, `*` and `>` inside one. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

export class NatsBus implements Bus {
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly problem: (what: string) => void;
  private readonly trace: ((line: string) => void) | undefined;
  private readonly listening = new Map<string, Listening>();
  private readonly watches = new ChurnSet<Watch>();
  /** Messages published, and messages that arrived at this Bus's subscriptions (delivered or not). */
  published = 0;
  arrived = 0;

  constructor(private readonly nc: NatsConnection, opts: NatsBusOptions = {}) {
    this.prefix = opts.prefix ?? 'fare';
    if (!this.prefix.split('.').every((t) => TOKEN.test(t))) {
      throw new Error(`bus: the subject prefix ${JSON.stringify(this.prefix)} must be dot-separated tokens of letters, digits, _ and - (e.g. "fare" or "fare.dev")`);
    }
    this.clock = opts.clock ?? realClock;
    this.problem = opts.problem ?? ((what) => process.stderr.write(`fare bus: ${what}\n`));
    this.trace = opts.trace;
  }

  /** The subject of an address. */
  subject(a: Address): string {
    return `${this.prefix}.${a.part}.${a.id}`;
  }

  send(msg: Message): void {
    // The JSON text is the copy: the sender may reuse its object at once.
    const text = JSON.stringify(msg);
    this.trace?.(`send ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
    this.nc.publish(this.subject(msg.to), text);
    this.published++;
  }

  sendOwned(msg: Message): void {
    this.send(msg);
  }

  listen(at: Address, handler: Handler): () => void {
    const l = this.subscription(at);
    if (l.handler !== undefined) throw new Error(`bus: ${formatAddress(at)} already has a listener`);
    l.handler = handler;
    return () => {
      if (l.handler !== handler) return;
      l.handler = undefined;
      this.release(at, l);
    };
  }

  request(msg: Message, timeoutMs: Millis, matches: (reply: Message) => boolean, answer: (reply: Message | undefined) => void): void {
    // The reply comes to the sender's address: listen there while waiting.
    const l = this.subscription(msg.from);
    l.watchers++;
    const w: Watch = { from: msg.from, matches, answer, cancel: () => {}, done: false };
    const end = (): void => {
      w.done = true;
      this.watches.delete(w);
      l.watchers--;
      this.release(msg.from, l);
    };
    this.watches.add(w);
    if (timeoutMs !== Infinity) {
      w.cancel = this.clock.at(this.clock.now() + timeoutMs, () => {
        if (w.done) return;
        end();
        answer(undefined);
      });
    }
    w.cancel = ((cancelTimer) => () => {
      cancelTimer();
      end();
    })(w.cancel);
    this.send(msg);
  }

  /** Waits until the server has everything published so far (and answered the ping behind it). */
  async flush(): Promise<void> {
    await this.nc.flush();
  }

  /** Stops listening everywhere (the connection stays open: it belongs to the caller). */
  close(): void {
    for (const l of this.listening.values()) l.sub.unsubscribe();
    this.listening.clear();
    for (const w of this.watches) w.cancel();
  }

  private subscription(at: Address): Listening {
    const subject = this.subject(at);
    let l = this.listening.get(subject);
    if (l === undefined) {
      const sub = this.nc.subscribe(subject, {
        callback: (err, m) => {
          if (err) {
            this.problem(`subscription to ${subject} failed: ${err.message}`);
            return;
          }
          this.arrived++;
          this.receive(subject, m.string());
        },
      });
      l = { sub, handler: undefined, watchers: 0 };
      this.listening.set(subject, l);
    }
    return l;
  }

  private release(at: Address, l: Listening): void {
    if (l.handler !== undefined || l.watchers > 0) return;
    l.sub.unsubscribe();
    this.listening.delete(this.subject(at));
  }

  private receive(subject: string, text: string): void {
    this.trace?.(`recv ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.problem(`dropped a message on ${subject} that is not JSON (${text.length} bytes)`);
      return;
    }
    const c = checkMessage(parsed);
    if (!c.ok) {
      this.problem(`dropped a message on ${subject} that is not a protocol message: ${c.error}`);
      return;
    }
    const m = c.msg;
    if (this.subject(m.to) !== subject) {
      this.problem(`dropped a ${m.kind} on ${subject} addressed to ${formatAddress(m.to)}`);
      return;
    }
    for (const w of this.watches) {
      if (!w.done && w.from.part === m.to.part && w.from.id === m.to.id && w.matches(m)) {
        w.cancel();
        w.answer(m);
        return;
      }
    }
    const h = this.listening.get(subject)?.handler;
    if (h === undefined) {
      this.problem(`nobody listens at ${formatAddress(m.to)} (a ${m.kind} from ${formatAddress(m.from)})`);
      return;
    }
    try {
      h(m);
    } catch (e) {
      this.problem(`the handler at ${formatAddress(m.to)} failed on a ${m.kind}: ${(e as Error).stack ?? String(e)}`);
    }
  }
}
