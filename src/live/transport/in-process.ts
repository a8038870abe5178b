// The live system's Bus within one process (`fare up`): messages are copied when sent (a part may
// reuse its message objects; cargo is immutable data, shared) and delivered in the order sent, from a microtask, never inside `send` —
// the same guarantees a network carrier gives, so a NATS Bus can replace it without changing any
// caller. With `serialize`, every message makes a JSON round trip, proving it can cross a network.
// Faults for tests: `drop` loses the messages it picks.

import type { Bus, Handler } from '../../core/bus.ts';
import { checkMessage, copyMessage, formatAddress, type Address, type Message } from '../../core/protocol.ts';
import type { Millis } from '../../core/types.ts';
import { realClock, type Clock } from './clock.ts';
import { ChurnSet } from '../../core/util/churn-map.ts';

export interface InProcessBusOptions {
  readonly clock?: Clock;
  /** JSON round trip for every message (tests). */
  readonly serialize?: boolean;
  /** Loses the messages for which it returns true (fault tests). */
  readonly drop?: (msg: Message) => boolean;
  /** A message for an address nobody listens at (default: thrown from the delivery, as a bug). */
  readonly undeliverable?: (msg: Message) => void;
}

interface Watch {
  readonly from: Address;
  readonly matches: (m: Message) => boolean;
  readonly answer: (m: Message | undefined) => void;
  cancel: () => void;
  done: boolean;
}

export class InProcessBus implements Bus {
  private readonly handlers = new Map<string, Handler>();
  private queue: Message[] = [];
  private scheduled = false;
  private flushing = false;
  private readonly watches = new ChurnSet<Watch>();
  private readonly clock: Clock;

  constructor(private readonly opts: InProcessBusOptions = {}) {
    this.clock = opts.clock ?? realClock;
  }

  listen(at: Address, handler: Handler): () => void {
    const key = formatAddress(at);
    if (this.handlers.has(key)) throw new Error(`bus: ${key} already has a listener`);
    this.handlers.set(key, handler);
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key);
    };
  }

  send(msg: Message): void {
    if (this.opts.drop?.(msg)) return;
    this.enqueue(this.prepare(msg, true));
  }

  sendOwned(msg: Message): void {
    if (this.opts.drop?.(msg)) return;
    this.enqueue(this.prepare(msg, false));
  }

  request(msg: Message, timeoutMs: Millis, matches: (reply: Message) => boolean, answer: (reply: Message | undefined) => void): void {
    // A message that cannot be sent throws before anything waits for its reply.
    const m = this.prepare(msg, true);
    const w: Watch = { from: msg.from, matches, answer, cancel: () => {}, done: false };
    this.watches.add(w);
    if (timeoutMs !== Infinity) {
      w.cancel = this.clock.at(this.clock.now() + timeoutMs, () => {
        if (w.done) return;
        w.done = true;
        this.watches.delete(w);
        answer(undefined);
      });
    }
    if (this.opts.drop?.(msg)) return;
    this.enqueue(m);
  }

  /**
   * The message as it travels: a JSON round trip (`serialize`); else a copy of the message when the
   * sender may reuse it (`copy`). Its cargo is not copied: cargo is immutable data, which no part
   * changes once sent or received (the JSON round trip of the conformance suite would notice).
   */
  private prepare(msg: Message, copy: boolean): Message {
    if (this.opts.serialize) {
      let back: ReturnType<typeof checkMessage>;
      try {
        back = checkMessage(JSON.parse(JSON.stringify(msg)));
      } catch (e) {
        throw new Error(`bus: a ${msg.kind} does not survive JSON: ${(e as Error).message}`);
      }
      if (!back.ok) throw new Error(`bus: a ${msg.kind} does not survive JSON: ${back.error}`);
      return back.msg;
    }
    return copy ? copyMessage(msg) : msg;
  }

  private enqueue(m: Message): void {
    this.queue.push(m);
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Messages sent and not yet delivered. */
  get pending(): number {
    return this.queue.length;
  }

  /** Delivers every message queued, and those they lead to, in order. */
  flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    this.scheduled = false;
    let i = 0;
    try {
      for (; i < this.queue.length; i++) this.deliver(this.queue[i] as Message);
      i--;
    } finally {
      // A handler that threw loses only its own message; the rest are delivered next time.
      this.queue = this.queue.slice(i + 1);
      this.flushing = false;
      if (this.queue.length > 0 && !this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    }
  }

  private deliver(m: Message): void {
    for (const w of this.watches) {
      if (!w.done && w.from.part === m.to.part && w.from.id === m.to.id && w.matches(m)) {
        w.done = true;
        w.cancel();
        this.watches.delete(w);
        w.answer(m);
        return;
      }
    }
    const h = this.handlers.get(formatAddress(m.to));
    if (h === undefined) {
      if (this.opts.undeliverable) this.opts.undeliverable(m);
      else throw undeliverable(m);
      return;
    }
    h(m);
  }
}

/** The error of a message for an address nobody listens at (a bug, unless the parts are stopping). */
export function undeliverable(m: Message): Error {
  return new Error(`bus: nobody listens at ${formatAddress(m.to)} (a ${m.kind} from ${formatAddress(m.from)})`);
}
