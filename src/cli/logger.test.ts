import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isoTime, logSettings } from './logger.ts';

function sink(): { text: () => string; stream: Writable } {
  let text = '';
  return {
    text: () => text,
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString('utf8');
        done();
      },
    }),
  };
}

const flushed = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('log settings', () => {
  it('takes --log-level, else FARE_LOG_LEVEL, else info; pretty on a terminal unless --log-format says', () => {
    expect(logSettings({}, {}, false)).toEqual({ level: 'info', format: 'json' });
    expect(logSettings({}, {}, true)).toEqual({ level: 'info', format: 'pretty' });
    expect(logSettings({ 'log-format': 'json' }, {}, true).format).toBe('json');
    expect(logSettings({ 'log-format': 'pretty' }, {}, false).format).toBe('pretty');
    expect(logSettings({}, { FARE_LOG_LEVEL: 'WARN' }, false).level).toBe('warn');
    expect(logSettings({ 'log-level': 'debug' }, { FARE_LOG_LEVEL: 'warn' }, false).level).toBe('debug');
  });

  it('refuses an unknown level or format, naming the ones there are', () => {
    expect(() => logSettings({ 'log-level': 'loud' }, {}, false)).toThrow(/--log-level loud is not a log level: use trace, debug, info/);
    expect(() => logSettings({}, { FARE_LOG_LEVEL: 'loud' }, false)).toThrow(/FARE_LOG_LEVEL loud/);
    expect(() => logSettings({ 'log-format': 'xml' }, {}, false)).toThrow(/--log-format xml is not known: use json or pretty/);
  });
});

describe('isoTime', () => {
  it('writes a time exactly as Date.toISOString does, across seconds, minutes, days and years', () => {
    const starts = [0, Date.UTC(2026, 11, 7, 17, 59, 59, 998), Date.UTC(2026, 11, 31, 23, 59, 58, 999), Date.UTC(2028, 1, 29, 0, 0, 0, 0), Date.now()];
    let checked = 0;
    for (const t0 of starts) {
      for (let t = t0; t < t0 + 3000; t += 7) {
        expect(isoTime(t)).toBe(new Date(t).toISOString());
        checked++;
      }
    }
    // Out of order too (a clock stepped back): the minute's prefix is made again.
    for (const t of [Date.UTC(2030, 0, 1), Date.UTC(2001, 8, 9, 1, 46, 40, 5), Date.UTC(2030, 0, 1, 0, 0, 1)]) expect(isoTime(t)).toBe(new Date(t).toISOString());
    expect(checked).toBeGreaterThan(2000);
  });
});

describe('createLogger', () => {
  it('writes one JSON object a line with the base fields, an ISO time and the level, and drops lines below it', async () => {
    const s = sink();
    const log = await createLogger({ level: 'warn', format: 'json' }, { part: 'gateway', partId: 0 }, s.stream);
    log.info({ kind: 'access' }, 'request');
    log.warn({ kind: 'invocation', status: 'throttled' }, 'invocation throttled');
    await flushed();
    const lines = s.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, part: 'gateway', partId: 0, kind: 'invocation', status: 'throttled', msg: 'invocation throttled' });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('writes readable lines with pino-pretty', async () => {
    const s = sink();
    const log = await createLogger({ level: 'info', format: 'pretty' }, {}, s.stream);
    log.info({ kind: 'access', status: 200 }, 'request');
    await flushed();
    await flushed();
    expect(s.text()).toMatch(/INFO.*request/);
    expect(s.text()).toMatch(/status: 200/);
  });
});
