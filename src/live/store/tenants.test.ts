import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreError } from './errors.ts';
import { newAccessKeyId, newSecret } from './secrets.ts';
import { openStore, type Store } from './store.ts';
import { manualClock, tempDir, type TempDir } from './testing.ts';

// The crypto calls verification makes are counted (and carried out as usual).
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, createHmac: vi.fn(real.createHmac), timingSafeEqual: vi.fn(real.timingSafeEqual), createDecipheriv: vi.fn(real.createDecipheriv) };
});

/** HMACs, constant-time comparisons and decryptions made by `f`. */
function cryptoWork(f: () => unknown): { hmacs: number; compares: number; decrypts: number } {
  vi.mocked(createHmac).mockClear();
  vi.mocked(timingSafeEqual).mockClear();
  vi.mocked(createDecipheriv).mockClear();
  f();
  return { hmacs: vi.mocked(createHmac).mock.calls.length, compares: vi.mocked(timingSafeEqual).mock.calls.length, decrypts: vi.mocked(createDecipheriv).mock.calls.length };
}

let dir: TempDir;
let store: Store;
beforeEach(() => {
  dir = tempDir();
  store = openStore({ dataDir: dir.path, clock: manualClock() });
});
afterEach(() => {
  store.close();
  dir.remove();
});

describe('credential material', () => {
  it('has the shape AWS SDKs expect: 20-character key ids, 40-character secrets', () => {
    const id = newAccessKeyId();
    expect(id).toMatch(/^FARE[A-Z2-7]{16}$/);
    expect(newSecret()).toHaveLength(40);
    expect(newAccessKeyId()).not.toBe(id);
  });

});

