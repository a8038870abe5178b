// The text of one execution's log, as Lambda writes it: a START line, what the function printed, an
// END line and a REPORT line with duration, memory and (on a cold start) init time. One function
// builds it for both the stored entry (`fare logs NAME`) and the `X-Amz-Log-Result` tail of a
// synchronous call, so the two always agree.

import type { InvokeOutcome } from '../types.ts';

/** Largest stored text of one execution (CloudWatch Logs' limit for one event). */
export const LOG_TEXT_MAX_BYTES = 256 * 1024;

/** Put where output was dropped: the function printed more than the entry holds, and its end was kept. */
export const TRUNCATED_MARK = '[…truncated…]\n';

export interface ExecutionRef {
  readonly requestId: string;
  /** 1 for a synchronous invocation; the attempt number for an async one. */
  readonly attempt: number;
  readonly type: 'sync' | 'async';
  /** The version that ran. */
  readonly version: number;
}

/** What the store keeps of one execution besides its billing record. */
export interface ExecutionLog extends ExecutionRef {
  readonly status: 'ok' | 'error';
  readonly errorType?: string;
  readonly durationMs: number;
  readonly text: string;
  /** Output was dropped to fit `LOG_TEXT_MAX_BYTES` (its last part is kept, after `TRUNCATED_MARK`). */
  readonly truncated: boolean;
}

/**
 * START / output / END / REPORT for one execution, at most `maxBytes` of UTF-8: when the output
 * does not fit, its beginning is dropped (the end, where errors are, is kept) and the entry is
 * marked truncated. The START, END and REPORT lines are always whole.
 */
export function executionLog(ref: ExecutionRef, o: InvokeOutcome, maxBytes = LOG_TEXT_MAX_BYTES): ExecutionLog {
  const id = ref.requestId;
  const head = `START RequestId: ${id} Version: ${ref.version}\n`;
  const tail =
    `END RequestId: ${id}\n` +
    `REPORT RequestId: ${id}\tDuration: ${o.durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(o.durationMs)} ms\t` +
    `Max Memory Used: ${Math.round(o.maxMemMB)} MB${o.coldStart ? `\tInit Duration: ${o.initMs.toFixed(2)} ms` : ''}\t\n`;
  let output = o.logs.length === 0 || o.logs.endsWith('\n') ? o.logs : `${o.logs}\n`;
  let truncated = false;
  // A UTF-16 unit is at most 3 UTF-8 bytes: short output needs no byte count.
  const room = maxBytes - Buffer.byteLength(head) - Buffer.byteLength(tail);
  if (output.length * 3 > room && Buffer.byteLength(output) > room) {
    output = TRUNCATED_MARK + lastBytes(output, Math.max(0, room - Buffer.byteLength(TRUNCATED_MARK)));
    truncated = true;
  }
  return {
    ...ref,
    status: o.status,
    ...(o.errorType !== undefined ? { errorType: o.errorType } : {}),
    durationMs: o.durationMs,
    text: head + output + tail,
    truncated,
  };
}

/** The last at most `n` bytes of `s` in UTF-8, starting on a whole character. */
export function lastBytes(s: string, n: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= n) return s;
  let i = b.length - n;
  while (i < b.length && ((b[i] as number) & 0xc0) === 0x80) i++;
  return b.subarray(i).toString('utf8');
}
