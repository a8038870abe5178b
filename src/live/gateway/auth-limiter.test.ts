import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter, clientKey } from './auth-limiter.ts';

const SEEDS = Buffer.from('0123456789abcdef', 'hex');
const limiter = (): AuthFailureLimiter => new AuthFailureLimiter({ addressBurst: 3, addressPerSec: 1, keyBurst: 5, keyPerSec: 2, slots: 1 << 16 }, SEEDS);

describe('AuthFailureLimiter', () => {
  it('lets a burst of failures from one address through, then says how long to wait, and refills with time', () => {
    const l = limiter();
    expect([1, 2, 3].map(() => l.failed('10.0.0.1', undefined, 1000))).toEqual([undefined, undefined, undefined]);
    expect(l.failed('10.0.0.1', undefined, 1000)).toBe(1);
    expect(l.failed('10.0.0.2', undefined, 1000)).toBeUndefined();
    expect(l.failed('10.0.0.1', undefined, 2000)).toBeUndefined();
    expect(l.failed('10.0.0.1', undefined, 2000)).toBe(1);
  });

  it('limits failures naming one key id across addresses, leaving other ids alone', () => {
    const l = limiter();
    for (let i = 0; i < 5; i++) expect(l.failed(`10.0.1.${i}`, 'FAREKEYONE0000000000', 0)).toBeUndefined();
    expect(l.failed('10.0.2.1', 'FAREKEYONE0000000000', 0)).toBe(1);
    expect(l.failed('10.0.2.2', 'FAREKEYTWO0000000000', 0)).toBeUndefined();
  });

  it('keeps its memory fixed: made-up addresses and key ids share a fixed table', () => {
    const l = new AuthFailureLimiter({ addressBurst: 1, addressPerSec: 0, keyBurst: 1, keyPerSec: 0, slots: 4 }, SEEDS);
    const limited = Array.from({ length: 100 }, (_, i) => l.failed(`10.1.0.${i}`, undefined, 0)).filter((x) => x !== undefined);
    expect(limited.length).toBeGreaterThanOrEqual(96);
  });
});

describe('clientKey', () => {
  it('takes IPv4 as it is, also IPv4-mapped, and IPv6 by its /64', () => {
    expect(clientKey('127.0.0.1')).toBe('127.0.0.1');
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2::9')).toBe(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('?');
  });
});
