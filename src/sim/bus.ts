// The simulator's Bus: messages between the cluster's parts in virtual time. With no latency (the
// paper's assumption 2) a message waits in a FIFO mailbox and is delivered before time moves on, in
// the order sent; with a latency model (fixed, uniform or exponential one-way times, plus a poll's
// round trip) it is delivered at its time, ties in sending order. Loss is drawn from a seeded stream,
// so one seed reproduces a run, faults included. Everything deterministic: no clock, no timers.

import type { Bus, Handler } from '../core/bus.ts';
import { copyMessage, type Address, type Message, type Part } from '../core/protocol.ts';
import type { Rng } from '../core/rng.ts';
import type { Millis } from '../core/types.ts';

/** One-way delivery time of a message. */
export type LatencyModel =
  | { readonly kind: 'zero' }
  | { readonly kind: 'fixed'; readonly ms: Millis }
  | { readonly kind: 'uniform'; readonly minMs: Millis; readonly maxMs: Millis }
  | { readonly kind: 'exponential'; readonly meanMs: Millis };

export interface SimBusConfig {
  readonly latency: LatencyModel;
  /** Added to the round trip of a shard's poll (half each way), on top of `latency`. */
  readonly pollRoundTripMs?: Millis;
  /** Fraction of messages lost, drawn from `rng` (0: none). */
  readonly loss?: number;
  /** Stream for latencies and loss (needed when either is random). */
  readonly rng?: Rng;
}

interface Watch {
  readonly from: Address;
  readonly matches: (m: Message) => boolean;
  readonly answer: (m: Message | undefined) => void;
  readonly deadline: Millis;
  done: boolean;
}

/** Messages to deliver later, as a binary heap ordered by (time, sequence). */
class Later {
  private readonly t: number[] = [];
  private readonly seq: number[] = [];
  private readonly item: (Message | Watch)[] = [];
  private n = 0;
  private counter = 0;

  get size(): number {
    return this.n;
  }

  get nextTime(): Millis {
    return this.n === 0 ? Infinity : (this.t[0] as number);
  }

  push(t: Millis, x: Message | Watch): void {
    let i = this.n++;
    const s = this.counter++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = this.t[p] as number;
      if (pt < t || (pt === t && (this.seq[p] as number) < s)) break;
      this.t[i] = pt;
      this.seq[i] = this.seq[p] as number;
      this.item[i] = this.item[p] as Message | Watch;
      i = p;
    }
    this.t[i] = t;
    this.seq[i] = s;
    this.item[i] = x;
  }

  pop(): Message | Watch {
    const top = this.item[0] as Message | Watch;
    const last = --this.n;
    const t = this.t[last] as number, s = this.seq[last] as number, x = this.item[last] as Message | Watch;
    this.item.length = last;
    this.t.length = last;
    this.seq.length = last;
    if (last > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        const c = r < last && ((this.t[r] as number) < (this.t[l] as number) || ((this.t[r] as number) === (this.t[l] as number) && (this.seq[r] as number) < (this.seq[l] as number))) ? r : l;
        const ct = this.t[c] as number;
        if (t < ct || (t === ct && s < (this.seq[c] as number))) break;
        this.t[i] = ct;
        this.seq[i] = this.seq[c] as number;
        this.item[i] = this.item[c] as Message | Watch;
        i = c;
      }
      this.t[i] = t;
      this.seq[i] = s;
      this.item[i] = x;
    }
    return top;
  }
}

export class SimBus implements Bus {
  private readonly handlers: Record<Part, (Handler | undefined)[]> = { gateway: [], shard: [], machine: [] };
  private readonly shardHandlers = this.handlers.shard;
  private readonly machineHandlers = this.handlers.machine;
  /** The zero-latency mailbox: a ring of messages, oldest at `head`. */
  private ring: (Message | undefined)[] = new Array<Message | undefined>(1024);
  private head = 0;
  private n = 0;
  private readonly later = new Later();
  private watches: Watch[] = [];
  private readonly zero: boolean;
  private readonly loss: number;
  private readonly halfPoll: Millis;
  /** Every message goes through the mailbox, delivered before time moves on (no latency, no loss). */
  readonly instant: boolean;
  private now: Millis = 0;
  /** Messages sent, delivered and lost so far. */
  sent = 0;
  lost = 0;

  constructor(private readonly cfg: SimBusConfig = { latency: { kind: 'zero' } }) {
    this.halfPoll = (cfg.pollRoundTripMs ?? 0) / 2;
    this.zero = cfg.latency.kind === 'zero' && this.halfPoll === 0;
    this.loss = cfg.loss ?? 0;
    this.instant = this.zero && this.loss === 0;
    if (!(this.loss >= 0 && this.loss < 1)) throw new RangeError(`bus: loss must be in [0, 1), got ${this.loss}`);
    if ((this.loss > 0 || cfg.latency.kind === 'uniform' || cfg.latency.kind === 'exponential') && cfg.rng === undefined) {
      throw new RangeError('bus: a random latency or loss needs a seeded stream (rng)');
    }
  }

