// The embedded state of `fare up`: one SQLite file (`<data>/fare.db`, WAL; a write that returned
// survives `kill -9`, and with `fsync` a power loss too), the master key, and the code tree. Opens,
// migrates and recovers; the repositories do the rest.

import Database from 'better-sqlite3';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BillingRepo } from './billing.ts';
import { budgetState, type BudgetState } from './budget.ts';
import { Checkpointer, type CheckpointStats } from './checkpointer.ts';
import { clearStaging } from './code.ts';
import { CostHistory } from './cost-history.ts';
import { FunctionRepo } from './functions.ts';
import { VersionRepo } from './versions.ts';
import { UrlRepo } from './urls.ts';
import { EventConfigRepo } from './event-configs.ts';
import { ScheduleRepo } from './schedules.ts';
import { InvocationRepo } from './invocations.ts';
import { LogRepo, type LogRetention } from './logs.ts';
import { deriveKey, loadOrCreateMasterKey } from './master-key.ts';
import { migrate, MIGRATIONS } from './migrations.ts';
import { Reservations } from './reservations.ts';
import { checkRetention, Retention, type RetentionOptions } from './retention.ts';
import { monthOf } from './sql.ts';
import { CredentialRepo, GrantRepo, TenantRepo, type Clock, type IssuedCredential, type NewTenant, type Tenant } from './tenants.ts';

export const DB_FILE = 'fare.db';

/**
 * Makes everything under `dir` private to this user: directories 0700, files 0600 (0700 if they
 * were executable). Returns the paths whose modes were looser. Symbolic links are left alone, and
 * so are entries that vanish during the walk: another process closing the database removes its
 * `-shm` and `-wal` files at any moment (`list` is for tests to make one vanish).
 */
export function tightenTree(dir: string, list: (path: string) => string[] = readdirSync): string[] {
  const loose: string[] = [];
  const gone = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';
  const visit = (path: string, top: boolean): void => {
    try {
      const st = lstatSync(path);
      if (st.isSymbolicLink()) return;
      const mode = st.mode & 0o777;
      if (st.isDirectory()) {
        if ((mode & 0o077) !== 0 || (mode & 0o700) !== 0o700) {
          chmodSync(path, 0o700);
          loose.push(path);
        }
        for (const name of list(path)) visit(join(path, name), false);
      } else if ((mode & 0o077) !== 0) {
        chmodSync(path, (mode & 0o100) !== 0 ? 0o700 : 0o600);
        loose.push(path);
      }
    } catch (err) {
      if (top || !gone(err)) throw err;
    }
  };
  visit(dir, true);
  return loose;
}

export interface StoreOptions {
  /** Created (0700) if missing. */
  readonly dataDir: string;
  /** Wall clock in ms since the epoch; tests drive their own. */
  readonly clock?: Clock;
  /**
   * Requeue invocations left `running` by a previous process (default true). Pass false when
   * opening a store that a running `fare up` owns (for example to read bills).
   */
  readonly recoverQueue?: boolean;
  /**
   * @deprecated Ignored. Secrets were once hashed with scrypt; they are verified with an HMAC now
   * (see the README). Still accepted so that callers written before need no change.
   */
  readonly scryptN?: number;
  /**
   * fsync every commit (synchronous=FULL): survives a power loss. Default false (WAL with
   * synchronous=NORMAL): a commit that returned survives a crash or `kill -9` of Fare, and only an
   * operating-system crash or power loss may lose the last commits — at about 0.3 ms less per write.
   */
  readonly fsync?: boolean;
  /**
   * Where WAL checkpoints run: `inline` (default; SQLite's automatic checkpoint, inside the commit
   * that crosses the threshold) or `background` (a worker thread: see checkpointer.ts), which keeps
   * their fsyncs out of the requests of a serving `fare up`.
   */
  readonly checkpoints?: 'inline' | 'background';
  /**
   * With `checkpoints: 'background'`: the write-ahead log's limit in bytes (default 64 MiB,
   * `WAL_LIMIT_BYTES`). Past it the log is reset, so its file stays under twice this size under any
   * sustained load, and a reset log's file is cut back to it (checkpointer.ts).
   */
  readonly walLimitBytes?: number;
  /**
   * Delete invocation records (billing records, summed per hour first, and finished async
   * invocations) and function logs older than `maxAgeMs`, in small batches on a timer of the
   * store's own (retention.ts). Default: kept for ever (`fare up` passes 7 days,
   * `DEFAULT_RETENTION_MS`). Ignored with `recoverQueue: false` (another process owns the store).
   */
  readonly retention?: RetentionOptions;
  /** Function logs kept per function (default `DEFAULT_LOG_RETENTION`: 10,000 entries or 32 MiB). */
  readonly logRetention?: Partial<LogRetention>;
  /** A background write of function logs failed (default: a process warning). */
  readonly onLogError?: (e: unknown) => void;
  /** A batch of deferred billing records could not be written (kept, tried again). Default: a process warning. */
  readonly onBillingError?: (e: unknown) => void;
}

