// The text of one execution's log, as Lambda writes it: a START line, what the function printed, an
// END line and a REPORT line with duration, memory and (on a cold start) init time. One function
// builds it for both the stored entry (`fare logs NAME`) and the `X-Amz-Log-Result` tail of a
// synchronous call, so the two always agree.

import { lambdaVersion, omittedLine, type InvokeOutcome } from '../types.ts';
import type { Receipt } from '../../core/receipt.ts';

/** Largest stored text of one execution (CloudWatch Logs' limit for one event). */
export const LOG_TEXT_MAX_BYTES = 256 * 1024;


export interface ExecutionRef {
  readonly requestId: string;
  /** 1 for a synchronous invocation; the attempt number for an async one. */
  readonly attempt: number;
  readonly type: 'sync' | 'async';
  /** The version that ran (Fare's number: every deploy makes one). */
  readonly version: number;
  /**
   * The published version that ran (Lambda's number), absent when `$LATEST` ran: the START line
   * names the version as Lambda does, as the invocation's `X-Amz-Executed-Version` does.
   */
  readonly published?: number;
}

/** What the store keeps of one execution besides its billing record. */
export interface ExecutionLog extends ExecutionRef {
  readonly status: 'ok' | 'error';
  readonly errorType?: string;
  readonly durationMs: number;
  readonly text: string;
  /** Output was left out (by the instance, which keeps a bounded amount, or to fit `LOG_TEXT_MAX_BYTES`): its beginning and end are kept around an `omittedLine`. */
  readonly truncated: boolean;
  /** Its scheduling receipt (core/receipt.ts), kept as long as the entry. */
  readonly receipt?: Receipt;
}

/**
 * START / output / END / REPORT for one execution, at most `maxBytes` of UTF-8: when the output
 * does not fit, its middle is left out (its beginning and its end, where errors are, are kept, with a
 * line saying how much is missing) and the entry is marked truncated — as it is when the instance
 * already left some out. The START, END and REPORT lines are always whole.
 */
export function executionLog(ref: ExecutionRef, o: InvokeOutcome, maxBytes = LOG_TEXT_MAX_BYTES, receipt?: Receipt): ExecutionLog {
  const id = ref.requestId;
  const head = `START RequestId: ${id} Version: ${lambdaVersion(ref)}\n`;
  const tail =
    `END RequestId: ${id}\n` +
    `REPORT RequestId: ${id}\tDuration: ${o.durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(o.durationMs)} ms\t` +
    `Max Memory Used: ${Math.round(o.maxMemMB)} MB${o.coldStart ? `\tInit Duration: ${o.initMs.toFixed(2)} ms` : ''}\t\n`;
  let output = o.logs.length === 0 || o.logs.endsWith('\n') ? o.logs : `${o.logs}\n`;
  let truncated = (o.logsOmittedBytes ?? 0) > 0;
  // A UTF-16 unit is at most 3 UTF-8 bytes: short output needs no byte count.
  const room = maxBytes - Buffer.byteLength(head) - Buffer.byteLength(tail);
  if (output.length * 3 > room && Buffer.byteLength(output) > room) {
    output = keepEnds(output, room);
    truncated = true;
  }
  // Object.assign, not `{ ...ref, status, … }`: a hidden class each time on Node 20 (src/live/README.md).
  return Object.assign({}, ref, {
    status: o.status,
    ...(o.errorType !== undefined ? { errorType: o.errorType } : {}),
    durationMs: o.durationMs,
    text: head + output + tail,
    truncated,
    ...(receipt !== undefined ? { receipt } : {}),
  });
}

/**
 * `s` cut to at most `n` bytes of UTF-8 by leaving out its middle: its first and last parts (about
 * a quarter and three quarters of the room), on whole characters, around an `omittedLine`.
 */
export function keepEnds(s: string, n: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= n) return s;
  // Room for the kept bytes: the line (its count has at most as many digits as the whole length) and a newline before it.
  const room = Math.max(0, n - Buffer.byteLength(omittedLine(b.length)) - 1);
  let h = Math.floor(room / 4);
  while (h > 0 && ((b[h] as number) & 0xc0) === 0x80) h--;
  let t = b.length - (room - h);
  while (t < b.length && ((b[t] as number) & 0xc0) === 0x80) t++;
  const headText = b.subarray(0, h).toString('utf8');
  const sep = headText === '' || headText.endsWith('\n') ? '' : '\n';
  return `${headText}${sep}${omittedLine(t - h)}${b.subarray(t).toString('utf8')}`;
}

/** The last at most `n` bytes of `s` in UTF-8, starting on a whole character. */
export function lastBytes(s: string, n: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= n) return s;
  let i = b.length - n;
  while (i < b.length && ((b[i] as number) & 0xc0) === 0x80) i++;
  return b.subarray(i).toString('utf8');
}
