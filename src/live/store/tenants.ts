// Tenants, their credentials and their grants. A tenant owns functions and pays for them; a
// credential (access key id + secret) authenticates as a tenant, optionally as an administrator; a
// grant lets one tenant invoke another tenant's function.

import type Database from 'better-sqlite3';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { StoreError } from './errors.ts';
import { Remembered, statementCache, type Prepare } from './sql.ts';
import { deriveKey, openSecret, sealSecret } from './master-key.ts';
import { ACCESS_KEY_RE, newAccessKeyId, newSecret, SECRET_RE, secretVerifier, VERIFIER_BYTES, VERIFIER_PURPOSE } from './secrets.ts';

export type Clock = () => number;
export type OverBudgetAction = 'throttle' | 'degrade';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  /** Monthly budget in µ¢; null: none. */
  readonly budgetMicroCents: number | null;
  /** What happens once the month's spending reaches the budget. */
  readonly overBudget: OverBudgetAction;
  readonly createdAt: number;
}

export interface NewTenant {
  readonly id: string;
  readonly name?: string;
  readonly budgetMicroCents?: number | null;
  readonly overBudget?: OverBudgetAction;
}

export interface TenantPatch {
  readonly name?: string;
  readonly budgetMicroCents?: number | null;
  readonly overBudget?: OverBudgetAction;
}

