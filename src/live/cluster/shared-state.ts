// What a cluster's gateways share, through JetStream: tenants, credentials, grants and functions in
// a key-value bucket, and billing records in a stream that every gateway's ledger consumes
// idempotently. Each gateway keeps the SQLite store `fare up` has, as its local copy: its writes are
// captured by triggers into an outbox (in the same transaction, so a write that returned is shared
// even if the gateway is killed right after) and published from there; what the others publish is
// applied to it. No replication of our own: JetStream orders, replicates and keeps the changes; a
// gateway with an empty data directory rebuilds its copy from them.
//
// - Key-value (`<prefix>-state`): one key per row, `<table>.<base64url of its primary key>`, the
//   row as JSON; a deleted row is a deleted key. The last writer of a row wins.
// - Billing (`<PREFIX>-billing`, subject `<prefix>.billing`): one message per billing record,
//   with the record's id as its message id (JetStream drops a duplicate publish within its window),
//   and every gateway inserts each record once (`INSERT OR IGNORE` by id) with the stream position
//   in the same transaction: a record delivered twice is billed once.
// - Function code is in the object store (code.ts): put there before its function's row is
//   published (the upload itself when this gateway kept it), and fetched into a gateway's own code
//   tree when the row arrives; an object that is the upload (its SHA-256 is the row's) is kept as
//   the upload there too, so every gateway answers GetFunction's download with the same bytes.
// - `settle()`: resolves when every change written here so far is in JetStream; the REST API waits
//   for it before answering a write, so a tenant or function created through one gateway is known
//   to the others a moment later (as soon as their watch delivers it: milliseconds).
//
// - Async invocations: accepted ones go to the work-queue stream (async-queue.ts) from the outbox;
//   their states are rows of the bucket (without payload), so any gateway answers for them.
//
// Local to each gateway (not shared yet): function logs; the budget reservations of sync calls in flight.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { headers, nuid, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import type Database from 'better-sqlite3';
import { billingRecordOf, type BillingRow, type Store } from '../store/index.ts';
import type { LogRow } from '../store/logs.ts';
import { statementCache, type Prepare } from '../store/sql.ts';
import { commitStaged, functionCodePath, pruneVersions, removeTree, stageCode, stageZip } from '../store/code.ts';
import { readZip } from '../gateway/zip.ts';
import { zipDirectory } from '../gateway/zip-writer.ts';
import { asyncSubject, ensureAsyncStream, invocationMessage } from './async-queue.ts';
import { keptUpload, unpackable } from './code.ts';
import { whenJetStreamReady } from './connect.ts';

/** The shared tables and their primary keys, in the order a fresh copy is filled (parents first). */
const TABLES: Readonly<Record<string, readonly string[]>> = {
  tenants: ['id'],
  function_versions: ['tenant', 'name'],
  functions: ['tenant', 'name'],
  // Lambda's published versions, aliases, tags, URLs and event invoke configs (their function's row first: foreign keys).
  function_published: ['tenant', 'name', 'number'],
  function_aliases: ['tenant', 'name', 'alias'],
  function_tags: ['tenant', 'name', 'key'],
  function_urls: ['url_id'],
  function_event_configs: ['tenant', 'name', 'qualifier'],
  schedules: ['tenant', 'grp', 'name'],
  credentials: ['access_key_id'],
  grants: ['owner', 'function', 'grantee'],
  // Async invocations' states, so any gateway answers GET /v1/invocations/ID (their queue is async-queue.ts).
  invocations: ['id'],
};
/** Columns that are each copy's own (an invocation's arrival order here). */
const LOCAL_COLUMNS: Readonly<Record<string, readonly string[]>> = { invocations: ['seq'] };
/** Columns a copy from elsewhere fills only in a new row (an invocation's payload is not in its copies). */
const KEEP_ON_UPDATE: Readonly<Record<string, readonly string[]>> = { invocations: ['payload'] };
/** An async result larger than this goes through the object store (a row in the bucket names it). */
const MAX_SHARED_RESULT = 256 * 1024;
const resultObject = (id: string): string => `results/${id}`;
const TOMBSTONE = '{"$deleted":true}';
const ORDER = Object.keys(TABLES);
const BILLING = 'billing';
/** Billing records are published together, at most this long after the first (ms). */
const BILLING_BATCH_MS = 20;
const ASYNC = 'async';

