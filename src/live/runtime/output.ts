// What an instance prints (stdout and stderr, as it arrives): kept twice, bounded — the output of
// the invocation in progress (for its log entry) and the instance's latest output across invocations
// (for `recentLogs` and init errors) — and passed on as it comes (streaming logs). It also tells
// when what the instance wrote before it answered has been read from its pipes.

import { LogTail } from './meter.ts';

export class InstanceOutput {
  /** The invocation's output: its first quarter and its last three quarters when it is too long. */
  readonly #invocation: LogTail;
  readonly #recent: LogTail;
  readonly #onLog: ((chunk: Buffer) => void) | undefined;
  /** Output goes to #invocation from `begin()` until `end()`. */
  #capturing = false;
  /** Chunks read so far (to tell when the pipes have been drained). */
  #seq = 0;

  constructor(invocationBytes: number, recentBytes: number, onLog?: (chunk: Buffer) => void) {
    this.#invocation = new LogTail(invocationBytes, Math.floor(invocationBytes / 4));
    this.#recent = new LogTail(recentBytes);
    this.#onLog = onLog;
  }

  /** A chunk the instance printed. */
  readonly push = (b: Buffer): void => {
    this.#seq++;
    this.#recent.push(b);
    if (this.#capturing) this.#invocation.push(b);
    this.#onLog?.(b);
  };

  /** A line of Fare's own about the instance (a failed spawn), kept with its recent output only. */
  note(line: string): void {
    this.#recent.push(Buffer.from(`${line}\n`));
  }

  /** An invocation begins: its output is what comes from now on (anything left over is dropped). */
  begin(): void {
    this.#invocation.take();
    this.#capturing = true;
  }

  /** The invocation's output is final: what it printed (bounded) and how many bytes were left out. */
  end(): { readonly logs: string; readonly omitted: number } {
    this.#capturing = false;
    const omitted = this.#invocation.omitted;
    return { logs: this.#invocation.take(), omitted };
  }

  /** The instance's latest output, start-up included, bounded. */
  get recent(): string {
    return this.#recent.text();
  }

  /**
   * Resolves once a whole turn of the event loop has passed without output from the instance: what
   * it wrote to its pipes before it was frozen (or exited) has then been read. Bounded by 50 turns.
   */
  async drained(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const seen = this.#seq;
      await new Promise<void>((r) => setImmediate(r));
      if (this.#seq === seen) return;
    }
  }
}
