// The schema of the store as an ordered list of migrations, and the function that applies them.
// `schema_version` holds the number of the last migration applied; each migration runs in its own
// transaction together with the version bump, so a crash leaves the database at a whole version.

import type Database from 'better-sqlite3';
import { StoreError } from './errors.ts';
import { deriveKey, openSecret } from './master-key.ts';
import { secretVerifier, VERIFIER_PURPOSE } from './secrets.ts';

/** What a migration's code may need beyond the database. */
export interface MigrationEnv {
  /** The data directory's master key (to read sealed secrets). */
  readonly master: Buffer;
}

export interface Migration {
  /** 1, 2, 3, … in order, never reused. */
  readonly version: number;
  readonly description: string;
  readonly sql: string;
  /** Runs after `sql`, in the same transaction: data changes that need code (and `env`). */
  readonly run?: (db: Database.Database, env: MigrationEnv) => void;
}

/** Never edit a migration that has shipped: add the next one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'tenants, credentials, grants, functions, async invocations, billing',
    sql: `
      CREATE TABLE tenants (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        budget_uc     REAL,                      -- monthly budget in µ¢; NULL: no budget
        over_budget   TEXT NOT NULL CHECK (over_budget IN ('throttle', 'degrade')),
        created_at    INTEGER NOT NULL           -- ms since the epoch
      ) STRICT;

      CREATE TABLE credentials (
        access_key_id TEXT PRIMARY KEY,
        tenant        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        secret_hash   TEXT NOT NULL,             -- scrypt$N$r$p$salt$hash (base64)
        secret_enc    TEXT NOT NULL,             -- AES-256-GCM under master.key, for SigV4
        admin         INTEGER NOT NULL CHECK (admin IN (0, 1)),
        created_at    INTEGER NOT NULL,
        revoked_at    INTEGER
      ) STRICT;
      CREATE INDEX credentials_by_tenant ON credentials(tenant);

      CREATE TABLE grants (
        owner         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        function      TEXT NOT NULL,             -- a function name of owner, or '*' for all
        grantee       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (owner, function, grantee)
      ) STRICT;
      CREATE INDEX grants_by_grantee ON grants(grantee);

      CREATE TABLE functions (
        tenant        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        runtime       TEXT NOT NULL CHECK (runtime IN ('nodejs', 'python', 'provided')),
        handler       TEXT NOT NULL,
        class         TEXT NOT NULL,             -- price-class name
        timeout_ms    INTEGER NOT NULL,
        env           TEXT NOT NULL,             -- JSON object of strings
        version       INTEGER NOT NULL,
        code_sha256   TEXT NOT NULL,             -- hex, of the uploaded zip
        code_size     INTEGER NOT NULL,          -- bytes of the uploaded zip
        code_dir      TEXT NOT NULL,             -- <data>/code/<tenant>/<name>/<version>
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (tenant, name)
      ) STRICT;

      -- Highest version ever given to (tenant, name): survives a delete, so versions are never reused.
      CREATE TABLE function_versions (
        tenant        TEXT NOT NULL,
        name          TEXT NOT NULL,
        version       INTEGER NOT NULL,
        PRIMARY KEY (tenant, name)
      ) STRICT;

      CREATE TABLE invocations (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,   -- arrival order
        id             TEXT NOT NULL UNIQUE,                -- request id returned with the 202
        tenant         TEXT NOT NULL,                       -- owner of the function (pays)
        function       TEXT NOT NULL,
        version        INTEGER NOT NULL,                    -- at enqueue; the version run, once claimed
        caller         TEXT NOT NULL,                       -- tenant that invoked
        class          TEXT NOT NULL,                       -- effective class name
        class_index    INTEGER NOT NULL,                    -- its index when enqueued (claim order)
        payload        BLOB NOT NULL,
        client_context TEXT,
        status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        attempts       INTEGER NOT NULL DEFAULT 0,
        run_after      INTEGER NOT NULL,                    -- not claimed before this time (retry backoff)
        result         BLOB,
        function_error TEXT,                                -- Handled | Unhandled
        error          TEXT,                                -- error type or platform error
        created_at     INTEGER NOT NULL,
        started_at     INTEGER,
        finished_at    INTEGER
      ) STRICT;
      CREATE INDEX invocations_queue ON invocations(status, class_index, seq);

      CREATE TABLE billing (
        id             TEXT PRIMARY KEY,                    -- request id (sync) or <invocation>#<attempt>
        invocation_id  TEXT NOT NULL,
        tenant         TEXT NOT NULL,                       -- who pays: the function's owner
        function       TEXT NOT NULL,
        caller         TEXT NOT NULL,
        class          TEXT NOT NULL,                       -- class charged
        cpu_ms         REAL NOT NULL,
        mem_gbs        REAL NOT NULL,
        price          REAL NOT NULL,                       -- µ¢ per CPU-second of that class
        memory_price   REAL NOT NULL,                       -- µ¢ per GB-second
        cost_uc        REAL NOT NULL,                       -- µ¢
        month          TEXT NOT NULL,                       -- YYYY-MM (UTC)
        at             INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX billing_by_tenant_month ON billing(tenant, month, function);

      -- Running totals kept in the same transaction as each billing row: budget checks read one row.
      CREATE TABLE usage_monthly (
        tenant         TEXT NOT NULL,
        month          TEXT NOT NULL,
        invocations    INTEGER NOT NULL,
        cpu_ms         REAL NOT NULL,
        mem_gbs        REAL NOT NULL,
        cost_uc        REAL NOT NULL,
        PRIMARY KEY (tenant, month)
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'function logs: one entry per execution, bounded per function',
    sql: `
      -- One row per execution (a sync invocation, or one attempt of an async one): Lambda's START /
      -- output / END / REPORT text. Columns before text are read without touching its overflow pages.
      CREATE TABLE logs (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,   -- write order, never reused: newest last
        tenant         TEXT NOT NULL,                       -- owner of the function
        function       TEXT NOT NULL,
        request_id     TEXT NOT NULL,
        attempt        INTEGER NOT NULL,                    -- 1 for sync; the attempt number for async
        type           TEXT NOT NULL CHECK (type IN ('sync', 'async')),
        version        INTEGER NOT NULL,                    -- the version that ran
        class          TEXT NOT NULL,                       -- effective class (as billed)
        status         TEXT NOT NULL CHECK (status IN ('ok', 'error')),
        error_type     TEXT,
        duration_ms    REAL NOT NULL,
        cpu_ms         REAL NOT NULL,
        cost_uc        REAL NOT NULL,
        at             INTEGER NOT NULL,                    -- when it ended (ms since the epoch)
        bytes          INTEGER NOT NULL,                    -- UTF-8 bytes of text
        truncated      INTEGER NOT NULL CHECK (truncated IN (0, 1)),
        text           TEXT NOT NULL
      ) STRICT;
      -- The only index: a function's entries in order, with what the since and request filters read.
      CREATE INDEX logs_by_function ON logs(tenant, function, seq, at, request_id);

      -- Entries and bytes kept per function, updated with every write and prune: retention is
      -- enforced without counting rows.
      CREATE TABLE log_totals (
        tenant         TEXT NOT NULL,
        function       TEXT NOT NULL,
        entries        INTEGER NOT NULL,
        bytes          INTEGER NOT NULL,
        PRIMARY KEY (tenant, function)
      ) STRICT;

      -- A deleted function's entries up to seq are gone for readers at once and deleted in small
      -- batches afterwards (so a delete never stalls the process); the row goes when they have.
      CREATE TABLE log_floors (
        tenant         TEXT NOT NULL,
        function       TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        PRIMARY KEY (tenant, function)
      ) STRICT;
    `,
  },
  {
    version: 3,
    description: 'budget reservations of queued and running async invocations',
    sql: `
      -- The estimated cost (µ¢) this invocation holds against its owner's budget: from acceptance (or
      -- its claim) until its attempt is billed; 0 while it waits for a retry or holds nothing.
      -- Summed per tenant at open, so a restart keeps the reservations of what is still queued.
      ALTER TABLE invocations ADD COLUMN reserved_uc REAL NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 4,
    description: 'credentials: an HMAC verifier of the secret replaces its scrypt hash',
    // The verifier needs master.key (each secret is read from its sealed copy), so it is computed by
    // `run`; then the scrypt hashes go.
    sql: `
      ALTER TABLE credentials ADD COLUMN verifier BLOB NOT NULL DEFAULT x'';  -- HMAC-SHA256 of id:secret (secrets.ts)
    `,
    run: (db, env) => {
      const key = deriveKey(env.master, VERIFIER_PURPOSE);
      const rows = db.prepare('SELECT access_key_id, secret_enc FROM credentials').all() as { access_key_id: string; secret_enc: string }[];
      const update = db.prepare('UPDATE credentials SET verifier = ? WHERE access_key_id = ?');
      for (const r of rows) update.run(secretVerifier(key, r.access_key_id, openSecret(env.master, r.secret_enc, r.access_key_id)), r.access_key_id);
      db.exec('ALTER TABLE credentials DROP COLUMN secret_hash');
    },
  },
  {
    version: 5,
    description: 'functions: idempotent (a sync call whose worker was lost may be run again)',
    sql: `
      ALTER TABLE functions ADD COLUMN idempotent INTEGER NOT NULL DEFAULT 0;  -- 1: safe to run twice
    `,
  },
  {
    version: 6,
    description: 'cluster gateways: an outbox of changes to share through JetStream, and the ledger position',
    // Empty and unused under `fare up`. A cluster gateway fills `outbox` from triggers (see
    // src/live/cluster/shared-state.ts) and empties it once JetStream has each change.
    sql: `
      CREATE TABLE outbox (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        topic  TEXT NOT NULL,                    -- a shared table, or billing
        key    TEXT NOT NULL                     -- JSON array of the row's primary key
      ) STRICT;
      CREATE TABLE ledger_position (
        stream TEXT PRIMARY KEY,                 -- the JetStream stream of billing records
        seq    INTEGER NOT NULL                  -- the last of its records applied here
      ) STRICT;
    `,
  },
  {
    version: 7,
    description: "Lambda's control plane: functions' Lambda settings, published versions, aliases, tags",
    sql: `
      ALTER TABLE functions ADD COLUMN description    TEXT NOT NULL DEFAULT '';
      ALTER TABLE functions ADD COLUMN memory_mb      INTEGER NOT NULL DEFAULT 128;  -- reported only: Fare bills by use and sets no limit
      ALTER TABLE functions ADD COLUMN role           TEXT NOT NULL DEFAULT '';
      ALTER TABLE functions ADD COLUMN lambda_runtime TEXT NOT NULL DEFAULT '';      -- the Runtime given to Lambda's API (nodejs20.x, …)
      ALTER TABLE functions ADD COLUMN revision       TEXT NOT NULL DEFAULT '';      -- RevisionId: new at every change

      -- Lambda's published versions: an immutable copy of a function's settings, numbered 1, 2, … per
      -- function (again from 1 after a delete and re-create, as Lambda does); \`version\` is the
      -- internal version whose code it runs (its code directory is kept while the version exists).
      CREATE TABLE function_published (
        tenant         TEXT NOT NULL,
        name           TEXT NOT NULL,
        number         INTEGER NOT NULL,
        version        INTEGER NOT NULL,
        runtime        TEXT NOT NULL,
        lambda_runtime TEXT NOT NULL,
        handler        TEXT NOT NULL,
        class          TEXT NOT NULL,
        timeout_ms     INTEGER NOT NULL,
        env            TEXT NOT NULL,
        idempotent     INTEGER NOT NULL,
        code_sha256    TEXT NOT NULL,
        code_size      INTEGER NOT NULL,
        code_dir       TEXT NOT NULL,
        description    TEXT NOT NULL,
        memory_mb      INTEGER NOT NULL,
        role           TEXT NOT NULL,
        revision       TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (tenant, name, number),
        FOREIGN KEY (tenant, name) REFERENCES functions(tenant, name) ON DELETE CASCADE
      ) STRICT;

      -- Aliases name a published version or $LATEST.
      CREATE TABLE function_aliases (
        tenant      TEXT NOT NULL,
        name        TEXT NOT NULL,
        alias       TEXT NOT NULL,
        target      TEXT NOT NULL,               -- '$LATEST' or a published version's number
        description TEXT NOT NULL,
        revision    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant, name, alias),
        FOREIGN KEY (tenant, name) REFERENCES functions(tenant, name) ON DELETE CASCADE
      ) STRICT;

      CREATE TABLE function_tags (
        tenant TEXT NOT NULL,
        name   TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (tenant, name, key),
        FOREIGN KEY (tenant, name) REFERENCES functions(tenant, name) ON DELETE CASCADE
      ) STRICT;

      -- An async invocation of a published version runs that version (NULL: $LATEST).
      ALTER TABLE invocations ADD COLUMN qualifier TEXT;
    `,
  },
  {
    version: 8,
    description: "Lambda's function URLs",
    sql: `
      -- A function URL: an HTTP endpoint of $LATEST or of an alias, public (NONE) or signed (AWS_IAM).
      CREATE TABLE function_urls (
        url_id      TEXT PRIMARY KEY,            -- 32 lower-case letters and digits: the URL's own part
        tenant      TEXT NOT NULL,
        name        TEXT NOT NULL,
        qualifier   TEXT NOT NULL,               -- '' for $LATEST, or an alias name
        auth_type   TEXT NOT NULL CHECK (auth_type IN ('NONE', 'AWS_IAM')),
        cors        TEXT NOT NULL,               -- Lambda's Cors object as JSON ('{}': none)
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        UNIQUE (tenant, name, qualifier),
        FOREIGN KEY (tenant, name) REFERENCES functions(tenant, name) ON DELETE CASCADE
      ) STRICT;
    `,
  },
  {
    version: 9,
    description: "Lambda's weighted aliases (RoutingConfig)",
    sql: `
      -- An alias may route a share of its invocations to one more published version (Lambda's
      -- RoutingConfig.AdditionalVersionWeights, at most one entry): both NULL, or both set.
      ALTER TABLE function_aliases ADD COLUMN routing_version TEXT;   -- a published version's number
      ALTER TABLE function_aliases ADD COLUMN routing_weight  REAL;   -- 0.0–1.0: the share it runs
    `,
  },
  {
    version: 10,
    description: "an Event's trace (X-Amzn-Trace-Id form), continued by its attempts",
    sql: `
      ALTER TABLE invocations ADD COLUMN trace TEXT;   -- NULL: accepted before Fare kept traces
    `,
  },
  {
    version: 11,
    description: "each execution's scheduling receipt, kept with its log entry",
    sql: `
      ALTER TABLE logs ADD COLUMN receipt TEXT;   -- JSON (core/receipt.ts); NULL: written before Fare kept receipts
      CREATE INDEX logs_by_request ON logs(request_id);
    `,
  },
  {
    version: 12,
    description: 'usage per tenant, month, function, class and hour: what the retention clean-up keeps of the billing records it deletes',
    sql: `
      -- The billing records older than the retention (retention.ts), summed per hour before they are
      -- deleted, in the same transaction. Bills read these with the records not yet aggregated.
      -- The sums are kept as their exact partials too (exact-sum.ts: little-endian doubles), so a bill
      -- comes out to the very same double before and after a clean-up.
      CREATE TABLE usage_hourly (
        tenant       TEXT NOT NULL,                 -- who paid (the billing records' tenant)
        month        TEXT NOT NULL,                 -- YYYY-MM (UTC), the records' month
        function     TEXT NOT NULL,
        class        TEXT NOT NULL,                 -- class charged
        hour         INTEGER NOT NULL,              -- start of the hour (UTC), ms since the epoch
        invocations  INTEGER NOT NULL,              -- records (executions) summed
        cpu_ms       REAL NOT NULL,                 -- the sums, correctly rounded
        mem_gbs      REAL NOT NULL,
        cost_uc      REAL NOT NULL,
        cpu_exact    BLOB NOT NULL,                 -- … and exactly, as partials
        mem_exact    BLOB NOT NULL,
        cost_exact   BLOB NOT NULL,
        PRIMARY KEY (tenant, month, function, class, hour)
      ) STRICT;
    `,
  },
  {
    version: 13,
    description: 'the ARN an async invocation was called by (with its alias), as its function is told',
    sql: `
      ALTER TABLE invocations ADD COLUMN invoked_arn TEXT;   -- NULL: called by name alone (or accepted before Fare kept it)
    `,
  },
  {
    version: 14,
    description: "Lambda's event invoke configs: how often and for how long a function's Event invocations are tried",
    sql: `
      -- One per function and qualifier (Lambda's PutFunctionEventInvokeConfig); none: the defaults.
      CREATE TABLE function_event_configs (
        tenant      TEXT NOT NULL,
        name        TEXT NOT NULL,
        qualifier   TEXT NOT NULL,                 -- '$LATEST', a published version's number, or an alias name
        max_retry   INTEGER CHECK (max_retry BETWEEN 0 AND 2),          -- retries after a failed attempt; NULL: 2
        max_age_s   INTEGER CHECK (max_age_s BETWEEN 60 AND 21600),     -- seconds an event may wait to run; NULL: 21600
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant, name, qualifier),
        FOREIGN KEY (tenant, name) REFERENCES functions(tenant, name) ON DELETE CASCADE
      ) STRICT;
      -- A version's or an alias's config goes with it.
      CREATE TRIGGER function_event_configs_version_gone AFTER DELETE ON function_published BEGIN
        DELETE FROM function_event_configs WHERE tenant = OLD.tenant AND name = OLD.name AND qualifier = CAST(OLD.number AS TEXT);
      END;
      CREATE TRIGGER function_event_configs_alias_gone AFTER DELETE ON function_aliases BEGIN
        DELETE FROM function_event_configs WHERE tenant = OLD.tenant AND name = OLD.name AND qualifier = OLD.alias;
      END;
    `,
  },
  {
    version: 15,
    description: "a grant's statement id, when it was made by Lambda's AddPermission",
    sql: `
      ALTER TABLE grants ADD COLUMN sid TEXT;      -- AddPermission's StatementId; NULL: made through /v1/grants
      ALTER TABLE grants ADD COLUMN action TEXT;   -- AddPermission's Action (what its statement says); NULL: made through /v1/grants
    `,
  },
  {
    version: 16,
    description: "event invoke configs' destinations: a function that gets each Event's outcome",
    sql: `
      ALTER TABLE function_event_configs ADD COLUMN on_success TEXT;   -- a function's ARN, invoked (Event) with the record of each success; NULL: none
      ALTER TABLE function_event_configs ADD COLUMN on_failure TEXT;   -- … of each final failure (retries used up, or the event too old)
    `,
  },
  {
    version: 17,
    description: "a function URL's invoke mode: its answer buffered, or streamed as the function writes it",
    sql: `
      ALTER TABLE function_urls ADD COLUMN invoke_mode TEXT NOT NULL DEFAULT 'BUFFERED' CHECK (invoke_mode IN ('BUFFERED', 'RESPONSE_STREAM'));
    `,
  },
  {
    version: 18,
    description: 'schedules (EventBridge Scheduler): a function invoked as an Event at the times an expression names',
    sql: `
      CREATE TABLE schedules (
        tenant         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        grp            TEXT NOT NULL,                       -- the schedule group ('default')
        name           TEXT NOT NULL,
        expression     TEXT NOT NULL,                       -- rate(…), cron(…) or at(…)
        timezone       TEXT NOT NULL,                       -- IANA, for cron and at
        description    TEXT NOT NULL,
        state          TEXT NOT NULL CHECK (state IN ('ENABLED', 'DISABLED')),
        start_at       INTEGER,                             -- ms; NULL: from its creation
        end_at         INTEGER,                             -- ms; NULL: no end
        flexible       TEXT NOT NULL,                       -- FlexibleTimeWindow, JSON
        target         TEXT NOT NULL,                       -- Target (Arn, RoleArn, Input, RetryPolicy, …), JSON
        after_done     TEXT NOT NULL CHECK (after_done IN ('NONE', 'DELETE')),
        anchor_at      INTEGER NOT NULL,                    -- a rate's grid starts here (its start, else its last change)
        next_fire_at   INTEGER,                             -- when it fires next (ms); NULL: never again
        last_fired_at  INTEGER,                             -- the time of its last firing (ms)
        last_outcome   TEXT,                                -- what that firing did (the invocation queued, or why none was)
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (tenant, grp, name)
      ) STRICT;
      CREATE INDEX schedules_due ON schedules(next_fire_at) WHERE state = 'ENABLED' AND next_fire_at IS NOT NULL;
    `,
  },
  {
    version: 19,
    description: "a function's concurrency limit (Lambda's reserved concurrency), over all its versions",
    sql: `
      ALTER TABLE functions ADD COLUMN reserved_concurrency INTEGER CHECK (reserved_concurrency IS NULL OR reserved_concurrency >= 0);   -- NULL: no limit
    `,
  },
];

/** Current schema version of an open database (0: empty). */
export function schemaVersion(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/**
 * Brings the database up to the last migration in `migrations` and returns the versions applied.
 * Refuses a database written by a newer Fare (its version is past the last migration known here).
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS, env?: MigrationEnv): number[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list is broken: entry ${i} has version ${m.version}, expected ${i + 1}`);
  });
  const current = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new StoreError(
      'FARE_E_STORE_TOO_NEW',
      `the store is at schema version ${current}, but this Fare knows only up to ${latest}: run a newer Fare, or point --data at another directory`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    const step = db.transaction(() => {
      db.exec(m.sql);
      if (m.run !== undefined) {
        if (env === undefined) throw new Error('it needs the master key: open the database with Store.open');
        m.run(db, env);
      }
      db.prepare('DELETE FROM schema_version').run();
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
    });
    try {
      step();
    } catch (e) {
      throw new StoreError(
        'FARE_E_STORE_MIGRATION',
        `migration ${m.version} (${m.description}) failed: ${(e as Error).message}; the store is left at version ${schemaVersion(db)}`,
      );
    }
    applied.push(m.version);
  }
  return applied;
}
