import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { signContext, verifyContext } from './context-token.ts';

const key = randomBytes(32);
const claims = { cls: 0, tenant: 't1', requestId: 'r1', exp: 10_000 };

describe('Fare context tokens', () => {
  it('round-trips the claims of a token it signed', () => {
    expect(verifyContext(key, signContext(key, claims), 5_000)).toEqual({ ok: true, claims });
  });

  it('refuses a token whose class was raised by hand, one signed with another key, and an expired one', () => {
    const token = signContext(key, { ...claims, cls: 3 });
    const [body, sig] = token.split('.') as [string, string];
    const forged = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    forged.c = 0;
    const tampered = `${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`;
    expect(verifyContext(key, tampered, 5_000)).toMatchObject({ ok: false, error: expect.stringMatching(/bad signature/) as unknown });
    expect(verifyContext(randomBytes(32), token, 5_000)).toMatchObject({ ok: false });
    expect(verifyContext(key, token, 20_000)).toMatchObject({ ok: false, error: expect.stringMatching(/expired/) as unknown });
    expect(verifyContext(key, 'garbage', 0)).toMatchObject({ ok: false, error: expect.stringMatching(/malformed/) as unknown });
  });
});
