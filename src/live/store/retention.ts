// The retention clean-up: invocation records — billing records (one per execution) and finished
// async invocations — and function logs older than the retention are deleted, so the database
// reaches a plateau under steady load instead of growing ~250 bytes per invocation for ever.
//
// It runs on the store's own timer (unref'd), never in a request: every `intervalMs` a sweep
// starts, and goes in batches of at most `batchRows` rows of one kind per turn of the event loop,
// each batch its own short transaction (~1-3 ms), until nothing is older than the cutoff. Billing
// records are summed per tenant, month, function, class and hour into `usage_hourly` in the same
// transaction that deletes them (`BillingRepo.expire`), so bills and usage are unchanged; the
// monthly totals (`usage_monthly`) are not touched at all.
//
// On a cluster's gateway (src/live/cluster/shared-state.ts) two more rules keep every gateway's bills
// right: a billing record or log entry still waiting in the outbox to be shared is kept, however old
// (the store's `held`: deleted, it would never reach the other gateways), and the clean-up starts
// only once the gateway's ledger has caught up with the cluster's billing stream (`deferStart`): a
// record of its own that it entered before a crash and reads again on restart is then still there
// to be recognised, and is not counted a second time after its deletion.

import type { BillingRepo } from './billing.ts';
import type { InvocationRepo } from './invocations.ts';
import type { LogRepo } from './logs.ts';
import type { Clock } from './tenants.ts';

/** Default retention of `fare up`: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;
/** Shortest retention accepted: an Event's result must stay long enough for its caller to read it. */
export const MIN_RETENTION_MS = 60_000;
/** Rows per batch (of one kind): 256 log entries are deleted in ~1.5 ms here. */
export const RETENTION_BATCH_ROWS = 256;

export interface RetentionOptions {
  /** Records and logs older than this (ms) are deleted; at least `MIN_RETENTION_MS`. */
  readonly maxAgeMs: number;
  /** How often a sweep starts (default: a tenth of `maxAgeMs`, from 1 s to 60 s). */
  readonly intervalMs?: number;
  /** Most rows a batch deletes (default `RETENTION_BATCH_ROWS`). */
  readonly batchRows?: number;
  /** A batch failed (the sweep stops; the next starts on time). Default: a process warning. */
  readonly onError?: (e: unknown) => void;
  /** The owner calls `start()` (a cluster gateway, once its ledger has caught up); default: started when the store opens. */
  readonly deferStart?: boolean;
}

export interface RetentionStats {
  /** Sweeps finished. */
  readonly sweeps: number;
  /** Batches run (each one transaction). */
  readonly batches: number;
  /** Rows deleted, by kind. */
  readonly billing: number;
  readonly logs: number;
  readonly invocations: number;
}

type Kind = 'billing' | 'logs' | 'invocations';

/** The options checked, with their defaults; throws on a retention under `MIN_RETENTION_MS` or a bad batch size. */
export function checkRetention(opts: RetentionOptions): { maxAgeMs: number; intervalMs: number; batchRows: number } {
  const { maxAgeMs } = opts;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < MIN_RETENTION_MS) throw new Error(`the retention must be at least ${MIN_RETENTION_MS / 1000} s, got ${maxAgeMs} ms`);
  const intervalMs = opts.intervalMs ?? Math.min(60_000, Math.max(1000, Math.round(maxAgeMs / 10)));
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new Error(`the retention's intervalMs must be > 0, got ${intervalMs}`);
  const batchRows = opts.batchRows ?? RETENTION_BATCH_ROWS;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new Error(`the retention's batchRows must be a whole number ≥ 1, got ${batchRows}`);
  return { maxAgeMs, intervalMs, batchRows };
}

