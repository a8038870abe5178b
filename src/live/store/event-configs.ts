// Lambda's event invoke configs: per function and qualifier (`$LATEST`, a published version's number
// or an alias), how many times a failed Event invocation is retried (0–2), how long an event may
// wait to run (60 s – 6 h), and the functions that get the record of each success and final failure
// (destinations). The async runner reads them at each claim. Rows go with their function
// (ON DELETE CASCADE), and with their version or alias (triggers of migration 14).

import type Database from 'better-sqlite3';
import { statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';

/** Lambda's defaults, which apply where a config leaves a setting out (or there is none). */
export const DEFAULT_MAX_RETRY_ATTEMPTS = 2;
export const DEFAULT_MAX_EVENT_AGE_S = 21_600;

export interface EventConfig {
  readonly tenant: string;
  readonly name: string;
  /** '$LATEST', a version number, or an alias name. */
  readonly qualifier: string;
  /** Retries after a failed attempt (0–2); undefined: the default (2). */
  readonly maxRetryAttempts?: number;
  /** Seconds an event may wait to run, retries included (60–21,600); undefined: the default (6 h). */
  readonly maxEventAgeS?: number;
  /** Destinations: a function's ARN, invoked (Event) with the record of each success / final failure. */
  readonly onSuccess?: string;
  readonly onFailure?: string;
  readonly updatedAt: number;
}

export interface EventConfigSettings {
  readonly maxRetryAttempts?: number | undefined;
  readonly maxEventAgeS?: number | undefined;
  readonly onSuccess?: string | undefined;
  readonly onFailure?: string | undefined;
}

interface Row {
  tenant: string;
  name: string;
  qualifier: string;
  max_retry: number | null;
  max_age_s: number | null;
  on_success: string | null;
  on_failure: string | null;
  updated_at: number;
}

const configOf = (r: Row): EventConfig => ({
  tenant: r.tenant,
  name: r.name,
  qualifier: r.qualifier,
  ...(r.max_retry !== null ? { maxRetryAttempts: r.max_retry } : {}),
  ...(r.max_age_s !== null ? { maxEventAgeS: r.max_age_s } : {}),
  ...(r.on_success !== null ? { onSuccess: r.on_success } : {}),
  ...(r.on_failure !== null ? { onFailure: r.on_failure } : {}),
  updatedAt: r.updated_at,
});

export class EventConfigRepo {
  readonly #q: Prepare;
  readonly #clock: Clock;

  constructor(db: Database.Database, clock: Clock) {
    this.#q = statementCache(db);
    this.#clock = clock;
  }

  get(tenant: string, name: string, qualifier: string): EventConfig | undefined {
    const r = this.#q('SELECT * FROM function_event_configs WHERE tenant = ? AND name = ? AND qualifier = ?').get(tenant, name, qualifier) as Row | undefined;
    return r === undefined ? undefined : configOf(r);
  }

  /** The function's configs, `$LATEST` first, then versions by number, then aliases by name. */
  list(tenant: string, name: string): EventConfig[] {
    const rows = (this.#q('SELECT * FROM function_event_configs WHERE tenant = ? AND name = ?').all(tenant, name) as Row[]).map(configOf);
    const rank = (q: string): [number, number, string] => (q === '$LATEST' ? [0, 0, ''] : /^[0-9]+$/.test(q) ? [1, Number(q), ''] : [2, 0, q]);
    return rows.sort((a, b) => {
      const x = rank(a.qualifier), y = rank(b.qualifier);
      return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
    });
  }

  /** Sets the config as given (PutFunctionEventInvokeConfig): a setting left out goes back to its default. */
  put(tenant: string, name: string, qualifier: string, s: EventConfigSettings): EventConfig {
    const row: Row = {
      tenant, name, qualifier, max_retry: s.maxRetryAttempts ?? null, max_age_s: s.maxEventAgeS ?? null,
      // '' (an Update that empties a destination) is none.
      on_success: s.onSuccess === undefined || s.onSuccess === '' ? null : s.onSuccess,
      on_failure: s.onFailure === undefined || s.onFailure === '' ? null : s.onFailure,
      updated_at: this.#clock(),
    };
    this.#q(
      `INSERT INTO function_event_configs (tenant, name, qualifier, max_retry, max_age_s, on_success, on_failure, updated_at)
       VALUES (@tenant, @name, @qualifier, @max_retry, @max_age_s, @on_success, @on_failure, @updated_at)
       ON CONFLICT (tenant, name, qualifier) DO UPDATE SET max_retry = excluded.max_retry, max_age_s = excluded.max_age_s,
         on_success = excluded.on_success, on_failure = excluded.on_failure, updated_at = excluded.updated_at`,
    ).run(row);
    return configOf(row);
  }

  /** Changes the settings given (UpdateFunctionEventInvokeConfig), keeping the others; undefined if there is no config. */
  update(tenant: string, name: string, qualifier: string, s: EventConfigSettings): EventConfig | undefined {
    const cur = this.get(tenant, name, qualifier);
    if (cur === undefined) return undefined;
    return this.put(tenant, name, qualifier, {
      maxRetryAttempts: s.maxRetryAttempts ?? cur.maxRetryAttempts,
      maxEventAgeS: s.maxEventAgeS ?? cur.maxEventAgeS,
      onSuccess: s.onSuccess ?? cur.onSuccess,
      onFailure: s.onFailure ?? cur.onFailure,
    });
  }

  delete(tenant: string, name: string, qualifier: string): boolean {
    return this.#q('DELETE FROM function_event_configs WHERE tenant = ? AND name = ? AND qualifier = ?').run(tenant, name, qualifier).changes === 1;
  }
}
