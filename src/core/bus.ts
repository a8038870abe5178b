// The Bus port: how the parts' messages travel. One interface, three carriers: the simulator's (in
// virtual time, with a latency model), the live system's in-process transport, and NATS. Callers
// rely only on what every carrier gives: delivery is asynchronous (never inside `send`), messages are
// not shared objects once sent, and a message may be delayed or lost — so every request has a deadline.

import type { Address, Message } from './protocol.ts';
import type { Millis } from './types.ts';

export type Handler = (msg: Message) => void;

export interface Bus {
  /** Sends `msg` to `msg.to`. The sender may reuse the object once `send` returns. */
  send(msg: Message): void;
  /**
   * Sends a message the sender built for this send alone and never touches again: the Bus need not
   * copy it. (A cargo is immutable data in every message: no part changes one it sent or received.)
   */
  sendOwned(msg: Message): void;
  /** Delivers every message addressed to `at` to `handler` (one handler per address). Returns the undo. */
  listen(at: Address, handler: Handler): () => void;
  /**
   * Sends `msg` and calls `answer` once: with the first message to `msg.from` that `matches`, or with
   * undefined when `timeoutMs` passes first. The matching message is not also given to the listener.
   */
  request(msg: Message, timeoutMs: Millis, matches: (reply: Message) => boolean, answer: (reply: Message | undefined) => void): void;
}
