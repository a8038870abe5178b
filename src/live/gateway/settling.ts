// Invocations answered whose record is still to come. A synchronous invocation's caller has its
// answer as soon as the function answers; its measurement — and so its billing record, log entry
// and receipt — ends when its instance parks (≈ 10 ms later, longer on a loaded machine: a cgroup
// freeze waits for the kernel). A read of that record by request id (its receipt, its log entry)
// waits here for it, for a bounded time, instead of answering "not found" for an invocation its
// caller was just answered about.
//
// Cheap on the warm path: `begin` stores one map entry, and a promise is made only for a reader
// that waits.

/** How long a read by request id waits for an answered invocation's record, at most (ms). */
export const SETTLE_WAIT_MS = 10_000;

export class Settling {
  /** Request id → the readers waiting for its record (null: none yet). */
  readonly #open = new Map<string, (() => void)[] | null>();

  /** Notes that `requestId` was answered before its record was made; call the result once it is made (or lost). */
  begin(requestId: string): () => void {
    this.#open.set(requestId, null);
    return () => {
      const waiting = this.#open.get(requestId);
      this.#open.delete(requestId);
      if (waiting) for (const w of waiting) w();
    };
  }

  /** Answered invocations whose record is still to come. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Resolves true once `requestId`'s record is made (at once if it is not awaited), or false if it
   * is still to come after `maxMs`.
   */
  wait(requestId: string, maxMs = SETTLE_WAIT_MS): Promise<boolean> {
    if (!this.#open.has(requestId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), maxMs);
      const waiting = this.#open.get(requestId) ?? [];
      waiting.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.#open.set(requestId, waiting);
    });
  }
}