  /** The virtual time the bus sends at (the engine moves it). */
  setNow(now: Millis): void {
    this.now = now;
  }

  /** Nothing waits in the mailbox: a message sent now would be the next delivered. */
  get idle(): boolean {
    return this.n === 0;
  }


  /** When the next delayed message (or request deadline) is due; Infinity if none. */
  get nextTime(): Millis {
    return this.later.nextTime;
  }

  listen(at: Address, handler: Handler): () => void {
    const list = this.handlers[at.part];
    if (list[at.id] !== undefined) throw new Error(`bus: ${at.part}/${at.id} already has a listener`);
    list[at.id] = handler;
    return () => {
      if (list[at.id] === handler) list[at.id] = undefined;
    };
  }

  send(msg: Message): void {
    this.post(msg, true);
  }

  /**
   * Sends a message the caller will not touch again (a fresh object, or one it takes back only
   * after delivery): it is kept as is, not copied.
   */
  sendOwned(msg: Message): void {
    this.post(msg, false);
  }

  /** Queues (or loses) a message; `copy`: copy it, as it may wait past its sender's next step. */
  private post(msg: Message, copy: boolean): void {
    this.sent++;
    if (this.loss > 0 && (this.cfg.rng as Rng).next() < this.loss) {
      this.lost++;
      return;
    }
    if (this.zero) {
      this.enqueue(copy ? copyMessage(msg) : msg);
      return;
    }
    let t = this.now + this.delay();
    if (msg.kind === 'poll' || msg.kind === 'poll-answer') t += this.halfPoll;
    this.later.push(t, copy ? copyMessage(msg) : msg);
  }

  /**
   * Delivers `msg` now, as the mailbox would deliver it next: only when the mailbox is empty (`idle`)
   * at the start of the batch of messages the caller sends this way, in order. The message is not
   * copied: the receiver must not keep it.
   */
  deliverNow(msg: Message): void {
    this.sent++;
    this.deliver(msg);
  }

  /** As the port says; a reply due at the very moment of the deadline comes too late (the deadline was queued first). */
  request(msg: Message, timeoutMs: Millis, matches: (reply: Message) => boolean, answer: (reply: Message | undefined) => void): void {
    const w: Watch = { from: msg.from, matches, answer, deadline: this.now + timeoutMs, done: false };
    this.watches.push(w);
    if (timeoutMs !== Infinity) this.later.push(w.deadline, w);
    this.send(msg);
  }

  /** Delivers what is in the mailbox, and what it leads to, until it is empty. */
  pump(): void {
    while (this.n > 0) {
      const at = this.head;
      const m = this.ring[at] as Message;
      this.ring[at] = undefined;
      this.head = (at + 1) & (this.ring.length - 1);
      this.n--;
      this.deliver(m);
    }
  }

  /** Delivers the next delayed message (or request deadline) due at `now`, then pumps. */
  deliverDue(now: Millis): void {
    this.now = now;
    const x = this.later.pop();
    if ('kind' in x) {
      this.enqueue(x);
    } else if (!x.done) {
      x.done = true;
      this.watches = this.watches.filter((w) => w !== x);
      x.answer(undefined);
    }
    this.pump();
  }

  private delay(): Millis {
    const l = this.cfg.latency;
    switch (l.kind) {
      case 'zero': return 0;
      case 'fixed': return l.ms;
      case 'uniform': return l.minMs + (this.cfg.rng as Rng).next() * (l.maxMs - l.minMs);
      case 'exponential': return -l.meanMs * Math.log(1 - (this.cfg.rng as Rng).next());
      default: {
        const never: never = l;
        throw new RangeError(`bus: unknown latency model ${JSON.stringify(never)}`);
      }
    }
  }

  private enqueue(m: Message): void {
    if (this.n === this.ring.length) this.grow();
    this.ring[(this.head + this.n) & (this.ring.length - 1)] = m;
    this.n++;
  }

  private deliver(m: Message): void {
    if (this.watches.length > 0) {
      for (const w of this.watches) {
        if (!w.done && w.from.part === m.to.part && w.from.id === m.to.id && w.matches(m)) {
          w.done = true;
          this.watches = this.watches.filter((x) => x !== w);
          w.answer(m);
          return;
        }
      }
    }
    const to = m.to;
    const h = (to.part === 'machine' ? this.machineHandlers : to.part === 'shard' ? this.shardHandlers : this.handlers.gateway)[to.id];
    if (h === undefined) throw new Error(`bus: nobody listens at ${m.to.part}/${m.to.id} (a ${m.kind} from ${m.from.part}/${m.from.id})`);
    h(m);
  }

  private grow(): void {
    const old = this.ring;
    const ring = new Array<Message | undefined>(old.length * 2);
    for (let k = 0; k < this.n; k++) ring[k] = old[(this.head + k) & (old.length - 1)];
    this.ring = ring;
    this.head = 0;
  }
}