export const stateBucket = (prefix: string): string => `${prefix.replaceAll('.', '-')}-state`;
export const billingStream = (prefix: string): string => `${prefix.replaceAll('.', '-').toUpperCase()}-BILLING`;
const billingSubject = (prefix: string): string => `${prefix}.billing`;
/** Function logs: every gateway's entries, so `fare logs` through any gateway shows them all. */
const LOGS = 'logs';
export const logStream = (prefix: string): string => `${prefix.replaceAll('.', '-').toUpperCase()}-LOGS`;
const logSubject = (prefix: string): string => `${prefix}.logs`;
/** The log stream keeps this much (each gateway keeps its own copy within its retention). */
const LOG_STREAM_MAX_AGE_NS = 7 * 24 * 3600 * 1e9;
const LOG_STREAM_MAX_BYTES = 1024 ** 3;

type Row = Record<string, unknown>;

/** A row as JSON: blobs as `{ "$b64": … }`. */
function encodeRow(row: Row): string {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = Buffer.isBuffer(v) ? { $b64: v.toString('base64') } : v;
  return JSON.stringify(out);
}

function decodeRow(text: string): Row {
  const row = JSON.parse(text) as Row;
  for (const [k, v] of Object.entries(row)) {
    if (v !== null && typeof v === 'object' && typeof (v as { $b64?: unknown }).$b64 === 'string') row[k] = Buffer.from((v as { $b64: string }).$b64, 'base64');
  }
  return row;
}

/**
 * How far an invocation has got: queued (attempts a) < running (attempt a + 1) < queued again for a
 * retry < … < an outcome. Copies of an invocation only move forward: a gateway restarted with an
 * older state (its outbox still holding a 'running' written before it was killed, while another
 * gateway ran the invocation to its outcome) neither overwrites the newer shared row nor takes the
 * older one from elsewhere.
 */
export function invocationProgress(row: { readonly status?: unknown; readonly attempts?: unknown }): number {
  if (row.status === 'succeeded' || row.status === 'failed') return Number.POSITIVE_INFINITY;
  const a = Number(row.attempts ?? 0);
  return row.status === 'running' ? 2 * a - 1 : 2 * a;
}

const keyOf = (table: string, pk: readonly unknown[]): string => `${table}.${Buffer.from(JSON.stringify(pk)).toString('base64url')}`;

function parseKey(key: string): { table: string; pk: unknown[] } | undefined {
  const dot = key.indexOf('.');
  if (dot < 0) return undefined;
  const table = key.slice(0, dot);
  if (!(table in TABLES)) return undefined;
  try {
    const pk = JSON.parse(Buffer.from(key.slice(dot + 1), 'base64url').toString('utf8')) as unknown;
    return Array.isArray(pk) && pk.length === (TABLES[table] as readonly string[]).length ? { table, pk } : undefined;
  } catch {
    return undefined;
  }
}

export interface SharedStateOptions {
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly replicas: number;
  readonly store: Store;
  /** The object store of function code. */
  readonly code: ObjectStore;
  readonly warn: (line: string) => void;
  /** Price classes (one async consumer per class). */
  readonly classes: number;
  /** Async invocations not acknowledged this long go to another gateway (ms). */
  readonly asyncAckWaitMs: number;
  /** A row changed here because of another gateway (`pk`: its primary key). */
  readonly changed?: (table: string, pk: readonly unknown[]) => void;
  /** Another gateway's log entry (an execution's record: its receipt, its log text) was entered here. */
  readonly logEntered?: (requestId: string) => void;
  /** How long a fresh copy waits for the bucket's current values before it serves anyway (ms). */
  readonly loadTimeoutMs?: number;
}

export class SharedState {
  readonly #o: SharedStateOptions;
  readonly #db: Database.Database;
  readonly #kv: KV;
  readonly #js: JetStreamClient;
  /** True while a change from JetStream is being applied (the triggers then write no outbox entry). */
  readonly #applying: Database.Statement;
  /** Columns of each local table (a row from elsewhere is written with these only). */
  readonly #columns = new Map<string, Set<string>>();
  readonly #statement: Prepare;
  #pumping: Promise<void> | undefined;
  #again = false;
  #failing = false;
  #retry: NodeJS.Timeout | undefined;
  #batch: NodeJS.Timeout | undefined;
  /** Marks the billing records this process publishes: its own ledger has them already. */
  readonly #originId = nuid.next();
  #closed = false;
  /** The revision of this gateway's latest write of each key (its echo, or anything older, is not applied). */
  readonly #mine = new Map<string, number>();
  /** Keys this gateway is writing now, and what the watch brought for them meanwhile (applied once the write's revision is known). */
  readonly #writing = new Map<string, { n: number; seen: KvWatchEntry[] }>();
  #reservationsDue = false;
  /** Waiters for the outbox to be published up to a sequence. */
  #waiters: { seq: number; done: () => void }[] = [];
  #stops: (() => void)[] = [];
  /** Rows applied from elsewhere since start (for tests and status). */
  applied = 0;
  /** Billing records of other gateways entered in this ledger since start. */
  billed = 0;
  /** The bucket held no state when this gateway started (it is the cluster's first). */
  readonly wasEmpty: boolean;
  /**
   * Resolves once this copy's ledger has entered (or recognised as its own) every billing record the
   * cluster's stream held when it opened: from then on no record it reads is one it had before (the
   * retention clean-up waits for this; store/retention.ts).
   */
  readonly ledgerCaughtUp: Promise<void>;
  #caughtUp: () => void = () => {};

