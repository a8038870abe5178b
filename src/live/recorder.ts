// Records live traffic in the format the simulator replays (src/core/recording.ts): `fare up --record
// FILE`. The header is written when the recording opens; each execution's line when it ends, through
// a buffered stream (no synchronous disk write on the invocation's path). `close()` flushes.

import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { TRACE_FORMAT, TRACE_VERSION, type TraceHeader, type TraceRecord } from '../core/recording.ts';
import { heldCoreMs } from '../core/receipt.ts';
import type { InvokeOutcome } from './types.ts';

/** What the gateway hands the recorder when an execution ends (`arrivedAt`: epoch ms). */
export interface Execution extends Omit<TraceRecord, 't'> {
  readonly arrivedAt: number;
}

/** From an outcome's receipt: how long it held a core, on which machine of how many cores (each absent without a receipt). */
export function whereItRan(o: InvokeOutcome): Pick<Execution, 'runMs' | 'machine' | 'cores'> {
  const m = o.schedule?.machine;
  if (m === undefined || m === null) return {};
  const runMs = heldCoreMs(m);
  return runMs === undefined ? { machine: m.machine, cores: m.cores } : { runMs, machine: m.machine, cores: m.cores };
}

/** The gateway's view of a recorder. */
export interface Recorder {
  record(e: Execution): void;
}

export class TraceRecorder implements Recorder {
  readonly #out: WriteStream;
  readonly #startedAt: number;
  #lines = 0;
  #closed = false;

  private constructor(out: WriteStream, startedAt: number) {
    this.#out = out;
    this.#startedAt = startedAt;
  }

  /**
   * Starts a recording in `file` (replacing it): writes its header at once, so that a bad path fails
   * here, with the error of the file system, before any traffic.
   */
  static open(file: string, header: Omit<TraceHeader, 'format' | 'version' | 'recordedAt'>, now: number = Date.now()): TraceRecorder {
    const head: TraceHeader = { format: TRACE_FORMAT, version: TRACE_VERSION, recordedAt: new Date(now).toISOString(), ...header };
    writeFileSync(file, `${JSON.stringify(head)}\n`);
    return new TraceRecorder(createWriteStream(file, { flags: 'a' }), now);
  }

  /** Executions recorded so far. */
  get lines(): number {
    return this.#lines;
  }

  record(e: Execution): void {
    if (this.#closed) return;
    const r2 = (x: number): number => Math.round(x * 1000) / 1000;
    const line: TraceRecord = {
      t: r2(Math.max(0, e.arrivedAt - this.#startedAt)),
      fn: e.fn,
      class: e.class,
      cpuMs: r2(e.cpuMs),
      ...(e.runMs !== undefined ? { runMs: r2(e.runMs) } : {}),
      ...(e.machine !== undefined ? { machine: e.machine } : {}),
      ...(e.cores !== undefined ? { cores: e.cores } : {}),
      memMB: r2(e.memMB),
      latencyMs: r2(e.latencyMs),
      ...(e.waitMs !== undefined ? { waitMs: r2(e.waitMs) } : {}),
      type: e.type,
      status: e.status,
    };
    this.#out.write(`${JSON.stringify(line)}\n`);
    this.#lines++;
  }

  /** Writes what is buffered and closes the file. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve, reject) => {
      this.#out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }
}
