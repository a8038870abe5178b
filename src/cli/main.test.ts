import { describe, expect, it } from 'vitest';
import { systemErrorLine } from './main.ts';

const sysError = (fields: Record<string, unknown>): Error => Object.assign(new Error('system error'), fields);

describe('ordinary mistakes at the top of fare', () => {
  it('says in one line what was wrong and what to do', () => {
    expect(systemErrorLine(sysError({ code: 'EADDRINUSE', address: '127.0.0.1', port: 8080, syscall: 'listen' }))).toMatch(/^port 8080 on 127\.0\.0\.1 is in use .*--port 0 picks a free one\) \(FARE_E_PORT_IN_USE\)$/);
    expect(systemErrorLine(sysError({ code: 'EACCES', port: 80, syscall: 'listen' }))).toMatch(/not permitted to listen on port 80 \(ports below 1024 need root\)/);
    expect(systemErrorLine(sysError({ code: 'ENOENT', path: 'nope.json', syscall: 'open' }))).toBe('no such file or folder: nope.json: check the path (FARE_E_NO_FILE)');
    expect(systemErrorLine(sysError({ code: 'EACCES', path: '/root/x', syscall: 'open' }))).toMatch(/^permission denied: \/root\/x/);
  });

  it('leaves anything else to the internal-error report', () => {
    expect(systemErrorLine(new TypeError('x is undefined'))).toBeUndefined();
  });
});