  private constructor(o: SharedStateOptions, kv: KV, wasEmpty: boolean) {
    this.#o = o;
    this.#db = o.store.db;
    this.#kv = kv;
    this.#js = jetstream(o.nc);
    this.wasEmpty = wasEmpty;
    this.ledgerCaughtUp = new Promise((resolve) => (this.#caughtUp = resolve));
    const db = this.#db;
    this.#statement = statementCache(db);
    for (const t of ORDER) this.#columns.set(t, new Set((db.prepare(`PRAGMA main.table_info(${t})`).all() as { name: string }[]).map((c) => c.name)));
    db.exec('CREATE TEMP TABLE IF NOT EXISTS fare_applying (on_ INTEGER NOT NULL); DELETE FROM fare_applying; INSERT INTO fare_applying VALUES (0);');
    this.#applying = db.prepare('UPDATE fare_applying SET on_ = ?');
    // Called by the triggers: a change to publish (after the transaction commits).
    // A billing record waits a little for others to go with it (a sync call's answer is not held
    // by it, but publishing each alone costs the next calls time); every other change goes at once.
    db.function('fare_outbox_kick', { deterministic: false }, (topic: unknown) => {
      if (topic === BILLING || topic === LOGS) this.#later();
      else queueMicrotask(() => this.#kick());
      return null;
    });
    const when = 'WHEN (SELECT on_ FROM fare_applying) = 0';
    for (const [t, pk] of Object.entries(TABLES)) {
      const key = (row: 'NEW' | 'OLD'): string => `json_array(${pk.map((c) => `${row}.${c}`).join(', ')})`;
      for (const [op, row] of [['INSERT', 'NEW'], ['UPDATE', 'NEW'], ['DELETE', 'OLD']] as const) {
        db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS fare_share_${t}_${op.toLowerCase()} AFTER ${op} ON main.${t} ${when}
                 BEGIN INSERT INTO outbox (topic, key) VALUES ('${t}', ${key(row)}); SELECT fare_outbox_kick('${t}'); END`);
      }
    }
    db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS fare_share_billing AFTER INSERT ON main.billing ${when}
             BEGIN INSERT INTO outbox (topic, key) VALUES ('billing', json_array(NEW.id)); SELECT fare_outbox_kick('billing'); END`);
    db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS fare_share_logs AFTER INSERT ON main.logs ${when}
             BEGIN INSERT INTO outbox (topic, key) VALUES ('logs', json_array(NEW.seq)); SELECT fare_outbox_kick('logs'); END`);
    // An invocation accepted here goes to the cluster's async queue.
    db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS fare_share_async AFTER INSERT ON main.invocations ${when}
             BEGIN INSERT INTO outbox (topic, key) VALUES ('async', json_array(NEW.id)); SELECT fare_outbox_kick('async'); END`);
  }

  /**
   * Joins the cluster's shared state: creates the bucket and the stream if they are missing, checks
   * that this gateway's master key is the cluster's, fills the local copy with the current state,
   * then follows changes and publishes its own.
   */
  static async open(o: SharedStateOptions): Promise<SharedState> {
    const kv = await whenJetStreamReady(() => new Kvm(o.nc).create(stateBucket(o.prefix), { replicas: o.replicas, history: 1 }));
    const jsm = await jetstreamManager(o.nc);
    await whenJetStreamReady(() => ensureAsyncStream(o.nc, o.prefix, o.replicas, o.classes, o.asyncAckWaitMs));
    const stream = billingStream(o.prefix);
    await whenJetStreamReady(async () => {
      try {
        await jsm.streams.info(stream);
      } catch {
        await jsm.streams.add({ name: stream, subjects: [billingSubject(o.prefix)], num_replicas: o.replicas, duplicate_window: 10 * 60 * 1_000_000_000 });
      }
      try {
        await jsm.streams.info(logStream(o.prefix));
      } catch {
        await jsm.streams.add({
          name: logStream(o.prefix), subjects: [logSubject(o.prefix)], num_replicas: o.replicas, duplicate_window: 10 * 60 * 1_000_000_000,
          max_age: LOG_STREAM_MAX_AGE_NS, max_bytes: LOG_STREAM_MAX_BYTES, discard: DiscardPolicy.Old,
        });
      }
    });
    // Every gateway must read the others' sealed secrets and signed contexts: one master key.
    const print = o.store.deriveKey('cluster-fingerprint').toString('hex');
    try {
      await kv.create('meta.master', print);
    } catch {
      const have = (await kv.get('meta.master'))?.string();
      if (have !== undefined && have !== print) {
        throw Object.assign(new Error(`this gateway's master.key (${join(o.store.dataDir, 'master.key')}) is not the one the cluster's other gateways use: start it with --master-key-file pointing to a copy of theirs (and an empty --data-dir)`), { code: 'FARE_E_MASTER_KEY' });
      }
    }
    const status = await kv.status();
    const s = new SharedState(o, kv, status.values <= 1);
    await s.#follow(status.values <= 1);
    s.#followLedger((await jsm.streams.info(stream)).state.last_seq);
    s.#followLogs();
    s.#kick();
    return s;
  }

  /** Resolves once every change written here so far is in JetStream (false: not within `timeoutMs`; it is published later). */
  settle(timeoutMs = 5000): Promise<boolean> {
    const last = (this.#db.prepare('SELECT MAX(seq) AS seq FROM outbox').get() as { seq: number | null }).seq;
    if (last === null) return Promise.resolve(true);
    this.#kick();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = { seq: last, done: () => { clearTimeout(timer); resolve(true); } };
      this.#waiters.push(waiter);
    });
  }

  /** The cluster's key-value bucket (also for small records of its own, under `meta.`). */
  get bucket(): KV {
    return this.#kv;
  }

  /** Runs `write` (in a transaction) without sharing what it changes. */
  quietly(write: () => void): void {
    this.#asApplied(write);
  }

  /** Changes written here and not yet in JetStream. */
  pending(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearTimeout(this.#batch);
    for (const stop of this.#stops) stop();
  }

  // ---- publishing this gateway's changes ------------------------------------------------------

  /** Publishes within BILLING_BATCH_MS (billing records go in batches). */
  #later(): void {
    if (this.#batch !== undefined || this.#closed) return;
    this.#batch = setTimeout(() => {
      this.#batch = undefined;
      this.#kick();
    }, BILLING_BATCH_MS);
  }

  #kick(): void {
    clearTimeout(this.#batch);
    this.#batch = undefined;
    if (this.#closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = undefined;
      if (this.#again) {
        this.#again = false;
        this.#kick();
      }
    });
  }

  async #pump(): Promise<void> {
    const next = this.#statement('SELECT seq, topic, key FROM outbox ORDER BY seq LIMIT 256');
    const done = this.#statement('DELETE FROM outbox WHERE seq <= ?');
    try {
      for (;;) {
        const rows = next.all() as { seq: number; topic: string; key: string }[];
        if (rows.length === 0 || this.#closed) break;
        // Published in order on one connection: JetStream orders them as they were written.
        await Promise.all(rows.map(async (r) => {
          try {
            await this.#publish(r.topic, JSON.parse(r.key) as unknown[]);
          } catch (e) {
            // A change JetStream can never take (too large for a message) must not hold the others back.
            if (!/MAX_PAYLOAD|maximum payload/i.test((e as Error).message)) throw e;
            this.#o.warn(`shared state: ${r.topic} ${r.key} is too large for a NATS message (${(e as Error).message}); it stays with this gateway`);
          }
        }));
        const upTo = (rows.at(-1) as { seq: number }).seq;
        done.run(upTo);
        this.#waiters = this.#waiters.filter((w) => {
          if (w.seq > upTo) return true;
          w.done();
          return false;
        });
      }
      if (this.#failing) this.#o.warn('shared state: publishing to JetStream works again');
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) this.#o.warn(`shared state: cannot publish changes to JetStream (${(e as Error).message}); they are kept and sent when it answers`);
      this.#failing = true;
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.#kick(), 1000);
    }
  }

  async #publish(topic: string, pk: unknown[]): Promise<void> {
    if (topic === LOGS) {
      const row = this.#statement('SELECT * FROM logs WHERE seq = ?').get(pk[0]) as Row | undefined;
      if (row === undefined) return; // pruned meanwhile
      delete row.seq;
      // Its id, for JetStream's duplicate window: one entry per execution (a request's attempt).
      await this.#js.publish(logSubject(this.#o.prefix), encodeRow(row), { msgID: `${String(row.type)}:${String(row.request_id)}:${String(row.attempt)}`, headers: this.#originHeader() });
      return;
    }
    if (topic === BILLING) {
      const row = this.#statement('SELECT * FROM billing WHERE id = ?').get(pk[0]) as Row | undefined;
      if (row !== undefined) await this.#js.publish(billingSubject(this.#o.prefix), encodeRow(row), { msgID: String(row.id), headers: this.#originHeader() });
      return;
    }
    if (topic === ASYNC) {
      const inv = this.#o.store.invocations.get(String(pk[0]));
      if (inv !== undefined) await this.#js.publish(asyncSubject(this.#o.prefix, inv.classIndex), invocationMessage(inv), { msgID: inv.id });
      return;
    }
    const cols = TABLES[topic];
    if (cols === undefined) return;
    const row = this.#statement(`SELECT * FROM main.${topic} WHERE ${cols.map((c) => `${c} = ?`).join(' AND ')}`).get(...pk) as Row | undefined;
    const key = keyOf(topic, pk);
    let text = TOMBSTONE;
    if (row !== undefined) {
      // A function's code goes to the object store before its row: whoever sees the row can fetch it.
      if (topic === 'functions') await this.#shipCode(row);
      for (const c of LOCAL_COLUMNS[topic] ?? []) delete row[c];
      if (topic === 'invocations') {
        // The payload travels with the queue's message; only what GET /v1/invocations/ID shows is shared.
        row.payload = Buffer.alloc(0);
        if (Buffer.isBuffer(row.result) && row.result.length > MAX_SHARED_RESULT) {
          // Too large for the bucket's message: the result goes to the object store first, the row names it.
          const name = resultObject(String(row.id));
          if ((await this.#o.code.info(name)) === null) await this.#o.code.putBlob({ name, description: `result of invocation ${String(row.id)}` }, row.result);
          row.result = null;
          row.result_object = name;
        }
      }
      text = encodeRow(row);
    }
    // A deleted row is a tombstone (a put, not a KV delete): its revision tells its echo apart. The
    // echo may come before the put's answer: what the watch brings for the key waits for it.
    const w = this.#writing.get(key) ?? { n: 0, seen: [] };
    w.n++;
    this.#writing.set(key, w);
    try {
      const revision = topic === 'invocations' && row !== undefined ? await this.#putForward(key, row, text) : await this.#kv.put(key, text);
      if (revision !== undefined && revision > (this.#mine.get(key) ?? 0)) this.#mine.set(key, revision);
    } finally {
      if (--w.n === 0) {
        this.#writing.delete(key);
        for (const e of w.seen) this.#apply(e);
      }
    }
  }

  /**
   * Puts an invocation's row unless the shared one is further on (invocationProgress): a compare and
   * set on the key's revision, so a newer row written meanwhile is not lost either. Returns the new
   * revision, or undefined when the shared row was newer (this copy takes it instead).
   */
  async #putForward(key: string, row: Row, text: string): Promise<number | undefined> {
    for (let tries = 0; ; tries++) {
      const cur = await this.#kv.get(key);
      const theirs = cur !== null && cur.operation === 'PUT' && cur.string() !== TOMBSTONE ? decodeRow(cur.string()) : undefined;
      if (theirs !== undefined && invocationProgress(theirs) > invocationProgress(row)) {
        this.#asApplied(() => this.#upsert('invocations', theirs));
        this.#reloadReservations();
        return undefined;
      }
      try {
        return cur === null ? await this.#kv.create(key, text) : await this.#kv.update(key, text, cur.revision);
      } catch (e) {
        // Written by another gateway between the read and the write: read again.
        const code = (e as { code?: unknown }).code;
        if (tries < 10 && (code === 10071 || code === 10164 || /wrong last sequence/i.test((e as Error).message))) continue;
        throw e;
      }
    }
  }

  /** A large async result named by its row: fetched from the object store into this copy. */
  async #fetchResult(id: string, name: string): Promise<void> {
    try {
      const data = await this.#o.code.getBlob(name);
      if (data === null) throw new Error('it is not in the object store');
      this.#asApplied(() => this.#statement('UPDATE main.invocations SET result = ? WHERE id = ? AND result IS NULL').run(Buffer.from(data), id));
    } catch (e) {
      this.#o.warn(`shared state: the result of invocation ${id} could not be fetched (${(e as Error).message}); ask the gateway that ran it`);
    }
  }

  async #shipCode(row: Row): Promise<void> {
    const sha = String(row.code_sha256);
    if ((await this.#o.code.info(sha)) !== null) return;
    const dir = join(this.#o.store.dataDir, String(row.code_dir));
    if (!existsSync(dir)) return; // replaced meanwhile: the newer row ships its own code
    // The upload itself if this gateway kept it (the others then keep it too), else a rebuilt zip.
    await this.#o.code.putBlob({ name: sha, description: `${String(row.tenant)}/${String(row.name)} v${String(row.version)}` }, keptUpload(this.#o.store, sha) ?? zipDirectory(dir));
  }

  /** A header naming this process (one object per message: the client adds the message id to it). */
  #originHeader(): MsgHdrs {
    const h = headers();
    h.set('Fare-Origin', this.#originId);
    return h;
  }

  // ---- applying the others' changes -----------------------------------------------------------

  async #follow(empty: boolean): Promise<void> {
    let loaded: () => void = () => {};
    const initial = new Promise<void>((resolve) => (loaded = resolve));
    let batch: KvWatchEntry[] | undefined = empty ? undefined : [];
    if (empty) loaded();
    const finishLoad = (): void => {
      if (batch === undefined) return;
      const entries = batch;
      batch = undefined;
      // Parents first (a credential's tenant before it), whatever order the keys came in.
      entries.sort((a, b) => ORDER.indexOf(a.key.split('.')[0] as string) - ORDER.indexOf(b.key.split('.')[0] as string));
      for (const e of entries) this.#apply(e);
      loaded();
    };
    // Watched: a watch that ends, fails, or falls behind the bucket without moving for 10 s (its
    // server was lost and it did not recover) is made again from the last revision seen.
    let seen = 0;
    let movedAt = Date.now();
    let current: { stop(): void } | undefined;
    const watchdog = setInterval(() => {
      void (async () => {
        if (batch !== undefined || current === undefined) return;
        const last = (await this.#kv.status()).streamInfo.state.last_seq;
        if (last > seen && Date.now() - movedAt > 10_000) {
          this.#o.warn(`shared state: the watch of the state bucket stopped at revision ${seen} of ${last}; watching again`);
          movedAt = Date.now();
          current.stop();
        }
      })().catch(() => {});
    }, 5000);
    watchdog.unref();
    this.#stops.push(() => {
      clearInterval(watchdog);
      current?.stop();
    });
    void (async () => {
      while (!this.#closed) {
        try {
          const iter = await this.#kv.watch(seen > 0 ? { resumeFromRevision: seen + 1 } : {});
          current = iter;
          if (this.#closed) iter.stop();
          for await (const e of iter) {
            if (e.revision > seen) seen = e.revision;
            movedAt = Date.now();
            if (batch !== undefined) {
              if (e.isUpdate) {
                finishLoad();
                this.#apply(e);
              } else {
                batch.push(e);
                if ((e.delta ?? 0) === 0) finishLoad();
              }
            } else {
              this.#apply(e);
            }
          }
        } catch (e) {
          if (!this.#closed) this.#o.warn(`shared state: watching the state bucket failed (${(e as Error).message}); again in 1 s`);
        }
        if (!this.#closed) await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const timeout = this.#o.loadTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([initial, new Promise<void>((resolve) => (timer = setTimeout(() => {
      this.#o.warn(`shared state: the state bucket's current values did not all arrive within ${timeout} ms; serving with what arrived`);
      finishLoad();
      resolve();
    }, timeout)))]);
    clearTimeout(timer);
  }

  #apply(e: KvWatchEntry): void {
    const k = parseKey(e.key);
    if (k === undefined) return; // meta.* and keys of a newer Fare
    const { table, pk } = k;
    const cols = TABLES[table] as readonly string[];
    const writing = this.#writing.get(e.key);
    if (writing !== undefined) {
      writing.seen.push(e);
      return;
    }
    // This gateway's own write coming back, or one older than its latest: this copy has it (or newer).
    const mine = this.#mine.get(e.key);
    if (mine !== undefined && e.revision <= mine) {
      if (e.revision === mine) this.#mine.delete(e.key);
      return;
    }
    const put = e.operation === 'PUT' && e.string() !== TOMBSTONE;
    // The code a function had before the change: its kept zips go if nothing has them after it.
    const before = table === 'functions' || table === 'function_published' ? this.#o.store.functions.codeShas(String(pk[0]), String(pk[1])) : [];
    try {
      this.#asApplied(() => {
        if (put) {
          const row = decodeRow(e.string());
          if (table === 'invocations') {
            const here = this.#statement('SELECT status, attempts FROM main.invocations WHERE id = ?').get(row.id) as Row | undefined;
            if (here !== undefined && invocationProgress(here) > invocationProgress(row)) return;
          }
          this.#upsert(table, row);
        } else {
          this.#statement(`DELETE FROM main.${table} WHERE ${cols.map((c) => `${c} = ?`).join(' AND ')}`).run(...pk);
          if (table === 'functions') this.#o.store.logs.deleteFunction(String(pk[0]), String(pk[1]));
        }
      });
      this.applied++;
      this.#o.changed?.(table, pk);
    } catch (err) {
      this.#o.warn(`shared state: could not apply ${e.operation} ${table} ${JSON.stringify(pk)}: ${(err as Error).message}`);
      return;
    }
    if (table === 'invocations') {
      this.#reloadReservations();
      if (put) {
        const row = decodeRow(e.string());
        if (typeof row.result_object === 'string') void this.#fetchResult(String(row.id), row.result_object);
      }
    }
    if (table === 'function_published' && put) void this.#fetchCode(decodeRow(e.string()));
    if (table === 'functions') {
      if (put) void this.#fetchCode(decodeRow(e.string()));
      else removeTree(this.#o.store.dataDir, functionCodePath(String(pk[0]), String(pk[1])));
    }
    if (before.length > 0) this.#o.store.functions.releaseZips(before);
  }

  /**
   * Budget admission counts what queued and running invocations hold: rebuilt from this copy (every
   * gateway's invocations) after others' changes, at most every 50 ms.
   */
  #reloadReservations(): void {
    if (this.#reservationsDue) return;
    this.#reservationsDue = true;
    setTimeout(() => {
      this.#reservationsDue = false;
      if (!this.#closed) this.#o.store.invocations.loadReservations();
    }, 50).unref();
  }

  #upsert(table: string, row: Row): void {
    const known = this.#columns.get(table) as Set<string>;
    const local = LOCAL_COLUMNS[table] ?? [];
    const cols = Object.keys(row).filter((c) => known.has(c) && !local.includes(c)).sort();
    const pk = TABLES[table] as readonly string[];
    const keep = KEEP_ON_UPDATE[table] ?? [];
    const rest = cols.filter((c) => !pk.includes(c) && !keep.includes(c));
    const sql = `INSERT INTO main.${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
      ON CONFLICT (${pk.join(', ')}) DO ${rest.length === 0 ? 'NOTHING' : `UPDATE SET ${rest.map((c) => `${c} = excluded.${c}`).join(', ')}`}`;
    this.#statement(sql).run(...cols.map((c) => row[c]));
  }

  /**
   * The function's code into this gateway's code tree (GetFunction, configuration checks), from the
   * object store; and the zip itself when it is the upload (its SHA-256 is the row's: put by a
   * gateway that kept it), for GetFunction's download.
   */
  async #fetchCode(row: Row): Promise<void> {
    const dataDir = this.#o.store.dataDir;
    const rel = String(row.code_dir);
    const sha = String(row.code_sha256);
    if (existsSync(join(dataDir, rel))) return;
    try {
      const zip = await this.#o.code.getBlob(sha);
      if (zip === null) throw new Error('it is not in the object store');
      if (existsSync(join(dataDir, rel))) return;
      const upload = createHash('sha256').update(zip).digest('hex') === sha ? await stageZip(dataDir, zip) : undefined;
      let staged: string;
      try {
        staged = await stageCode(dataDir, unpackable(await readZip(Buffer.from(zip))));
      } catch (e) {
        if (upload !== undefined) await rm(upload, { force: true });
        throw e;
      }
      commitStaged(dataDir, staged, rel);
      // Kept only while a row has that code (it may have gone while this was fetched).
      if (upload !== undefined) this.#o.store.functions.keepZip(upload, sha);
      const kept = this.#o.store.functions.keptCode(String(row.tenant), String(row.name)).add(rel);
      const current = this.#o.store.functions.get(String(row.tenant), String(row.name));
      if (current !== undefined) kept.add(relative(dataDir, current.codeDir));
      pruneVersions(dataDir, String(row.tenant), String(row.name), Math.max(Number(row.version), current?.version ?? 0), kept);
    } catch (e) {
      this.#o.warn(`shared state: could not fetch the code of ${String(row.tenant)}/${String(row.name)} v${String(row.version)}: ${(e as Error).message}`);
    }
  }

  // ---- the ledger -------------------------------------------------------------------------------

  /** Follows the billing stream; `lastAtOpen`: its last record's position when this copy opened (see `ledgerCaughtUp`). */
  #followLedger(lastAtOpen: number): void {
    this.#followStream(billingStream(this.#o.prefix), 'billing record', (text) => {
      const rec = billingRecordOf(decodeRow(text) as unknown as BillingRow);
      // The record's id is its key: a record this ledger has (its own, or one delivered before) is skipped.
      if (this.#o.store.billing.enter(rec)) this.billed++;
    }, { seq: lastAtOpen, reached: () => this.#caughtUp() });
  }

  /** The other gateways' function logs, entered in this copy (each message once: its position is saved with it). */
  #followLogs(): void {
    this.#followStream(logStream(this.#o.prefix), 'log entry', (text) => {
      const row = decodeRow(text) as unknown as Omit<LogRow, 'seq'>;
      this.#o.store.logs.ingest([row]);
      this.#o.logEntered?.(row.request_id);
    });
  }

  /**
   * Follows one of the cluster's streams from the position this copy saved: each other process's
   * message is entered (`enter`, in one transaction with the new position), this process's own
   * skipped (their position saved within a second).
   */
  #followStream(stream: string, what: string, enterOne: (text: string) => void, upTo?: { readonly seq: number; readonly reached: () => void }): void {
    const db = this.#db;
    const position = db.prepare('SELECT seq FROM ledger_position WHERE stream = ?');
    const move = db.prepare('INSERT INTO ledger_position (stream, seq) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq');
    const enter = (seq: number, text: string): void => {
      this.#asApplied(() => {
        enterOne(text);
        move.run(stream, seq);
      });
    };
    // This process's own records need no entering: their position is written with the next record
    // of another gateway's, or within a second (a ledger read again from an older position skips
    // what it has).
    let ownSeq = 0;
    const flushOwn = setInterval(() => {
      if (ownSeq === 0) return;
      try {
        move.run(stream, ownSeq);
        ownSeq = 0;
      } catch (e) {
        this.#o.warn(`shared state: the position in ${stream} could not be saved: ${(e as Error).message}`);
      }
    }, 1000);
    flushOwn.unref();
    this.#stops.push(() => clearInterval(flushOwn));
    // Followed by an ordered consumer, watched: when it ends, fails, or falls behind the stream without
    // moving for 10 s (its server was lost and it did not recover), it is made again from the last
    // record seen. A record seen twice is skipped by its id.
    let seen = (position.get(stream) as { seq: number } | undefined)?.seq ?? 0;
    if (upTo !== undefined && seen >= upTo.seq) upTo.reached();
    let current: { close(): Promise<void | Error> } | undefined;
    let movedAt = Date.now();
    const jsm = jetstreamManager(this.#o.nc);
    const watchdog = setInterval(() => {
      void (async () => {
        const last = (await (await jsm).streams.info(stream)).state.last_seq;
        if (last > seen && Date.now() - movedAt > 10_000 && current !== undefined) {
          this.#o.warn(`shared state: following ${stream} stopped at ${seen} of ${last}; following it again`);
          movedAt = Date.now();
          await current.close();
        }
      })().catch(() => {});
    }, 5000);
    watchdog.unref();
    this.#stops.push(() => clearInterval(watchdog));
    void (async () => {
      while (!this.#closed) {
        try {
          const consumer = await jetstream(this.#o.nc, {}).consumers.get(stream, { opt_start_seq: seen + 1 });
          // Pull requests renewed every 5 s (not 30): after a NATS server is lost the ledger goes on sooner.
          const messages = await consumer.consume({ expires: 5000 });
          current = messages;
          if (this.#closed) await messages.close();
          for await (const m of messages) {
            seen = m.seq;
            movedAt = Date.now();
            try {
              if (m.headers?.get('Fare-Origin') === this.#originId) {
                ownSeq = m.seq;
                continue;
              }
              ownSeq = 0;
              enter(m.seq, m.string());
            } catch (e) {
              this.#o.warn(`shared state: ${what} ${m.seq} of ${stream} could not be entered: ${(e as Error).message}`);
            } finally {
              if (upTo !== undefined && m.seq >= upTo.seq) upTo.reached();
            }
          }
        } catch (e) {
          if (!this.#closed) this.#o.warn(`shared state: following ${stream} failed (${(e as Error).message}); again in 1 s`);
        }
        if (!this.#closed) await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    this.#stops.push(() => void current?.close());
  }

  #asApplied(f: () => void): void {
    this.#db.transaction(() => {
      this.#applying.run(1);
      try {
        f();
      } finally {
        this.#applying.run(0);
      }
    })();
  }
}