export class Store {
  readonly dataDir: string;
  readonly db: Database.Database;
  readonly clock: Clock;
  readonly tenants: TenantRepo;
  readonly credentials: CredentialRepo;
  readonly grants: GrantRepo;
  readonly functions: FunctionRepo;
  /** Lambda's published versions, aliases and tags. */
  readonly versions: VersionRepo;
  /** Lambda's function URLs. */
  readonly urls: UrlRepo;
  /** Lambda's event invoke configs (retries and maximum age of a function's Event invocations). */
  readonly eventConfigs: EventConfigRepo;
  readonly schedules: ScheduleRepo;
  readonly invocations: InvocationRepo;
  readonly billing: BillingRepo;
  readonly logs: LogRepo;
  /** µ¢ held per tenant by admitted invocations not yet billed (budget admission counts them). */
  readonly reservations: Reservations;
  /** Each function's latest resource use (budget admission estimates from it). */
  readonly costs: CostHistory;
  /** Invocations found `running` at open and requeued. */
  readonly recovered: number;
  /** Files and folders of the data directory that were readable by other users and were made private at open. */
  readonly tightened: readonly string[];
  readonly #master: Buffer;
  readonly #checkpointer: Checkpointer | undefined;
  /** The retention clean-up, when `retention` was given (started at open, unless `deferStart`). */
  readonly retention: Retention | undefined;

