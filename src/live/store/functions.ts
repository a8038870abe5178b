// Deployed functions: one row per (tenant, name) holding the current version's configuration and
// where its unpacked code lives (Lambda's `$LATEST`). Every deploy or configuration change bumps the
// version; version numbers are never reused, even after a delete and re-create, so a worker's cache
// keyed by (tenant, name, version) can never serve stale code. Lambda's published versions and
// aliases are in versions.ts; they keep the code directories they run. The zip each code came in is
// kept as uploaded, by its hash (`zips/<sha256>.zip`), while `$LATEST` or a published version of any
// function has that hash: GetFunction's code location answers it, so its hash is CodeSha256.

import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FunctionSpec, RuntimeName } from '../types.ts';
import { commitStaged, commitZip, functionCodePath, listZips, pruneVersions, removeTree, removeZip, versionCodePath, zipPath } from './code.ts';
import { StoreError } from './errors.ts';
import type { LogRepo } from './logs.ts';
import { Remembered, statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';

export interface FunctionRecord extends FunctionSpec {
  /** Hex SHA-256 of the uploaded zip. */
  readonly codeSha256: string;
  /** Size of the uploaded zip in bytes. */
  readonly codeSize: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Lambda's settings, kept and reported (Fare imposes no memory limit: `memoryMB` is reported only). */
  readonly description: string;
  readonly memoryMB: number;
  readonly role: string;
  /** The Runtime given to Lambda's API (`nodejs20.x`, …); '' when deployed through Fare's own API. */
  readonly lambdaRuntime: string;
  /** Lambda's RevisionId: new at every change. */
  readonly revision: string;
  /** The published version this record is (Lambda's version number); absent for `$LATEST`. */
  readonly published?: number;
  /**
   * At most this many of its invocations at once, over all its versions (Lambda's reserved
   * concurrency; 0: none runs). On `$LATEST`'s record only; absent: no limit.
   */
  readonly reservedConcurrency?: number;
}

/** Lambda's settings of a function: left out, they keep their values (a new function: the defaults). */
export interface LambdaSettings {
  readonly description?: string;
  readonly memoryMB?: number;
  readonly role?: string;
  readonly lambdaRuntime?: string;
}

export const DEFAULT_MEMORY_MB = 128;

/** The largest concurrency limit a function may have: far above what one function can use on any cluster Fare runs. */
export const MAX_RESERVED_CONCURRENCY = 100_000;

export interface FunctionConfig {
  readonly runtime: RuntimeName;
  readonly handler: string;
  readonly cls: string;
  readonly timeoutMs: number;
  readonly env: Readonly<Record<string, string>>;
  /** Safe to run twice (default false): see FunctionSpec.idempotent. */
  readonly idempotent?: boolean;
  readonly lambda?: LambdaSettings;
}

export interface StagedCode {
  /** Absolute path returned by `stageCode`; moved into place by `deploy`. */
  readonly stagedDir: string;
  /** Hex SHA-256 of the uploaded zip. */
  readonly sha256: string;
  readonly size: number;
  /**
   * Absolute path returned by `stageZip`: the upload itself, kept as `zips/<sha256>.zip` by `deploy`.
   * Absent when the code did not come as a zip (the examples): its download is then rebuilt.
   */
  readonly stagedZip?: string;
}

export type FunctionPatch = Partial<FunctionConfig>;

/** A row of `functions` (and, with `number`, of `function_published`). */
export interface FunctionRow {
  tenant: string;
  name: string;
  runtime: RuntimeName;
  handler: string;
  class: string;
  timeout_ms: number;
  env: string;
  version: number;
  code_sha256: string;
  code_size: number;
  code_dir: string;
  created_at: number;
  updated_at: number;
  idempotent: number;
  description: string;
  memory_mb: number;
  role: string;
  lambda_runtime: string;
  revision: string;
  /** `functions` only (NULL: no limit). */
  reserved_concurrency?: number | null;
}

/** A function's row as a record, its code directory under `dataDir`. */
export function functionRecordOf(r: FunctionRow, dataDir: string, published?: number): FunctionRecord {
  const rec: FunctionRecord = {
    tenant: r.tenant,
    name: r.name,
    runtime: r.runtime,
    handler: r.handler,
    cls: r.class,
    codeDir: join(dataDir, r.code_dir),
    version: r.version,
    timeoutMs: r.timeout_ms,
    env: JSON.parse(r.env) as Record<string, string>,
    codeSha256: r.code_sha256,
    codeSize: r.code_size,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    description: r.description,
    memoryMB: r.memory_mb,
    role: r.role,
    lambdaRuntime: r.lambda_runtime,
    revision: r.revision,
  };
  // Only when set: a record of a function that is not idempotent has no such field.
  if (r.idempotent === 1) Object.assign(rec, { idempotent: true });
  if (published !== undefined) Object.assign(rec, { published });
  if (typeof r.reserved_concurrency === 'number') Object.assign(rec, { reservedConcurrency: r.reserved_concurrency });
  return rec;
}

/** Whether `$LATEST` or a published version of any function has the code whose hex SHA-256 is `sha`. */
function zipInUse(q: Prepare, sha: string): boolean {
  return q('SELECT 1 FROM functions WHERE code_sha256 = ? UNION ALL SELECT 1 FROM function_published WHERE code_sha256 = ? LIMIT 1').get(sha, sha) !== undefined;
}

/**
 * Deletes the kept zips of `shas` that no function's `$LATEST` or published version has any more
 * (zips are shared by hash: the same upload to two functions is kept once). Called after the commit
 * that dropped a reference, in the same synchronous stretch: no deploy can slip in between.
 */
export function releaseZips(q: Prepare, dataDir: string, shas: Iterable<string>): void {
  for (const sha of new Set(shas)) {
    if (!zipInUse(q, sha)) removeZip(dataDir, sha);
  }
}

export class FunctionRepo {
  readonly #db: Database.Database;
  readonly #q: Prepare;
  readonly #clock: Clock;
  readonly #dataDir: string;
  readonly #logs: LogRepo;

  constructor(db: Database.Database, clock: Clock, dataDir: string, logs: LogRepo) {
    this.#db = db;
    this.#q = statementCache(db);
    this.#clock = clock;
    this.#dataDir = dataDir;
    this.#logs = logs;
  }

  /**
   * The function's `$LATEST`, from memory after the first read: every invocation asks, and a read
   * of SQLite costs ≈ 35 µs here (its read transaction's locks are system calls). This repo's own
   * writes forget what they change, and a cluster gateway's copy of another gateway's write calls
   * `forget` (cluster/gateway.ts).
   */
  get(tenant: string, name: string): FunctionRecord | undefined {
    return this.#known.get(`${tenant}\0${name}`, () => {
      const r = this.#q('SELECT * FROM functions WHERE tenant = ? AND name = ?').get(tenant, name) as FunctionRow | undefined;
      return r === undefined ? undefined : this.#toRecord(r);
    });
  }

  readonly #known = new Remembered<FunctionRecord>();

  /** Forgets what `get` read of a function changed by other means than this repo (all functions without arguments). */
  forget(tenant?: string, name?: string): void {
    this.#known.forget(tenant === undefined || name === undefined ? undefined : `${tenant}\0${name}`);
  }

  /**
   * Sets the function's concurrency limit (null: none). Not a new version: its code and settings are
   * unchanged (as Lambda's PutFunctionConcurrency). Returns false when there is no such function.
   */
  setConcurrency(tenant: string, name: string, limit: number | null): boolean {
    if (limit !== null && !(Number.isInteger(limit) && limit >= 0 && limit <= MAX_RESERVED_CONCURRENCY)) throw new RangeError(`a concurrency limit is a whole number from 0 to ${MAX_RESERVED_CONCURRENCY}, got ${limit}`);
    this.forget(tenant, name);
    return this.#q('UPDATE functions SET reserved_concurrency = ? WHERE tenant = ? AND name = ?').run(limit, tenant, name).changes === 1;
  }

  list(tenant: string): FunctionRecord[] {
    return (this.#q('SELECT * FROM functions WHERE tenant = ? ORDER BY name').all(tenant) as FunctionRow[]).map((r) => this.#toRecord(r));
  }

  /**
   * Creates the function or replaces its code and configuration, as the next version. Synchronous
   * from version choice to commit, so concurrent deploys of one function cannot pick the same version.
   */
  deploy(tenant: string, name: string, config: FunctionConfig, code: StagedCode, opts: { createOnly?: boolean } = {}): { record: FunctionRecord; created: boolean } {
    const cur = this.#q('SELECT * FROM functions WHERE tenant = ? AND name = ?').get(tenant, name) as FunctionRow | undefined;
    if (cur !== undefined && opts.createOnly === true) throw new StoreError('FARE_E_FUNCTION_EXISTS', `Function already exist: ${name}`);
    const version = this.#nextVersion(tenant, name);
    const rel = versionCodePath(tenant, name, version);
    const now = this.#clock();
    const row: FunctionRow = {
      tenant,
      name,
      runtime: config.runtime,
      handler: config.handler,
      class: config.cls,
      timeout_ms: config.timeoutMs,
      env: JSON.stringify(config.env),
      version,
      code_sha256: code.sha256,
      code_size: code.size,
      code_dir: rel,
      created_at: cur?.created_at ?? now,
      updated_at: now,
      idempotent: config.idempotent === true ? 1 : 0,
      description: config.lambda?.description ?? cur?.description ?? '',
      memory_mb: config.lambda?.memoryMB ?? cur?.memory_mb ?? DEFAULT_MEMORY_MB,
      role: config.lambda?.role ?? cur?.role ?? '',
      lambda_runtime: lambdaRuntimeOf(config, cur),
      // Kept as it is (not written by the upsert): the record says it.
      reserved_concurrency: cur?.reserved_concurrency ?? null,
      revision: randomUUID(),
    };
    commitStaged(this.#dataDir, code.stagedDir, rel);
    try {
      if (code.stagedZip !== undefined) commitZip(this.#dataDir, code.stagedZip, code.sha256);
      this.#db.transaction(() => {
        this.#bumpVersion(tenant, name, version);
        this.#upsert(row);
      })();
    } catch (e) {
      this.forget(tenant, name);
      removeTree(this.#dataDir, rel);
      this.releaseZips([code.sha256]);
      throw e;
    }
    pruneVersions(this.#dataDir, tenant, name, version, this.keptCode(tenant, name).add(rel));
    // The replaced code's zip goes unless a published version (or another function) has it.
    if (cur !== undefined && cur.code_sha256 !== code.sha256) this.releaseZips([cur.code_sha256]);
    return { record: this.#toRecord(row), created: cur === undefined };
  }

  /** Changes configuration only (same code), as the next version; undefined if there is no such function. */
  update(tenant: string, name: string, patch: FunctionPatch): FunctionRecord | undefined {
    return this.#db.transaction((): FunctionRecord | undefined => {
      const cur = this.#q('SELECT * FROM functions WHERE tenant = ? AND name = ?').get(tenant, name) as FunctionRow | undefined;
      if (cur === undefined) return undefined;
      const version = this.#nextVersion(tenant, name);
      const row: FunctionRow = {
        ...cur,
        runtime: patch.runtime ?? cur.runtime,
        handler: patch.handler ?? cur.handler,
        class: patch.cls ?? cur.class,
        timeout_ms: patch.timeoutMs ?? cur.timeout_ms,
        env: patch.env !== undefined ? JSON.stringify(patch.env) : cur.env,
        idempotent: patch.idempotent === undefined ? cur.idempotent : patch.idempotent ? 1 : 0,
        description: patch.lambda?.description ?? cur.description,
        memory_mb: patch.lambda?.memoryMB ?? cur.memory_mb,
        role: patch.lambda?.role ?? cur.role,
        lambda_runtime: lambdaRuntimeOf(patch, cur),
        version,
        updated_at: this.#clock(),
        revision: randomUUID(),
      };
      this.#bumpVersion(tenant, name, version);
      this.#upsert(row);
      return this.#toRecord(row);
    })();
  }

  /** Code directories (relative to the data directory) that published versions of the function run. */
  keptCode(tenant: string, name: string): Set<string> {
    const rows = this.#q('SELECT code_dir FROM function_published WHERE tenant = ? AND name = ?').all(tenant, name) as { code_dir: string }[];
    return new Set(rows.map((r) => r.code_dir));
  }

  /** Deletes the row (its published versions, aliases and tags with it), the grants on it, its logs and all its code; false if there was no such function. */
  delete(tenant: string, name: string): boolean {
    let shas: string[] = [];
    const deleted = this.#db.transaction(() => {
      shas = this.codeShas(tenant, name);
      this.#q('DELETE FROM grants WHERE owner = ? AND function = ?').run(tenant, name);
      this.forget(tenant, name);
      const gone = this.#q('DELETE FROM functions WHERE tenant = ? AND name = ?').run(tenant, name).changes === 1;
      if (gone) this.#logs.deleteFunction(tenant, name);
      return gone;
    })();
    if (deleted) {
      removeTree(this.#dataDir, functionCodePath(tenant, name));
      this.releaseZips(shas);
    }
    return deleted;
  }

  // ---- uploaded zips ----------------------------------------------------------------------------

  /**
   * Where the upload with this hex SHA-256 is kept, if it is a hash; the file is there only for code
   * uploaded as a zip since Fare kept uploads (open it, and rebuild a zip from the code if it is not).
   */
  zipFile(sha: string): string | undefined {
    return zipPath(this.#dataDir, sha);
  }

  /** The code hashes of a function's `$LATEST` and published versions. */
  codeShas(tenant: string, name: string): string[] {
    const rows = this.#q('SELECT code_sha256 FROM functions WHERE tenant = ? AND name = ? UNION SELECT code_sha256 FROM function_published WHERE tenant = ? AND name = ?').all(tenant, name, tenant, name) as { code_sha256: string }[];
    return rows.map((r) => r.code_sha256);
  }

  /** Deletes the kept zips of `shas` that no `$LATEST` or published version has any more. */
  releaseZips(shas: Iterable<string>): void {
    releaseZips(this.#q, this.#dataDir, shas);
  }

  /**
   * Keeps a staged zip (`stageZip`) as `zips/<sha>.zip` if some function's `$LATEST` or published
   * version has that code, else deletes it; true if kept. For code that arrives by other ways than
   * `deploy` (a cluster's other gateways).
   */
  keepZip(stagedZip: string, sha: string): boolean {
    if (zipPath(this.#dataDir, sha) !== undefined && zipInUse(this.#q, sha)) {
      commitZip(this.#dataDir, stagedZip, sha);
      return true;
    }
    rmSync(stagedZip, { force: true });
    return false;
  }

  /** Deletes kept zips that nothing has any more (left by a crash between a commit and the deletion); returns how many. */
  sweepZips(): number {
    const kept = listZips(this.#dataDir);
    if (kept.length === 0) return 0;
    const rows = this.#q('SELECT code_sha256 FROM functions UNION SELECT code_sha256 FROM function_published').all() as { code_sha256: string }[];
    const used = new Set(rows.map((r) => r.code_sha256));
    let n = 0;
    for (const sha of kept) {
      if (used.has(sha)) continue;
      removeZip(this.#dataDir, sha);
      n++;
    }
    return n;
  }

  #nextVersion(tenant: string, name: string): number {
    const r = this.#q('SELECT version FROM function_versions WHERE tenant = ? AND name = ?').get(tenant, name) as { version: number } | undefined;
    return (r?.version ?? 0) + 1;
  }

  #bumpVersion(tenant: string, name: string, version: number): void {
    this.#q(
      'INSERT INTO function_versions (tenant, name, version) VALUES (?, ?, ?) ON CONFLICT (tenant, name) DO UPDATE SET version = excluded.version',
    ).run(tenant, name, version);
  }

  #upsert(row: FunctionRow): void {
    this.forget(row.tenant, row.name);
    this.#q(
      `INSERT INTO functions (tenant, name, runtime, handler, class, timeout_ms, env, version, code_sha256, code_size, code_dir, created_at, updated_at, idempotent,
                             description, memory_mb, role, lambda_runtime, revision)
       VALUES (@tenant, @name, @runtime, @handler, @class, @timeout_ms, @env, @version, @code_sha256, @code_size, @code_dir, @created_at, @updated_at, @idempotent,
               @description, @memory_mb, @role, @lambda_runtime, @revision)
       ON CONFLICT (tenant, name) DO UPDATE SET
         runtime = excluded.runtime, handler = excluded.handler, class = excluded.class, timeout_ms = excluded.timeout_ms,
         env = excluded.env, version = excluded.version, code_sha256 = excluded.code_sha256, code_size = excluded.code_size,
         code_dir = excluded.code_dir, updated_at = excluded.updated_at, idempotent = excluded.idempotent,
         description = excluded.description, memory_mb = excluded.memory_mb, role = excluded.role,
         lambda_runtime = excluded.lambda_runtime, revision = excluded.revision`,
    ).run(row);
  }

  #toRecord(r: FunctionRow): FunctionRecord {
    return functionRecordOf(r, this.#dataDir);
  }
}

/**
 * The Lambda runtime name to keep: the one given; else the current one while Fare's runtime stays
 * the same (a change of runtime through Fare's API forgets it).
 */
function lambdaRuntimeOf(config: Partial<FunctionConfig>, cur: FunctionRow | undefined): string {
  if (config.lambda?.lambdaRuntime !== undefined) return config.lambda.lambdaRuntime;
  if (cur === undefined) return '';
  return config.runtime === undefined || config.runtime === cur.runtime ? cur.lambda_runtime : '';
}