export interface Credential {
  readonly accessKeyId: string;
  readonly tenant: string;
  readonly admin: boolean;
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

/** A credential as created: the only time the secret is returned. */
export interface IssuedCredential extends Credential {
  readonly secret: string;
}

/** A credential computed but not yet stored. */
export interface PendingCredential {
  readonly issued: IssuedCredential;
  /** Stores it, synchronously, so it can share a transaction with other writes. */
  insert(): void;
}

export interface Grant {
  readonly owner: string;
  /** A function name of `owner`, or `*` for all of them. */
  readonly function: string;
  readonly grantee: string;
  readonly createdAt: number;
  /** The statement id and action it was given by Lambda's AddPermission; none when made through /v1/grants. */
  readonly sid?: string;
  readonly action?: string;
}

interface TenantRow {
  id: string;
  name: string;
  budget_uc: number | null;
  over_budget: OverBudgetAction;
  created_at: number;
}

interface CredentialRow {
  access_key_id: string;
  tenant: string;
  /** HMAC-SHA256 of `id:secret` under the verifier key (secrets.ts). */
  verifier: Buffer;
  secret_enc: string;
  admin: number;
  created_at: number;
  revoked_at: number | null;
}

interface GrantRow {
  owner: string;
  function: string;
  grantee: string;
  created_at: number;
  sid: string | null;
  action: string | null;
}

const toTenant = (r: TenantRow): Tenant => ({
  id: r.id,
  name: r.name,
  budgetMicroCents: r.budget_uc,
  overBudget: r.over_budget,
  createdAt: r.created_at,
});

const toCredential = (r: CredentialRow): Credential => ({
  accessKeyId: r.access_key_id,
  tenant: r.tenant,
  admin: r.admin === 1,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

/** A credential row or, for an unknown id, the same columns all NULL (see `CredentialRepo.#probe`). */
type ProbedRow = { [K in keyof CredentialRow]: CredentialRow[K] | null };

/** Resolves with `f()`, or rejects with what it throws. */
const settled = <T>(f: () => T): Promise<T> => new Promise((resolve) => resolve(f()));

/** Associated data of the stand-in sealed secret (not a valid access key id: no credential has it). */
const DUMMY_KEY_ID = 'fare-dummy-credential';

const toGrant = (r: GrantRow): Grant => ({ owner: r.owner, function: r.function, grantee: r.grantee, createdAt: r.created_at, ...(r.sid !== null ? { sid: r.sid } : {}), ...(r.action !== null ? { action: r.action } : {}) });

export class TenantRepo {
  readonly #q: Prepare;
  readonly #clock: Clock;

  constructor(db: Database.Database, clock: Clock) {
    this.#q = statementCache(db);
    this.#clock = clock;
  }

  /** Inserts a tenant; throws FARE_E_TENANT_EXISTS if the id is taken. */
  create(t: NewTenant): Tenant {
    if (this.get(t.id) !== undefined) {
      throw new StoreError('FARE_E_TENANT_EXISTS', `tenant ${t.id} already exists: choose another id`);
    }
    const row: TenantRow = {
      id: t.id,
      name: t.name ?? t.id,
      budget_uc: t.budgetMicroCents ?? null,
      over_budget: t.overBudget ?? 'throttle',
      created_at: this.#clock(),
    };
    this.forget(row.id);
    this
      .#q('INSERT INTO tenants (id, name, budget_uc, over_budget, created_at) VALUES (@id, @name, @budget_uc, @over_budget, @created_at)')
      .run(row);
    return toTenant(row);
  }

  /**
   * The tenant, from memory after the first read (every invocation's budget check asks). `create`
   * and `update` forget what they change, and a cluster gateway's copy of another gateway's write
   * calls `forget` (cluster/gateway.ts).
   */
  get(id: string): Tenant | undefined {
    return this.#known.get(id, () => {
      const r = this.#q('SELECT * FROM tenants WHERE id = ?').get(id) as TenantRow | undefined;
      return r === undefined ? undefined : toTenant(r);
    });
  }

  readonly #known = new Remembered<Tenant>();

  /** Forgets what `get` read of a tenant changed by other means than this repo (all tenants without an id). */
  forget(id?: string): void {
    this.#known.forget(id);
  }

  list(): Tenant[] {
    return (this.#q('SELECT * FROM tenants ORDER BY id').all() as TenantRow[]).map(toTenant);
  }

  /** Applies the fields present in `patch`; undefined if there is no such tenant. */
  update(id: string, patch: TenantPatch): Tenant | undefined {
    const cur = this.get(id);
    if (cur === undefined) return undefined;
    const next: Tenant = {
      ...cur,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.budgetMicroCents !== undefined ? { budgetMicroCents: patch.budgetMicroCents } : {}),
      ...(patch.overBudget !== undefined ? { overBudget: patch.overBudget } : {}),
    };
    this.forget(id);
    this
      .#q('UPDATE tenants SET name = ?, budget_uc = ?, over_budget = ? WHERE id = ?')
      .run(next.name, next.budgetMicroCents, next.overBudget, id);
    return next;
  }
}

export class CredentialRepo {
  readonly #q: Prepare;
  readonly #clock: Clock;
  readonly #master: Buffer;
  readonly #verifierKey: Buffer;
  /** Stand-ins checked for an unknown access key id, so it costs what a known one does. */
  readonly #dummyVerifier: Buffer = randomBytes(VERIFIER_BYTES);
  readonly #dummySealed: string;

  constructor(db: Database.Database, clock: Clock, master: Buffer) {
    this.#q = statementCache(db);
    this.#clock = clock;
    this.#master = master;
    this.#verifierKey = deriveKey(master, VERIFIER_PURPOSE);
    this.#dummySealed = sealSecret(master, newSecret(), DUMMY_KEY_ID);
  }