export class Retention {
  readonly maxAgeMs: number;
  readonly intervalMs: number;
  readonly batchRows: number;
  readonly #clock: Clock;
  readonly #billing: BillingRepo;
  readonly #logs: LogRepo;
  readonly #invocations: InvocationRepo;
  readonly #onError: (e: unknown) => void;
  readonly #held: () => number;
  #timer: NodeJS.Timeout | undefined;
  #turn: NodeJS.Immediate | undefined;
  #stopped = false;
  #stats = { sweeps: 0, batches: 0, billing: 0, logs: 0, invocations: 0 };

  /** `held`: the time from which records must be kept whatever their age (Infinity: none; see the header). */
  constructor(repos: { clock: Clock; billing: BillingRepo; logs: LogRepo; invocations: InvocationRepo; held?: () => number }, opts: RetentionOptions) {
    ({ maxAgeMs: this.maxAgeMs, intervalMs: this.intervalMs, batchRows: this.batchRows } = checkRetention(opts));
    this.#clock = repos.clock;
    this.#billing = repos.billing;
    this.#logs = repos.logs;
    this.#invocations = repos.invocations;
    this.#held = repos.held ?? (() => Infinity);
    this.#onError = opts.onError ?? ((e) => process.emitWarning(`retention clean-up: ${(e as Error).message} (tried again in ${this.intervalMs} ms)`, { code: 'FARE_W_RETENTION' }));
  }

  /** Starts sweeping: one sweep now (what a stopped Fare left), then every `intervalMs`. */
  start(): void {
    if (this.#stopped || this.#timer !== undefined || this.#turn !== undefined) return;
    this.#sweep();
  }

  /** Stops; a sweep in progress ends after its current batch. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#turn !== undefined) clearImmediate(this.#turn);
    this.#timer = undefined;
    this.#turn = undefined;
  }

  stats(): RetentionStats {
    return { ...this.#stats };
  }

  /**
   * A whole sweep at once, batch after batch (for tests and tools; `start` spreads them over turns
   * of the event loop). Returns the batches run.
   */
  sweepNow(): number {
    const sweep = this.#newSweep();
    let batches = 0;
    while (this.#batch(sweep)) batches++;
    this.#stats.sweeps++;
    return batches;
  }

  #newSweep(): { before: number; pending: Kind[]; cursor: number } {
    return { before: Math.min(this.#clock() - this.maxAgeMs, this.#held()), pending: ['billing', 'logs', 'invocations'], cursor: 0 };
  }

  /** One batch of the next kind with work left; false when the sweep is done. */
  #batch(s: { before: number; pending: Kind[]; cursor: number }): boolean {
    const kind = s.pending.shift();
    if (kind === undefined) return false;
    let more: boolean;
    switch (kind) {
      case 'billing': {
        const n = this.#billing.expire(s.before, this.batchRows);
        this.#stats.billing += n;
        more = n === this.batchRows;
        break;
      }
      case 'logs': {
        const n = this.#logs.expire(s.before, this.batchRows);
        this.#stats.logs += n;
        more = n === this.batchRows;
        break;
      }
      case 'invocations': {
        const r = this.#invocations.expire(s.before, this.batchRows, s.cursor);
        this.#stats.invocations += r.deleted;
        s.cursor = r.cursor;
        more = r.more;
        break;
      }
      default: {
        const never: never = kind;
        throw new Error(`unknown kind ${String(never)}`);
      }
    }
    this.#stats.batches++;
    // Round robin: a kind with more goes to the back.
    if (more) s.pending.push(kind);
    return true;
  }

  #sweep(): void {
    this.#timer = undefined;
    const sweep = this.#newSweep();
    const next = (): void => {
      this.#turn = undefined;
      if (this.#stopped) return;
      let more = false;
      try {
        more = this.#batch(sweep);
      } catch (e) {
        this.#onError(e);
      }
      if (more) {
        this.#turn = setImmediate(next).unref();
      } else {
        this.#stats.sweeps++;
        this.#timer = setTimeout(() => this.#sweep(), this.intervalMs).unref();
      }
    };
    this.#turn = setImmediate(next).unref();
  }
}