describe('tenants and credentials', () => {
  it('reads a tenant from memory after the first read, never stale after an update or a forget', () => {
    expect(store.tenants.get('later')).toBeUndefined();
    store.tenants.create({ id: 'later', budgetMicroCents: 100 });
    expect(store.tenants.get('later')?.budgetMicroCents).toBe(100);
    store.tenants.update('later', { budgetMicroCents: 5, overBudget: 'degrade' });
    expect(store.tenants.get('later')).toMatchObject({ budgetMicroCents: 5, overBudget: 'degrade' });
    store.db.prepare("UPDATE tenants SET budget_uc = 7 WHERE id = 'later'").run();
    expect(store.tenants.get('later')?.budgetMicroCents).toBe(5);
    store.tenants.forget('later');
    expect(store.tenants.get('later')?.budgetMicroCents).toBe(7);
  });

  it('creates a tenant with a credential whose secret is returned once and stored only hashed and sealed', async () => {
    const { tenant, credential } = await store.createTenant({ id: 'acme', name: 'Acme', budgetMicroCents: 5e6, overBudget: 'degrade' });
    expect(tenant).toMatchObject({ id: 'acme', name: 'Acme', budgetMicroCents: 5e6, overBudget: 'degrade' });
    expect(credential).toMatchObject({ tenant: 'acme', admin: false, revokedAt: null });
    const row = store.db.prepare('SELECT * FROM credentials').get() as Record<string, unknown>;
    expect(JSON.stringify(row)).not.toContain(credential.secret);
    expect(store.credentials.get(credential.accessKeyId)).not.toHaveProperty('secret');
  });

  it('verifies a secret against its verifier and refuses wrong, unknown and revoked ones', async () => {
    const { credential } = await store.createTenant({ id: 'acme' });
    expect(store.credentials.verify(credential.accessKeyId, credential.secret)).toMatchObject({ tenant: 'acme' });
    expect(store.credentials.verify(credential.accessKeyId, 'wrong')).toBeUndefined();
    expect(store.credentials.verify('FAREUNKNOWN', credential.secret)).toBeUndefined();
    expect(store.credentials.revoke(credential.accessKeyId)).toBe(true);
    expect(store.credentials.revoke(credential.accessKeyId)).toBe(false);
    expect(store.credentials.verify(credential.accessKeyId, credential.secret)).toBeUndefined();
    expect(store.credentials.signingSecret(credential.accessKeyId)).toBeUndefined();
  });

  it('keeps a 32-byte HMAC verifier bound to the access key id, not a hash an attacker could test guesses on', async () => {
    const { credential: a } = await store.createTenant({ id: 'acme' });
    const { credential: b } = await store.createTenant({ id: 'zeta' });
    const row = (id: string): { verifier: Buffer } => store.db.prepare('SELECT verifier FROM credentials WHERE access_key_id = ?').get(id) as { verifier: Buffer };
    expect(row(a.accessKeyId).verifier).toHaveLength(32);
    expect(store.db.prepare("SELECT name FROM pragma_table_info('credentials') WHERE name = 'secret_hash'").get()).toBeUndefined();
    // A verifier moved to another credential does not verify that credential's secret with it.
    store.db.prepare('UPDATE credentials SET verifier = ? WHERE access_key_id = ?').run(row(a.accessKeyId).verifier, b.accessKeyId);
    expect(store.credentials.verify(b.accessKeyId, a.secret)).toBeUndefined();
    expect(store.credentials.verify(b.accessKeyId, b.secret)).toBeUndefined();
  });

  it('costs one HMAC and one comparison for a right secret, a wrong one, an unknown id and a revoked credential alike', async () => {
    const { credential } = await store.createTenant({ id: 'acme' });
    const { credential: gone } = await store.createTenant({ id: 'zeta' });
    store.credentials.revoke(gone.accessKeyId);
    const one = { hmacs: 1, compares: 1, decrypts: 0 };
    expect(cryptoWork(() => store.credentials.verify(credential.accessKeyId, credential.secret))).toEqual(one);
    expect(cryptoWork(() => store.credentials.verify(credential.accessKeyId, newSecret()))).toEqual(one);
    expect(cryptoWork(() => store.credentials.verify(newAccessKeyId(), newSecret()))).toEqual(one);
    expect(cryptoWork(() => store.credentials.verify(gone.accessKeyId, gone.secret))).toEqual(one);
  });

  it('decrypts a stand-in secret for an unknown id, as it decrypts the secret of a known one', async () => {
    const { credential } = await store.createTenant({ id: 'acme' });
    expect(cryptoWork(() => store.credentials.signingSecret(credential.accessKeyId)).decrypts).toBe(1);
    expect(cryptoWork(() => expect(store.credentials.signingSecret(newAccessKeyId())).toBeUndefined()).decrypts).toBe(1);
  });

  it('refuses a chosen secret with spaces or too short, which Bearer could not carry', async () => {
    await expect(store.createTenant({ id: 'acme' }, { credential: { accessKeyId: 'FARECHOSEN0000000000', secret: 'has a space in it ok' } })).rejects.toMatchObject({ code: 'FARE_E_CREDENTIAL' });
    await expect(store.createTenant({ id: 'acme' }, { credential: { accessKeyId: 'FARECHOSEN0000000000', secret: 'short' } })).rejects.toMatchObject({ code: 'FARE_E_CREDENTIAL' });
    const { credential } = await store.createTenant({ id: 'acme' }, { credential: { accessKeyId: 'FARECHOSEN0000000000', secret: 'chosen-secret-0123456789' } });
    expect(store.credentials.verify(credential.accessKeyId, 'chosen-secret-0123456789')).toMatchObject({ tenant: 'acme' });
  });

  it('gives SigV4 the secret itself, decrypted with master.key, also after reopening', async () => {
    const { credential } = await store.createTenant({ id: 'acme' });
    expect(store.credentials.signingSecret(credential.accessKeyId)?.secret).toBe(credential.secret);
    store.close();
    store = openStore({ dataDir: dir.path });
    expect(store.credentials.signingSecret(credential.accessKeyId)?.secret).toBe(credential.secret);
  });

  it('refuses a second tenant with the same id and leaves no stray credential', async () => {
    await store.createTenant({ id: 'acme' });
    await expect(store.createTenant({ id: 'acme' })).rejects.toMatchObject({ code: 'FARE_E_TENANT_EXISTS' });
    expect(store.credentials.list('acme')).toHaveLength(1);
  });

  it('refuses a credential for a tenant that does not exist', async () => {
    await expect(store.credentials.create('ghost')).rejects.toBeInstanceOf(StoreError);
  });

  it('bootstraps one administrator on first start only', async () => {
    const admin = await store.bootstrapAdmin();
    expect(admin).toMatchObject({ tenant: 'admin', admin: true });
    expect(await store.bootstrapAdmin()).toBeUndefined();
    expect(store.credentials.hasAdmin()).toBe(true);
  });

  it('updates only the fields given', async () => {
    await store.createTenant({ id: 'acme', budgetMicroCents: 10 });
    expect(store.tenants.update('acme', { overBudget: 'degrade' })).toMatchObject({ budgetMicroCents: 10, overBudget: 'degrade' });
    expect(store.tenants.update('acme', { budgetMicroCents: null })).toMatchObject({ budgetMicroCents: null, overBudget: 'degrade' });
    expect(store.tenants.update('ghost', { name: 'x' })).toBeUndefined();
    expect(store.tenants.list().map((t) => t.id)).toEqual(['acme']);
  });
});

describe('grants', () => {
  beforeEach(() => {
    store.tenants.create({ id: 'a' });
    store.tenants.create({ id: 'b' });
    store.tenants.create({ id: 'c' });
  });

  it('let a tenant invoke its own functions and, once granted, one of another tenant', () => {
    expect(store.grants.allows('a', 'f', 'a')).toBe(true);
    expect(store.grants.allows('b', 'f', 'a')).toBe(false);
    store.grants.add('b', 'f', 'a');
    expect(store.grants.allows('b', 'f', 'a')).toBe(true);
    expect(store.grants.allows('b', 'g', 'a')).toBe(false);
    expect(store.grants.allows('b', 'f', 'c')).toBe(false);
  });

  it('cover all of the owner\'s functions with "*", are idempotent and can be removed', () => {
    const g = store.grants.add('b', '*', 'a');
    expect(store.grants.add('b', '*', 'a')).toEqual(g);
    expect(store.grants.allows('b', 'anything', 'a')).toBe(true);
    expect(store.grants.involving('a')).toEqual([g]);
    expect(store.grants.remove('b', '*', 'a')).toBe(true);
    expect(store.grants.allows('b', 'anything', 'a')).toBe(false);
  });
});
