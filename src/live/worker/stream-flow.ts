// Flow control of one streamed response on the worker (protocol.ts StreamAckMsg): counts the bytes
// sent to the caller's gateway and those its caller has taken, and holds the function's next write
// while more than the window is in between: until an acknowledgement makes room, the stream ends,
// or STREAM_ACK_WAIT_MS pass without one (then one more chunk may go: a lost acknowledgement slows
// a stream, it never stops it). A slow reader so slows the function instead of filling memory.

import { STREAM_ACK_WAIT_MS, STREAM_WINDOW_BYTES } from '../../core/protocol.ts';
import type { Clock } from '../transport/clock.ts';

export class StreamFlow {
  /** Bytes sent, and bytes the caller has taken (as its last acknowledgement said). */
  sent = 0;
  taken = 0;
  /** Times a write was held, and of these how many were let go by the timer rather than room. */
  holds = 0;
  timeouts = 0;
  #wait: { readonly promise: Promise<void>; readonly resolve: () => void; readonly cancel: () => void } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly windowBytes = STREAM_WINDOW_BYTES,
    private readonly waitMs = STREAM_ACK_WAIT_MS,
  ) {}

  /** A chunk of `bytes` went out: undefined if the function may write on at once, else when it may. */
  wrote(bytes: number): Promise<void> | undefined {
    this.sent += bytes;
    if (this.#wait !== undefined) return this.#wait.promise;
    if (this.sent - this.taken <= this.windowBytes) return undefined;
    this.holds++;
    let resolve = (): void => {};
    const promise = new Promise<void>((r) => (resolve = r));
    const cancel = this.clock.at(this.clock.now() + this.waitMs, () => {
      this.timeouts++;
      this.#release();
    });
    this.#wait = { promise, resolve, cancel };
    return promise;
  }

  /** The caller has taken `bytes` bytes in all (acknowledgements may come twice, or out of order). */
  acked(bytes: number): void {
    if (bytes > this.taken) this.taken = Math.min(bytes, this.sent);
    if (this.#wait !== undefined && this.sent - this.taken <= this.windowBytes) this.#release();
  }

  /** The stream is over (answered, failed, or its job gone): nothing is held any longer. */
  end(): void {
    this.#release();
  }

  /** Whether a write is held now. */
  get holding(): boolean {
    return this.#wait !== undefined;
  }

  #release(): void {
    const w = this.#wait;
    if (w === undefined) return;
    this.#wait = undefined;
    w.cancel();
    w.resolve();
  }
}
