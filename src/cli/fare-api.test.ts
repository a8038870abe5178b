import { afterEach, describe, expect, it } from 'vitest';
import { conn, failure } from './fare-api.ts';

describe('the client\'s credential (--key, FARE_KEY)', () => {
  const saved = process.env.FARE_KEY;
  afterEach(() => {
    if (saved === undefined) delete process.env.FARE_KEY;
    else process.env.FARE_KEY = saved;
  });
  const file = '# Fare\'s admin credential, created 2026-12-06T18:21:13.846Z. Keep it secret.\nFARE_KEY=FAREQZJVNYYKWJG52274:g//J/vvPa\nAWS_ACCESS_KEY_ID=FAREQZJVNYYKWJG52274\n';

  it('takes <access key id>:<secret> from --key, else from FARE_KEY', () => {
    process.env.FARE_KEY = 'FAREA:s/e+cret';
    expect(conn({}).key).toBe('FAREA:s/e+cret');
    expect(conn({ key: 'FAREB:x' }).key).toBe('FAREB:x');
  });

  it('refuses the credential file\'s text, or its line, saying what to give (not an internal error from the HTTP client)', () => {
    process.env.FARE_KEY = file;
    expect(() => conn({})).toThrow(/FARE_KEY holds a credential file's text, not a credential: give it only what follows FARE_KEY= on its line/);
    expect(() => conn({ key: 'FARE_KEY=FAREA:x' })).toThrow(/--key holds a credential file's text/);
  });

  it('refuses a key with a line break or a space in it, and a missing one', () => {
    expect(() => conn({ key: 'FAREA:secret\n' })).toThrow(/--key has a space or a control character \(a line break\?\) in it/);
    expect(() => conn({ key: 'FAREA: secret' })).toThrow(/--key has a space/);
    delete process.env.FARE_KEY;
    expect(() => conn({})).toThrow(/no credential: set FARE_KEY=<access key id>:<secret>/);
  });
});

describe('a failed call, in one line', () => {
  const c = { endpoint: 'http://127.0.0.1:8080', key: 'FAREA:secret' };

  it("takes Fare's own code from X-Fare-Error-Code when the body is in Lambda's or Scheduler's shape", () => {
    const e = failure(c, 404, '{"Type":"User","Message":"Schedule nightly does not exist."}', 'ResourceNotFoundException', {}, 'FARE_E_SCHEDULE_NOT_FOUND');
    expect([e.code, e.message]).toEqual(['FARE_E_SCHEDULE_NOT_FOUND', '404: Schedule nightly does not exist.']);
    // Without the header: the exception's name is said, under the generic code.
    const bare = failure(c, 400, '{"Type":"User","Message":"bad"}', 'ValidationException');
    expect([bare.code, bare.message]).toEqual(['FARE_E_API', '400 ValidationException: bad']);
  });
});
