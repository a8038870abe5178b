// Lambda's function URLs: each names a function's `$LATEST` or one of its aliases, has an id of its
// own (the part of the URL that routes to it, random and never derived from the name), an auth type,
// CORS settings and an invoke mode (buffered or streamed). Rows go with their function (ON DELETE CASCADE).

import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';

export type UrlAuthType = 'NONE' | 'AWS_IAM';
/** BUFFERED: the function's answer becomes the response; RESPONSE_STREAM: the response goes out as the function streams it. */
export type UrlInvokeMode = 'BUFFERED' | 'RESPONSE_STREAM';

/** Lambda's Cors settings of a function URL. */
export interface UrlCors {
  readonly AllowCredentials?: boolean;
  readonly AllowHeaders?: readonly string[];
  readonly AllowMethods?: readonly string[];
  readonly AllowOrigins?: readonly string[];
  readonly ExposeHeaders?: readonly string[];
  readonly MaxAge?: number;
}

export interface FunctionUrl {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  /** '' for `$LATEST`, else an alias name. */
  readonly qualifier: string;
  readonly authType: UrlAuthType;
  readonly cors: UrlCors;
  readonly invokeMode: UrlInvokeMode;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface UrlRow {
  url_id: string;
  tenant: string;
  name: string;
  qualifier: string;
  auth_type: UrlAuthType;
  cors: string;
  invoke_mode: UrlInvokeMode;
  created_at: number;
  updated_at: number;
}

const urlOf = (r: UrlRow): FunctionUrl => ({
  id: r.url_id,
  tenant: r.tenant,
  name: r.name,
  qualifier: r.qualifier,
  authType: r.auth_type,
  cors: JSON.parse(r.cors) as UrlCors,
  invokeMode: r.invoke_mode,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** 32 characters of [a-z0-9], as Lambda's URL ids (about 165 bits). */
function newUrlId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = '';
  // Rejection sampling keeps every character equally likely.
  while (id.length < 32) {
    for (const b of randomBytes(48)) if (b < 252 && id.length < 32) id += alphabet[b % 36];
  }
  return id;
}

export class UrlRepo {
  readonly #q: Prepare;
  readonly #clock: Clock;

  constructor(db: Database.Database, clock: Clock) {
    this.#q = statementCache(db);
    this.#clock = clock;
  }

  byId(id: string): FunctionUrl | undefined {
    const r = this.#q('SELECT * FROM function_urls WHERE url_id = ?').get(id) as UrlRow | undefined;
    return r === undefined ? undefined : urlOf(r);
  }

  get(tenant: string, name: string, qualifier: string): FunctionUrl | undefined {
    const r = this.#q('SELECT * FROM function_urls WHERE tenant = ? AND name = ? AND qualifier = ?').get(tenant, name, qualifier) as UrlRow | undefined;
    return r === undefined ? undefined : urlOf(r);
  }

  list(tenant: string, name: string): FunctionUrl[] {
    return (this.#q('SELECT * FROM function_urls WHERE tenant = ? AND name = ? ORDER BY qualifier').all(tenant, name) as UrlRow[]).map(urlOf);
  }

  /** Creates the URL; undefined if the function (or alias) has one already. */
  create(tenant: string, name: string, qualifier: string, authType: UrlAuthType, cors: UrlCors, invokeMode: UrlInvokeMode = 'BUFFERED'): FunctionUrl | undefined {
    const now = this.#clock();
    const row: UrlRow = { url_id: newUrlId(), tenant, name, qualifier, auth_type: authType, cors: JSON.stringify(cors), invoke_mode: invokeMode, created_at: now, updated_at: now };
    const n = this.#q(
      `INSERT INTO function_urls (url_id, tenant, name, qualifier, auth_type, cors, invoke_mode, created_at, updated_at)
       VALUES (@url_id, @tenant, @name, @qualifier, @auth_type, @cors, @invoke_mode, @created_at, @updated_at) ON CONFLICT DO NOTHING`,
    ).run(row).changes;
    return n === 1 ? urlOf(row) : undefined;
  }

  update(tenant: string, name: string, qualifier: string, patch: { authType?: UrlAuthType; cors?: UrlCors; invokeMode?: UrlInvokeMode }): FunctionUrl | undefined {
    const cur = this.get(tenant, name, qualifier);
    if (cur === undefined) return undefined;
    const row: UrlRow = {
      url_id: cur.id,
      tenant,
      name,
      qualifier,
      auth_type: patch.authType ?? cur.authType,
      cors: JSON.stringify(patch.cors ?? cur.cors),
      invoke_mode: patch.invokeMode ?? cur.invokeMode,
      created_at: cur.createdAt,
      updated_at: this.#clock(),
    };
    this.#q('UPDATE function_urls SET auth_type = @auth_type, cors = @cors, invoke_mode = @invoke_mode, updated_at = @updated_at WHERE url_id = @url_id').run(row);
    return urlOf(row);
  }

  delete(tenant: string, name: string, qualifier: string): boolean {
    return this.#q('DELETE FROM function_urls WHERE tenant = ? AND name = ? AND qualifier = ?').run(tenant, name, qualifier).changes === 1;
  }
}
