// The process's one logger (pino), made where a process starts (`fare up`, `fare gateway`, `fare
// shard`, `fare worker`) from `--log-level` / FARE_LOG_LEVEL and `--log-format`: JSON lines on
// stdout, or pino-pretty's lines when stdout is a terminal (or `--log-format pretty`).

import { writeSync } from 'node:fs';
import type { DestinationStream, Logger } from 'pino';
import { UsageError } from './args.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'pretty';

/** The options every process command takes. */
export const logOptions = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const;

export const LOG_HELP = `  --log-level L       trace, debug, info (default), warn, error, fatal or silent (or FARE_LOG_LEVEL)
  --log-format F      json (one JSON object a line) or pretty; default: pretty on a terminal, else json`;

export interface LogSettings {
  readonly level: LogLevel;
  readonly format: LogFormat;
}

/** `--log-level` (else FARE_LOG_LEVEL, else info) and `--log-format` (else pretty on a terminal), checked. */
export function logSettings(values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>, env: NodeJS.ProcessEnv = process.env, tty = process.stdout.isTTY === true): LogSettings {
  const flag = values['log-level'];
  const given = typeof flag === 'string' ? flag : env.FARE_LOG_LEVEL;
  const level = given === undefined || given === '' ? 'info' : given.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`${typeof flag === 'string' ? '--log-level' : 'FARE_LOG_LEVEL'} ${given ?? ''} is not a log level: use ${LOG_LEVELS.join(', ')}`);
  }
  const f = values['log-format'];
  if (f !== undefined && f !== 'json' && f !== 'pretty') throw new UsageError(`--log-format ${typeof f === 'string' ? f : ''} is not known: use json or pretty`);
  return { level: level as LogLevel, format: f ?? (tty ? 'pretty' : 'json') };
}

/**
 * Writes what `out` (a sonic-boom) still holds, synchronously, as the process exits: each write tried
 * once (a full pipe: again for up to a second), nothing more once one fails. sonic-boom's own
 * `flushSync()` retries a failed write for ever: when stdout's reader had gone (EPIPE) before any
 * write failed, the exit never ended, and `fare up` ignored SIGTERM. Reads sonic-boom 4's fields;
 * what it does not recognise, it leaves.
 */
function flushOnce(out: object): void {
  const o = out as { fd?: unknown; _bufs?: unknown; _writingBuf?: unknown; _writing?: unknown };
  if (typeof o.fd !== 'number' || o.fd < 0 || !Array.isArray(o._bufs)) return;
  const bufs = o._bufs as unknown[];
  const pending: unknown[] = o._writing === false && o._writingBuf !== undefined ? [o._writingBuf, ...bufs] : [...bufs];
  bufs.length = 0;
  o._writingBuf = '';
  let patience = 100;
  for (const p of pending) {
    if (typeof p !== 'string' && !Buffer.isBuffer(p)) continue;
    let b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    while (b.length > 0) {
      try {
        b = b.subarray(writeSync(o.fd, b));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || patience-- <= 0) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
}

/**
 * Now as an ISO 8601 time, exactly as `new Date().toISOString()` writes it: the date, hour and minute
 * made once a minute, the seconds and milliseconds by hand. pino's own `isoTime` formats a Date for
 * every line, which cost ~7 µs a line inside `fare up` (two lines per invocation; measured by timing
 * the log calls in the process, against ~18 µs for the rest of a line).
 */
export function isoTime(now: number): string {
  const minute = Math.floor(now / 60_000);
  if (minute !== isoMinute) {
    isoMinute = minute;
    isoPrefix = new Date(minute * 60_000).toISOString().slice(0, 17); // YYYY-MM-DDTHH:MM:
  }
  const ms = now - minute * 60_000;
  const sec = Math.floor(ms / 1000);
  const milli = Math.floor(ms - sec * 1000);
  return `${isoPrefix}${sec < 10 ? '0' : ''}${sec}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
let isoMinute = NaN;
let isoPrefix = '';

/** pino's `timestamp` option: the line's `time` field (as pino.stdTimeFunctions.isoTime writes it). */
const isoTimeField = (): string => `,"time":"${isoTime(Date.now())}"`;

/** JSON lines are written to stdout in writes of at least this many bytes… */
const LOG_WRITE_BYTES = 4096;
/** …or after at most this long (ms). */
const LOG_FLUSH_MS = 100;

/**
 * The process's logger: `base` fields on every line (e.g. `{ part: 'gateway', partId: 0 }`). JSON goes to
 * `destination` (default: pino's own, stdout); pretty lines are written by pino-pretty in this
 * thread, to `destination` or stdout. pino is loaded here, not by every command of the CLI.
 */
export async function createLogger(s: LogSettings, base: Readonly<Record<string, unknown>> = {}, destination?: DestinationStream): Promise<Logger> {
  const { pino } = await import('pino');
  const opts = { level: s.level, base: { ...base }, timestamp: isoTimeField };
  if (s.format === 'pretty') {
    const { default: pretty } = await import('pino-pretty');
    return pino(opts, pretty({ colorize: destination === undefined && process.stdout.isTTY === true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', ...(destination !== undefined ? { destination } : {}) }));
  }
  if (destination !== undefined) return pino(opts, destination);
  // Written asynchronously (a synchronous write to a pipe whose reader lags blocks the process, and
  // the invocation path with it: measured ~3 ms per invocation on stdout piped to another process),
  // in writes of at least 4 KiB (two lines per invocation each written alone cost ~0.05 ms of the
  // event loop per invocation), and at least every 100 ms; what is buffered is written out when the
  // process exits.
  const out = pino.destination({ dest: 1, sync: false, minLength: LOG_WRITE_BYTES, periodicFlush: LOG_FLUSH_MS });
  // pino writes what is left as the process exits (its `flushSync()`): each write tried once.
  out.flushSync = () => flushOnce(out);
  return pino(opts, out);
}
