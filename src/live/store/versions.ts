// Lambda's published versions, aliases and tags of a function. A published version is an immutable
// copy of the function's row (settings, code directory, internal version) numbered 1, 2, … per
// function; an alias names a published version or `$LATEST`, and may route a share of its
// invocations to one more published version (Lambda's weighted aliases); `resolve` turns any
// qualifier into the record to run and the version Lambda reports as executed, choosing between a
// weighted alias's two versions by a draw its caller makes (the store draws nothing itself). Rows go
// with their function (foreign keys, ON DELETE CASCADE); a published version's code directory is
// kept while it exists (FunctionRepo.keptCode).

import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { removeTree } from './code.ts';
import { functionRecordOf, releaseZips, type FunctionRecord, type FunctionRow } from './functions.ts';
import { statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';
import { lambdaVersion } from '../types.ts';

export const LATEST = '$LATEST';

/** A weighted alias's additional version (Lambda's `AdditionalVersionWeights`, one entry). */
export interface AliasRouting {
  /** A published version's number, as text; never the alias's own target. */
  readonly version: string;
  /** The share of invocations it runs, 0.0–1.0. */
  readonly weight: number;
}

export interface Alias {
  readonly tenant: string;
  readonly name: string;
  readonly alias: string;
  /** `$LATEST` or a published version's number, as text. */
  readonly target: string;
  /** Weighted routing to a second published version (the target is then a published version too). */
  readonly routing?: AliasRouting;
  readonly description: string;
  readonly revision: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a qualifier names: the record to run and the version Lambda reports (`$LATEST` or a number). */
export interface Resolved {
  readonly fn: FunctionRecord;
  readonly executedVersion: string;
  /** The alias the qualifier named, if it named one. */
  readonly alias?: string;
}

interface PublishedRow extends FunctionRow {
  number: number;
}

interface AliasRow {
  tenant: string;
  name: string;
  alias: string;
  target: string;
  routing_version: string | null;
  routing_weight: number | null;
  description: string;
  revision: string;
  created_at: number;
  updated_at: number;
}

const aliasOf = (r: AliasRow): Alias => ({
  tenant: r.tenant,
  name: r.name,
  alias: r.alias,
  target: r.target,
  ...(r.routing_version !== null && r.routing_weight !== null ? { routing: { version: r.routing_version, weight: r.routing_weight } } : {}),
  description: r.description,
  revision: r.revision,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const routingColumns = (r: AliasRouting | undefined): Pick<AliasRow, 'routing_version' | 'routing_weight'> => ({
  routing_version: r?.version ?? null,
  routing_weight: r?.weight ?? null,
});

/** A qualifier that is a version number (Lambda: digits; aliases may not be all digits). */
export const isVersionNumber = (q: string): boolean => /^[0-9]{1,10}$/.test(q);

export class VersionRepo {
  readonly #db: Database.Database;
  readonly #q: Prepare;
  readonly #clock: Clock;
  readonly #dataDir: string;

  constructor(db: Database.Database, clock: Clock, dataDir: string) {
    this.#db = db;
    this.#q = statementCache(db);
    this.#clock = clock;
    this.#dataDir = dataDir;
  }

  // ---- versions ---------------------------------------------------------------------------------

  /**
   * Publishes `$LATEST` as the next version, or returns the newest published version when `$LATEST`
   * has not changed since (as Lambda does). Undefined if there is no such function.
   */
  publish(tenant: string, name: string, description?: string): { record: FunctionRecord; created: boolean } | undefined {
    return this.#db.transaction(() => {
      const cur = this.#q('SELECT * FROM functions WHERE tenant = ? AND name = ?').get(tenant, name) as FunctionRow | undefined;
      if (cur === undefined) return undefined;
      const newest = this.#q('SELECT * FROM function_published WHERE tenant = ? AND name = ? ORDER BY number DESC LIMIT 1').get(tenant, name) as PublishedRow | undefined;
      if (newest !== undefined && newest.version === cur.version) return { record: this.#published(newest), created: false };
      const row: PublishedRow = {
        ...cur,
        number: (newest?.number ?? 0) + 1,
        description: description ?? cur.description,
        revision: randomUUID(),
        created_at: this.#clock(),
      };
      this.#q(
        `INSERT INTO function_published (tenant, name, number, version, runtime, lambda_runtime, handler, class, timeout_ms, env, idempotent,
           code_sha256, code_size, code_dir, description, memory_mb, role, revision, created_at)
         VALUES (@tenant, @name, @number, @version, @runtime, @lambda_runtime, @handler, @class, @timeout_ms, @env, @idempotent,
           @code_sha256, @code_size, @code_dir, @description, @memory_mb, @role, @revision, @created_at)`,
      ).run(row);
      return { record: this.#published(row), created: true };
    })();
  }

  /** A published version, or undefined. */
  version(tenant: string, name: string, number: number): FunctionRecord | undefined {
    const r = this.#q('SELECT * FROM function_published WHERE tenant = ? AND name = ? AND number = ?').get(tenant, name, number) as PublishedRow | undefined;
    return r === undefined ? undefined : this.#published(r);
  }

  /** Published versions, oldest first. */
  versions(tenant: string, name: string): FunctionRecord[] {
    return (this.#q('SELECT * FROM function_published WHERE tenant = ? AND name = ? ORDER BY number').all(tenant, name) as PublishedRow[]).map((r) => this.#published(r));
  }

  /**
   * Deletes a published version: 'gone' if there is none, 'aliased' (nothing deleted) while an alias
   * names it or routes to it. Its code directory goes unless `$LATEST` or another version runs it.
   */
  deleteVersion(tenant: string, name: string, number: number): 'deleted' | 'gone' | 'aliased' {
    const sha = (this.#q('SELECT code_sha256 FROM function_published WHERE tenant = ? AND name = ? AND number = ?').get(tenant, name, number) as { code_sha256: string } | undefined)?.code_sha256;
    const result = this.#db.transaction((): { outcome: 'deleted' | 'gone' | 'aliased'; dir?: string } => {
      const r = this.#q('SELECT code_dir FROM function_published WHERE tenant = ? AND name = ? AND number = ?').get(tenant, name, number) as { code_dir: string } | undefined;
      if (r === undefined) return { outcome: 'gone' };
      const v = String(number);
      if (this.#q('SELECT 1 FROM function_aliases WHERE tenant = ? AND name = ? AND (target = ? OR routing_version = ?)').get(tenant, name, v, v) !== undefined) return { outcome: 'aliased' };
      this.#q('DELETE FROM function_published WHERE tenant = ? AND name = ? AND number = ?').run(tenant, name, number);
      const used =
        this.#q('SELECT 1 FROM functions WHERE tenant = ? AND name = ? AND code_dir = ?').get(tenant, name, r.code_dir) !== undefined ||
        this.#q('SELECT 1 FROM function_published WHERE tenant = ? AND name = ? AND code_dir = ?').get(tenant, name, r.code_dir) !== undefined;
      return used ? { outcome: 'deleted' } : { outcome: 'deleted', dir: r.code_dir };
    })();
    if (result.dir !== undefined) removeTree(this.#dataDir, result.dir);
    // Its zip goes unless any function's `$LATEST` or published version has that code.
    if (result.outcome === 'deleted' && sha !== undefined) releaseZips(this.#q, this.#dataDir, [sha]);
    return result.outcome;
  }

  // ---- qualifiers -------------------------------------------------------------------------------

  /**
   * The record a qualifier names: none or `$LATEST` → the function's current row; digits → that
   * published version; otherwise an alias (its target resolved). Undefined when the function, the
   * version or the alias does not exist.
   *
   * `draw` (uniform in [0, 1), made by the caller: an invocation draws one at random) chooses a
   * weighted alias's version: its additional version when `draw < weight`, else its target. Without
   * a draw an alias resolves to its target (what reading a configuration reports).
   */
  resolve(tenant: string, name: string, qualifier: string | undefined, latest: () => FunctionRecord | undefined, draw?: number): Resolved | undefined {
    if (qualifier === undefined || qualifier === LATEST) {
      const fn = latest();
      return fn === undefined ? undefined : { fn, executedVersion: lambdaVersion(fn) };
    }
    if (isVersionNumber(qualifier)) {
      const fn = this.version(tenant, name, Number(qualifier));
      return fn === undefined ? undefined : { fn, executedVersion: lambdaVersion(fn) };
    }
    const a = this.alias(tenant, name, qualifier);
    if (a === undefined) return undefined;
    const chosen = a.routing !== undefined && draw !== undefined && draw < a.routing.weight ? a.routing.version : a.target;
    const target = this.resolve(tenant, name, chosen, latest);
    return target === undefined ? undefined : { ...target, alias: a.alias };
  }

  // ---- aliases ----------------------------------------------------------------------------------

  alias(tenant: string, name: string, alias: string): Alias | undefined {
    const r = this.#q('SELECT * FROM function_aliases WHERE tenant = ? AND name = ? AND alias = ?').get(tenant, name, alias) as AliasRow | undefined;
    return r === undefined ? undefined : aliasOf(r);
  }

  aliases(tenant: string, name: string): Alias[] {
    return (this.#q('SELECT * FROM function_aliases WHERE tenant = ? AND name = ? ORDER BY alias').all(tenant, name) as AliasRow[]).map(aliasOf);
  }

  /**
   * Creates an alias; undefined if it exists already. The caller has checked the function, the
   * target and the routing (its version published, not the target; the target then not `$LATEST`).
   */
  createAlias(tenant: string, name: string, alias: string, target: string, description: string, routing?: AliasRouting): Alias | undefined {
    const now = this.#clock();
    const row: AliasRow = { tenant, name, alias, target, ...routingColumns(routing), description, revision: randomUUID(), created_at: now, updated_at: now };
    const n = this.#q(
      `INSERT INTO function_aliases (tenant, name, alias, target, routing_version, routing_weight, description, revision, created_at, updated_at)
       VALUES (@tenant, @name, @alias, @target, @routing_version, @routing_weight, @description, @revision, @created_at, @updated_at) ON CONFLICT DO NOTHING`,
    ).run(row).changes;
    return n === 1 ? aliasOf(row) : undefined;
  }

  /**
   * Changes an alias's target, description or routing (`routing: null` removes it; left out, it is
   * kept); undefined if there is no such alias. The caller has checked the result as for createAlias.
   */
  updateAlias(tenant: string, name: string, alias: string, patch: { target?: string; description?: string; routing?: AliasRouting | null }): Alias | undefined {
    return this.#db.transaction(() => {
      const cur = this.alias(tenant, name, alias);
      if (cur === undefined) return undefined;
      const row: AliasRow = {
        tenant,
        name,
        alias,
        target: patch.target ?? cur.target,
        ...routingColumns(patch.routing === undefined ? cur.routing : (patch.routing ?? undefined)),
        description: patch.description ?? cur.description,
        revision: randomUUID(),
        created_at: cur.createdAt,
        updated_at: this.#clock(),
      };
      this.#q(
        `UPDATE function_aliases SET target = @target, routing_version = @routing_version, routing_weight = @routing_weight, description = @description,
           revision = @revision, updated_at = @updated_at WHERE tenant = @tenant AND name = @name AND alias = @alias`,
      ).run(row);
      return aliasOf(row);
    })();
  }

  deleteAlias(tenant: string, name: string, alias: string): boolean {
    return this.#q('DELETE FROM function_aliases WHERE tenant = ? AND name = ? AND alias = ?').run(tenant, name, alias).changes === 1;
  }

  // ---- tags -------------------------------------------------------------------------------------

  tags(tenant: string, name: string): Record<string, string> {
    const rows = this.#q('SELECT key, value FROM function_tags WHERE tenant = ? AND name = ? ORDER BY key').all(tenant, name) as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** Sets tags (a key given again takes the new value). */
  tag(tenant: string, name: string, tags: Readonly<Record<string, string>>): void {
    const put = this.#q('INSERT INTO function_tags (tenant, name, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, name, key) DO UPDATE SET value = excluded.value');
    this.#db.transaction(() => {
      for (const [k, v] of Object.entries(tags)) put.run(tenant, name, k, v);
    })();
  }

  untag(tenant: string, name: string, keys: readonly string[]): void {
    const del = this.#q('DELETE FROM function_tags WHERE tenant = ? AND name = ? AND key = ?');
    this.#db.transaction(() => {
      for (const k of keys) del.run(tenant, name, k);
    })();
  }

  #published(r: PublishedRow): FunctionRecord {
    return functionRecordOf({ ...r, updated_at: r.created_at }, this.#dataDir, r.number);
  }
}