  /**
   * Computes everything a new credential needs without touching the database; `insert()` then
   * stores it, so it can share a transaction.
   */
  issue(tenant: string, admin: boolean, given?: { accessKeyId: string; secret: string }): PendingCredential {
    if (given && (!ACCESS_KEY_RE.test(given.accessKeyId) || !SECRET_RE.test(given.secret))) {
      throw new StoreError(
        'FARE_E_CREDENTIAL',
        `the credential ${given.accessKeyId}:… is not valid: the access key id must be 16–128 upper-case letters or digits and the secret 16–256 printable ASCII characters without spaces`,
      );
    }
    const accessKeyId = given?.accessKeyId ?? newAccessKeyId();
    const secret = given?.secret ?? newSecret();
    const row: CredentialRow = {
      access_key_id: accessKeyId,
      tenant,
      verifier: secretVerifier(this.#verifierKey, accessKeyId, secret),
      secret_enc: sealSecret(this.#master, secret, accessKeyId),
      admin: admin ? 1 : 0,
      created_at: this.#clock(),
      revoked_at: null,
    };
    const insert = (): void => {
      this.#q(
        `INSERT INTO credentials (access_key_id, tenant, verifier, secret_enc, admin, created_at, revoked_at)
         VALUES (@access_key_id, @tenant, @verifier, @secret_enc, @admin, @created_at, @revoked_at)`,
      ).run(row);
    };
    return { issued: { ...toCredential(row), secret }, insert };
  }

  /** Issues a credential for an existing tenant; the returned secret is never available again. */
  create(tenant: string, opts: { admin?: boolean } = {}): Promise<IssuedCredential> {
    return settled(() => {
      const pending = this.issue(tenant, opts.admin ?? false);
      if (this.#q('SELECT 1 FROM tenants WHERE id = ?').get(tenant) === undefined) {
        throw new StoreError('FARE_E_TENANT_NOT_FOUND', `tenant ${tenant} does not exist: create it first`);
      }
      pending.insert();
      return pending.issued;
    });
  }

  get(accessKeyId: string): Credential | undefined {
    const r = this.#q('SELECT * FROM credentials WHERE access_key_id = ?').get(accessKeyId) as CredentialRow | undefined;
    return r === undefined ? undefined : toCredential(r);
  }

  list(tenant: string): Credential[] {
    return (this.#q('SELECT * FROM credentials WHERE tenant = ? ORDER BY created_at, access_key_id').all(tenant) as CredentialRow[]).map(toCredential);
  }

  /**
   * The credential if `secret` is its secret and it is not revoked. One HMAC and one constant-time
   * comparison whatever the outcome: an unknown id is compared with a stand-in verifier, and a
   * revoked one is refused only after the comparison.
   */
  verify(accessKeyId: string, secret: string): Credential | undefined {
    const r = this.#probe(accessKeyId);
    const want = r.verifier !== null && r.verifier.length === VERIFIER_BYTES ? r.verifier : this.#dummyVerifier;
    const match = timingSafeEqual(secretVerifier(this.#verifierKey, accessKeyId, secret), want);
    return match && r.access_key_id !== null && r.revoked_at === null ? toCredential(r as CredentialRow) : undefined;
  }

  /**
   * The secret itself, decrypted with the master key: SigV4 verification computes HMACs with it.
   * An unknown id costs the same decryption (of a stand-in), so it cannot be told apart by time.
   */
  signingSecret(accessKeyId: string): { credential: Credential; secret: string } | undefined {
    const r = this.#probe(accessKeyId);
    const known = r.access_key_id !== null && r.secret_enc !== null;
    const secret = openSecret(this.#master, known ? (r.secret_enc as string) : this.#dummySealed, known ? accessKeyId : DUMMY_KEY_ID);
    return known && r.revoked_at === null ? { credential: toCredential(r as CredentialRow), secret } : undefined;
  }

  /** Marks a credential revoked; false if there is none or it was already revoked. */
  revoke(accessKeyId: string): boolean {
    return this.#q('UPDATE credentials SET revoked_at = ? WHERE access_key_id = ? AND revoked_at IS NULL').run(this.#clock(), accessKeyId).changes === 1;
  }

  hasAdmin(): boolean {
    return this.#q('SELECT 1 FROM credentials WHERE admin = 1 AND revoked_at IS NULL LIMIT 1').get() !== undefined;
  }

  /** Always one row: the credential's, or NULLs for an unknown id (same statement, same shape, same work). */
  #probe(accessKeyId: string): ProbedRow {
    return this.#q('SELECT c.* FROM (SELECT 1) LEFT JOIN credentials c ON c.access_key_id = ?').get(accessKeyId) as ProbedRow;
  }
}

export class GrantRepo {
  readonly #q: Prepare;
  readonly #clock: Clock;

  constructor(db: Database.Database, clock: Clock) {
    this.#q = statementCache(db);
    this.#clock = clock;
  }

  /** Idempotent: granting twice keeps the first grant's time. */
  add(owner: string, fn: string, grantee: string): Grant {
    this
      .#q('INSERT OR IGNORE INTO grants (owner, function, grantee, created_at) VALUES (?, ?, ?, ?)')
      .run(owner, fn, grantee, this.#clock());
    const r = this.#q('SELECT * FROM grants WHERE owner = ? AND function = ? AND grantee = ?').get(owner, fn, grantee) as GrantRow;
    return toGrant(r);
  }

  /**
   * Lambda's AddPermission: grants `fn` to `grantee` as statement `sid`. `taken`: the function
   * has a statement of that id already; `granted`: the grant exists as another statement (`sid` is
   * that statement's). A grant made through /v1/grants, which has no id, takes this one.
   */
  addStatement(owner: string, fn: string, grantee: string, sid: string, action: string): { kind: 'added'; grant: Grant } | { kind: 'taken' } | { kind: 'granted'; sid: string } {
    if (this.statement(owner, fn, sid) !== undefined) return { kind: 'taken' };
    const cur = this.#q('SELECT * FROM grants WHERE owner = ? AND function = ? AND grantee = ?').get(owner, fn, grantee) as GrantRow | undefined;
    if (cur?.sid !== undefined && cur.sid !== null) return { kind: 'granted', sid: cur.sid };
    if (cur !== undefined) this.#q('UPDATE grants SET sid = ?, action = ? WHERE owner = ? AND function = ? AND grantee = ?').run(sid, action, owner, fn, grantee);
    else this.#q('INSERT INTO grants (owner, function, grantee, created_at, sid, action) VALUES (?, ?, ?, ?, ?, ?)').run(owner, fn, grantee, this.#clock(), sid, action);
    return { kind: 'added', grant: toGrant(this.#q('SELECT * FROM grants WHERE owner = ? AND function = ? AND grantee = ?').get(owner, fn, grantee) as GrantRow) };
  }

  /** The grant of `owner`'s function `fn` made as statement `sid`. */
  statement(owner: string, fn: string, sid: string): Grant | undefined {
    const r = this.#q('SELECT * FROM grants WHERE owner = ? AND function = ? AND sid = ?').get(owner, fn, sid) as GrantRow | undefined;
    return r === undefined ? undefined : toGrant(r);
  }

  /** The grants that let others invoke `owner`'s function `fn`: its own, then those of all its functions (`*`). */
  ofFunction(owner: string, fn: string): Grant[] {
    return (this.#q("SELECT * FROM grants WHERE owner = ? AND function IN (?, '*') ORDER BY function = '*', grantee").all(owner, fn) as GrantRow[]).map(toGrant);
  }

  remove(owner: string, fn: string, grantee: string): boolean {
    return this.#q('DELETE FROM grants WHERE owner = ? AND function = ? AND grantee = ?').run(owner, fn, grantee).changes === 1;
  }

  /** May `grantee` invoke `owner`'s function `fn`? (A tenant may always invoke its own.) */
  allows(owner: string, fn: string, grantee: string): boolean {
    if (owner === grantee) return true;
    return (
      this
        .#q("SELECT 1 FROM grants WHERE owner = ? AND grantee = ? AND function IN (?, '*') LIMIT 1")
        .get(owner, grantee, fn) !== undefined
    );
  }

  /** Grants given by `tenant` and grants given to it. */
  involving(tenant: string): Grant[] {
    return (
      this.#q('SELECT * FROM grants WHERE owner = ? OR grantee = ? ORDER BY owner, function, grantee').all(tenant, tenant) as GrantRow[]
    ).map(toGrant);
  }

  list(): Grant[] {
    return (this.#q('SELECT * FROM grants ORDER BY owner, function, grantee').all() as GrantRow[]).map(toGrant);
  }

  /** Drops grants on a function that no longer exists (called when it is deleted). */
  removeFunction(owner: string, fn: string): void {
    this.#q('DELETE FROM grants WHERE owner = ? AND function = ?').run(owner, fn);
  }
}
