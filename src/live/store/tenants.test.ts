import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from './errors.ts';
import { hashSecret, newAccessKeyId, newSecret, verifySecretHash } from './secrets.ts';
import { openStore, type Store } from './store.ts';
import { manualClock, tempDir, type TempDir } from './testing.ts';

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

  it('hashes secrets with scrypt and a fresh salt, and verifies only the right one', async () => {
    const secret = newSecret();
    const a = await hashSecret(secret);
    const b = await hashSecret(secret);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(secret);
    expect(await verifySecretHash(secret, a)).toBe(true);
    expect(await verifySecretHash(secret + 'x', a)).toBe(false);
    expect(await verifySecretHash(secret, 'garbage')).toBe(false);
  });
});

describe('tenants and credentials', () => {
  it('creates a tenant with a credential whose secret is returned once and stored only hashed and sealed', async () => {
    const { tenant, credential } = await store.createTenant({ id: 'acme', name: 'Acme', budgetMicroCents: 5e6, overBudget: 'degrade' });
    expect(tenant).toMatchObject({ id: 'acme', name: 'Acme', budgetMicroCents: 5e6, overBudget: 'degrade' });
    expect(credential).toMatchObject({ tenant: 'acme', admin: false, revokedAt: null });
    const row = store.db.prepare('SELECT * FROM credentials').get() as Record<string, unknown>;
    expect(JSON.stringify(row)).not.toContain(credential.secret);
    expect(store.credentials.get(credential.accessKeyId)).not.toHaveProperty('secret');
  });

  it('verifies a secret against its hash and refuses wrong, unknown and revoked ones', async () => {
    const { credential } = await store.createTenant({ id: 'acme' });
    expect(await store.credentials.verify(credential.accessKeyId, credential.secret)).toMatchObject({ tenant: 'acme' });
    expect(await store.credentials.verify(credential.accessKeyId, 'wrong')).toBeUndefined();
    expect(await store.credentials.verify('FAREUNKNOWN', credential.secret)).toBeUndefined();
    expect(store.credentials.revoke(credential.accessKeyId)).toBe(true);
    expect(store.credentials.revoke(credential.accessKeyId)).toBe(false);
    expect(await store.credentials.verify(credential.accessKeyId, credential.secret)).toBeUndefined();
    expect(store.credentials.signingSecret(credential.accessKeyId)).toBeUndefined();
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
