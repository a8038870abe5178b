// The InvokeOutcomes an instance produces, in Lambda's words: a response, or an error — reported by
// the runtime (the handler threw or failed) or not (crash, timeout, oversized response, failed init).
// Lambda answers both with `X-Amz-Function-Error: Unhandled` today, and so does Fare.

import type { InvokeOutcome } from '../types.ts';
import type { InitError } from './errors.ts';
import type { Measured } from './meter.ts';
import type { ErrorDocument } from './runtime-api.ts';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Lambda's wording for how a process ended: `exit status 3`, `signal: SIGKILL`. */
export const describeExit = (e: ExitInfo): string => (e.signal !== null ? `signal: ${e.signal}` : `exit status ${e.code ?? 'unknown'}`);

/** The last `n` non-empty lines of `text`, on one line (` | ` between them), at most `max` characters. */
export function lastLines(text: string, n = 5, max = 600): string {
  const said = text.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '').slice(-n).join(' | ');
  return said.length > max ? `…${said.slice(-(max - 1))}` : said;
}

function measured(m: Measured, logs: string): Omit<InvokeOutcome, 'status' | 'payload'> {
  return { durationMs: m.durationMs, cpuMs: m.cpuMs, memGBs: m.memGBs, maxMemMB: m.maxMemMB, coldStart: false, initMs: 0, logs };
}

export const okOutcome = (body: Buffer, m: Measured, logs: string): InvokeOutcome => ({ status: 'ok', payload: body, ...measured(m, logs) });

export const handledOutcome = (error: ErrorDocument, m: Measured, logs: string): InvokeOutcome => ({
  status: 'error',
  payload: Buffer.from(JSON.stringify(error)),
  functionError: 'Unhandled',
  errorType: error.errorType,
  ...measured(m, logs),
});

export const unhandledOutcome = (errorType: string, errorMessage: string, m: Measured, logs: string): InvokeOutcome => ({
  status: 'error',
  payload: Buffer.from(JSON.stringify({ errorMessage, errorType })),
  functionError: 'Unhandled',
  errorType,
  ...measured(m, logs),
});

/** What an invocation that could not start its instance returns (Lambda reports init failures as Unhandled). */
export function initFailureOutcome(e: InitError): InvokeOutcome {
  return {
    status: 'error',
    payload: Buffer.from(JSON.stringify(e.error)),
    functionError: 'Unhandled',
    errorType: e.error.errorType,
    durationMs: 0,
    cpuMs: 0,
    memGBs: 0,
    maxMemMB: 0,
    coldStart: true,
    initMs: e.initMs,
    logs: e.logs,
  };
}