  private constructor(opts: StoreOptions) {
    this.dataDir = opts.dataDir;
    this.clock = opts.clock ?? Date.now;
    // Bad options fail before anything is opened.
    if (opts.retention !== undefined) checkRetention(opts.retention);
    // Private from the moment each file exists: the directory 0700, and the database file created
    // 0600 before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode).
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    this.tightened = tightenTree(this.dataDir);
    this.#master = loadOrCreateMasterKey(this.dataDir);
    const file = join(this.dataDir, DB_FILE);
    closeSync(openSync(file, 'a', 0o600));
    this.db = new Database(file);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(opts.fsync ? 'synchronous = FULL' : 'synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      // Statement journals and sort files in memory: a batch of records (billing.ts) otherwise
      // creates, writes and deletes a temporary file under /var/tmp (seen as one per 7 warm calls).
      this.db.pragma('temp_store = MEMORY');
      migrate(this.db, MIGRATIONS, { master: this.#master });
      this.#checkpointer = opts.checkpoints === 'background'
        ? new Checkpointer(this.db, file, opts.walLimitBytes !== undefined ? { limitBytes: opts.walLimitBytes } : {})
        : undefined;
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.tenants = new TenantRepo(this.db, this.clock);
    this.credentials = new CredentialRepo(this.db, this.clock, this.#master);
    this.grants = new GrantRepo(this.db, this.clock);
    this.logs = new LogRepo(this.db, { ...(opts.logRetention ? { retention: opts.logRetention } : {}), ...(opts.onLogError ? { onError: opts.onLogError } : {}) });
    this.functions = new FunctionRepo(this.db, this.clock, this.dataDir, this.logs);
    this.versions = new VersionRepo(this.db, this.clock, this.dataDir);
    this.urls = new UrlRepo(this.db, this.clock);
    this.eventConfigs = new EventConfigRepo(this.db, this.clock);
    this.schedules = new ScheduleRepo(this.db, this.clock);
    this.costs = new CostHistory(this.db, this.clock);
    this.billing = new BillingRepo(this.db, this.clock, this.logs, this.costs, opts.onBillingError);
    this.reservations = new Reservations();
    this.invocations = new InvocationRepo(this.db, this.clock, this.billing, this.reservations);
    if (opts.recoverQueue ?? true) {
      this.recovered = this.invocations.requeueRunning();
      clearStaging(this.dataDir);
      // Zips no function has any more (a crash came between a commit and their deletion).
      this.functions.sweepZips();
      this.logs.sweepLater();
    } else {
      this.recovered = 0;
    }
    this.retention = opts.retention !== undefined && (opts.recoverQueue ?? true)
      ? new Retention({ clock: this.clock, billing: this.billing, logs: this.logs, invocations: this.invocations, held: () => this.#unshared() }, opts.retention)
      : undefined;
    if (opts.retention?.deferStart !== true) this.retention?.start();
    // Queued (and requeued) Event invocations keep the reservations they were admitted with.
    this.invocations.loadReservations();
  }

  static open(opts: StoreOptions): Store {
    return new Store(opts);
  }

  /**
   * Creates a tenant and its first credential in one transaction; the secret is returned only here.
   * (Synchronous work; a promise because hashing the secret once took time.)
   */
  createTenant(t: NewTenant, opts: { admin?: boolean; credential?: { accessKeyId: string; secret: string } } = {}): Promise<{ tenant: Tenant; credential: IssuedCredential }> {
    return new Promise((resolve) => resolve(this.#createTenant(t, opts)));
  }

  #createTenant(t: NewTenant, opts: { admin?: boolean; credential?: { accessKeyId: string; secret: string } }): { tenant: Tenant; credential: IssuedCredential } {
    const pending = this.credentials.issue(t.id, opts.admin ?? false, opts.credential);
    const tenant = this.db.transaction(() => {
      const created = this.tenants.create(t);
      pending.insert();
      return created;
    })();
    return { tenant, credential: pending.issued };
  }

  /**
   * First start: if no administrator credential exists, creates tenant `admin` (if needed) with one
   * and returns it, so `fare up` can print it once. Undefined when an administrator already exists.
   */
  async bootstrapAdmin(id = 'admin', given?: { accessKeyId: string; secret: string }): Promise<IssuedCredential | undefined> {
    if (given) {
      // FARE_ADMIN_KEY: make sure exactly this credential exists (it is not shown: the caller knows it).
      const have = this.credentials.get(given.accessKeyId);
      if (have) return undefined;
      if (this.tenants.get(id) === undefined) {
        await this.createTenant({ id, name: 'Administrator' }, { admin: true, credential: given });
      } else {
        this.credentials.issue(id, true, given).insert();
      }
      return undefined;
    }
    if (this.credentials.hasAdmin()) return undefined;
    if (this.tenants.get(id) === undefined) return (await this.createTenant({ id, name: 'Administrator' }, { admin: true })).credential;
    return this.credentials.create(id, { admin: true });
  }

  /**
   * The tenant's standing against its budget this month, counting what is billed and what admitted
   * invocations hold (`ok` for an unknown tenant).
   */
  budgetState(tenantId: string): BudgetState {
    const tenant = this.tenants.get(tenantId);
    if (tenant === undefined) return 'ok';
    const now = this.clock();
    return budgetState(tenant, this.billing.tenantMonth(tenantId, monthOf(now)).costMicroCents, this.reservations.total(tenantId), now);
  }

  /** A 32-byte key for `purpose`, derived from master.key (e.g. signing invocation contexts). */
  deriveKey(purpose: string): Buffer {
    return deriveKey(this.#master, purpose);
  }

  /**
   * When the oldest billing record or log entry still waiting in the outbox was written (a cluster
   * gateway's, not yet shared: the retention keeps it); Infinity when none is (always under `fare up`).
   */
  #unshared(): number {
    const row = this.db.prepare(
      `SELECT MIN(at) AS at FROM (
         SELECT b.at FROM outbox o JOIN billing b ON b.id = json_extract(o.key, '$[0]') WHERE o.topic = 'billing'
         UNION ALL
         SELECT l.at FROM outbox o JOIN logs l ON l.seq = json_extract(o.key, '$[0]') WHERE o.topic = 'logs')`,
    ).get() as { at: number | null };
    return row.at ?? Infinity;
  }

  /** What the background checkpoints did (undefined with `checkpoints: 'inline'`). */
  checkpointStats(): CheckpointStats | undefined {
    return this.#checkpointer?.stats();
  }

  close(): void {
    this.retention?.stop();
    this.billing.flush();
    this.logs.close();
    this.#checkpointer?.stop();
    this.db.close();
  }
}

export function openStore(opts: StoreOptions): Store {
  return Store.open(opts);
}
