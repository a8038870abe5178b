import { describe, expect, it } from 'vitest';
import { ENV, TIME_MS, ValidationError, bool, int, object, oneOf, parse, queryBool, queryInt, str, stringMap, z } from './schema.ts';

const error = (f: () => unknown): ValidationError => {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
};

describe('parse: errors in Fare’s words, naming the field', () => {
  const BODY = object({ id: str({ min: 1, max: 5, pattern: /^[a-z]+$/, hint: 'use lower-case letters' }), n: int({ min: 1, max: 9 }).optional(), on: bool().optional(), mode: oneOf(['a', 'b'] as const).optional() });

  it('names an unknown field first, with the fields there are (a typo explains the other problems)', () => {
    const e = error(() => parse(BODY, { idd: 'x', n: 0 }));
    expect(e.message).toBe('unknown field "idd": the fields are id, n, on, mode (and 2 more problems)');
  });

  it('says what was wrong, what was given, and what to send', () => {
    expect(error(() => parse(BODY, { id: 'ABC' })).message).toBe('id: "ABC" is not valid: use lower-case letters');
    expect(error(() => parse(BODY, { id: 'abcdefg' })).message).toBe('id: expected 1 to 5 characters, got 7');
    expect(error(() => parse(BODY, { id: 7 })).message).toBe('id: expected a string, got 7');
    expect(error(() => parse(BODY, { id: 'a', n: 1.5 })).message).toBe('n: expected a whole number from 1 to 9, got 1.5');
    expect(error(() => parse(BODY, { id: 'a', n: 10 })).message).toBe('n: expected a number from 1 to 9, got 10');
    expect(error(() => parse(BODY, { id: 'a', on: 'yes' })).message).toBe('on: expected true or false, got "yes"');
    expect(error(() => parse(BODY, { id: 'a', mode: 'c' })).message).toBe('mode: expected one of "a", "b", got "c"');
    expect(error(() => parse(BODY, [1])).message).toBe('expected a JSON object, got [1]');
  });

  it('prefixes a base path, and query parameters as ?name', () => {
    expect(error(() => parse(queryInt({ min: 1, max: 10 }), 'ten', '?limit')).message).toBe('?limit: expected a whole number from 1 to 10, got "ten"');
    expect(error(() => parse(queryInt({ min: 1, max: 10 }), '0', '?limit')).message).toBe('?limit: expected a number from 1 to 10, got 0');
    expect(parse(queryInt({ min: 1, max: 10 }), '7')).toBe(7);
    expect(parse(queryBool(), 'false')).toBe(false);
    expect(error(() => parse(queryBool(), 'no', '?idempotent')).message).toBe('?idempotent: must be true or false');
    expect(error(() => parse(z.object({ a: z.object({ b: int() }) }), { a: { b: 'x' } }, 'body')).message).toBe('body.a.b: expected a whole number, got "x"');
  });

  it('names a map key that is not valid', () => {
    const e = error(() => parse(ENV, { '1BAD': 'x' }, 'env'));
    expect(e.path).toMatch(/^env/);
    expect(e.message).toMatch(/1BAD/);
    expect(e.message).toMatch(/environment variable names are letters, digits and "_"/);
    expect(parse(stringMap(str({ min: 1 }), str()), { a: 'b' })).toEqual({ a: 'b' });
  });

  it('reads times from a query string: epoch ms, or ISO 8601 with a zone', () => {
    expect(parse(TIME_MS, '1700000000000')).toBe(1_700_000_000_000);
    expect(parse(TIME_MS, '2025-01-15T12:00:00Z')).toBe(Date.UTC(2025, 0, 15, 12));
    expect(parse(TIME_MS, '2025-01-15')).toBe(Date.UTC(2025, 0, 15));
    expect(error(() => parse(TIME_MS, '2025-01-15T12:00:00', '?since')).message).toBe('?since: "2025-01-15T12:00:00" has no time zone: add Z (UTC) or an offset such as +02:00');
    expect(error(() => parse(TIME_MS, '2025-02-30', '?since')).message).toMatch(/is not a valid date/);
    expect(error(() => parse(TIME_MS, 'yesterday', '?since')).message).toMatch(/is not a time: give an ISO 8601 time/);
  });

  it('carries the Fare code a custom check names', () => {
    const S = z.string().superRefine((v, ctx) => {
      if (v !== 'ok') ctx.addIssue({ code: 'custom', message: 'nope', params: { code: 'FARE_E_UNSUPPORTED', lambdaType: 'InvalidParameterValueException' } });
    });
    const e = error(() => parse(S, 'x', 'Field'));
    expect([e.message, e.code, e.lambdaType]).toEqual(['Field: nope', 'FARE_E_UNSUPPORTED', 'InvalidParameterValueException']);
  });
});
