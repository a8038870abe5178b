// The cluster's queue of async (Event) invocations: a JetStream work-queue stream that every gateway
// runs from. The gateway that accepts an invocation writes it to its store and answers 202 once the
// stream has it (shared-state.ts publishes it from the outbox); any gateway then takes it, runs it
// through its AsyncRunner (budget admission, retries, billing, as `fare up` does) and acknowledges the
// message only once the outcome is recorded. A gateway that dies mid-run leaves its message
// unacknowledged: JetStream gives it to another gateway after `ackWaitMs` (at least once; a run whose
// outcome was recorded is not repeated). A retry later (the function failed, the platform failed or
// throttled, the budget has no room yet) is published again with its new attempt count and time and
// the old message acknowledged.
//
// One durable consumer per class (`run-<class index>`, subject `<prefix>.async.<class index>`), shared
// by all gateways; each gateway starts the highest class it holds first.

import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, type JsMsg, type ConsumerMessages } from '@nats-io/jetstream';
import type { Invocation, Store } from '../store/index.ts';
import type { AsyncRunner } from '../gateway/async-runner.ts';

export const asyncStream = (prefix: string): string => `${prefix.replaceAll('.', '-').toUpperCase()}-ASYNC`;
export const asyncSubject = (prefix: string, cls: number): string => `${prefix}.async.${cls}`;

/** The stream, created by whoever comes first (shared-state.ts publishes to it). */
export async function ensureAsyncStream(nc: NatsConnection, prefix: string, replicas: number, classes: number, ackWaitMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const name = asyncStream(prefix);
  try {
    await jsm.streams.info(name);
  } catch {
    await jsm.streams.add({ name, subjects: [`${prefix}.async.>`], retention: RetentionPolicy.Workqueue, num_replicas: replicas, duplicate_window: 10 * 60 * 1_000_000_000 });
  }
  for (let c = 0; c < classes; c++) {
    try {
      await jsm.consumers.info(name, `run-${c}`);
    } catch {
      await jsm.consumers.add(name, {
        durable_name: `run-${c}`, filter_subject: asyncSubject(prefix, c), ack_policy: AckPolicy.Explicit,
        ack_wait: ackWaitMs * 1_000_000, max_deliver: -1, max_ack_pending: 10_000,
      });
    }
  }
}

/** An invocation row as its message carries it (blobs as `{ "$b64": … }`). */
type Row = Record<string, unknown>;

function toInvocation(r: Row): Invocation {
  const blob = (v: unknown): Buffer | null => (v !== null && typeof v === 'object' && typeof (v as { $b64?: unknown }).$b64 === 'string' ? Buffer.from((v as { $b64: string }).$b64, 'base64') : null);
  return {
    id: String(r.id), tenant: String(r.tenant), function: String(r.function), version: Number(r.version), caller: String(r.caller),
    cls: String(r.class), classIndex: Number(r.class_index), payload: blob(r.payload) ?? Buffer.alloc(0),
    clientContext: typeof r.client_context === 'string' ? r.client_context : null, qualifier: typeof r.qualifier === 'string' ? r.qualifier : null,
    trace: typeof r.trace === 'string' ? r.trace : null,
    invokedArn: typeof r.invoked_arn === 'string' ? r.invoked_arn : null,
    reservedMicroCents: Number(r.reserved_uc ?? 0),
    status: 'queued', attempts: Number(r.attempts ?? 0), runAfter: Number(r.run_after ?? 0), result: null, functionError: null,
    error: typeof r.error === 'string' ? r.error : null, createdAt: Number(r.created_at), startedAt: null, finishedAt: null,
  };
}

/** The message of an invocation as queued in `store` (what shared-state.ts and a retry publish). */
export function invocationMessage(inv: Invocation): string {
  return JSON.stringify({
    id: inv.id, tenant: inv.tenant, function: inv.function, version: inv.version, caller: inv.caller, class: inv.cls, class_index: inv.classIndex,
    payload: { $b64: inv.payload.toString('base64') }, client_context: inv.clientContext, qualifier: inv.qualifier, trace: inv.trace, invoked_arn: inv.invokedArn, reserved_uc: inv.reservedMicroCents,
    attempts: inv.attempts, run_after: inv.runAfter, error: inv.error, created_at: inv.createdAt,
  });
}

export interface SharedQueueOptions {
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly classes: number;
  readonly store: Store;
  readonly runner: AsyncRunner;
  /** Resolves true once what this gateway recorded is in JetStream (SharedState.settle): a message is acknowledged only then. */
  readonly settle: () => Promise<boolean>;
  /** Writes made without sharing them again (SharedState.quietly). */
  readonly quietly: (write: () => void) => void;
  /** Invocations this gateway runs at once (default 16). */
  readonly concurrency?: number;
  /** Unacknowledged this long, a message goes to another gateway (ms; the stream's consumers are made with it). */
  readonly ackWaitMs: number;
  readonly warn: (line: string) => void;
  readonly clock?: () => number;
}

export class SharedQueue {
  readonly #o: SharedQueueOptions;
  readonly #held: { cls: number; m: JsMsg }[] = [];
  #running = 0;
  readonly #iterators: ConsumerMessages[] = [];
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;
  /** Invocations run here to an outcome (tests and status). */
  ran = 0;

  private constructor(o: SharedQueueOptions) {
    this.#o = o;
  }

  static async open(o: SharedQueueOptions): Promise<SharedQueue> {
    const q = new SharedQueue(o);
    const js = jetstream(o.nc);
    const stream = asyncStream(o.prefix);
    const concurrency = o.concurrency ?? 16;
    for (let c = 0; c < o.classes; c++) {
      const consumer = await js.consumers.get(stream, `run-${c}`);
      // Pull requests renewed every 5 s (not 30): after a NATS server is lost the queue goes on within seconds.
      const it = await consumer.consume({ max_messages: concurrency, expires: 5000 });
      q.#iterators.push(it);
      void (async () => {
        for await (const m of it) {
          q.#held.push({ cls: c, m });
          q.#pump();
        }
      })().catch((e: unknown) => o.warn(`async queue: consuming class ${c} failed: ${(e as Error).message}`));
    }
    // Messages held here, running or waiting for a slot, are not given to another gateway meanwhile.
    q.#keepAlive = setInterval(() => q.#touch(), Math.max(1000, o.ackWaitMs / 3));
    return q;
  }

  #touched = new Set<JsMsg>();

  #touch(): void {
    for (const h of this.#held) h.m.working();
    for (const m of this.#touched) m.working();
  }

  #pump(): void {
    const limit = this.#o.concurrency ?? 16;
    while (!this.#closed && this.#running < limit && this.#held.length > 0) {
      // The highest class (lowest index) first, then the oldest.
      let best = 0;
      for (let i = 1; i < this.#held.length; i++) if ((this.#held[i] as { cls: number }).cls < (this.#held[best] as { cls: number }).cls) best = i;
      const { m } = this.#held.splice(best, 1)[0] as { cls: number; m: JsMsg };
      this.#running++;
      this.#touched.add(m);
      void this.#take(m).finally(() => {
        this.#touched.delete(m);
        this.#running--;
        this.#pump();
      });
    }
  }

  async #take(m: JsMsg): Promise<void> {
    const { store, runner } = this.#o;
    const now = (this.#o.clock ?? Date.now)();
    let inv: Invocation;
    try {
      inv = toInvocation(m.json<Row>());
    } catch (e) {
      this.#o.warn(`async queue: message ${m.seq} is not an invocation (${(e as Error).message}); dropped`);
      m.term();
      return;
    }
    // A retry not due yet goes back, to be given out (to any gateway) when it is.
    if (inv.runAfter > now) {
      m.nak(inv.runAfter - now);
      return;
    }
    try {
      const claimed = store.invocations.adopt(inv, this.#o.quietly);
      if (claimed === undefined) {
        // Its outcome is recorded here already (a message delivered again after the run): done.
        m.ack();
        return;
      }
      await runner.runClaimed(claimed);
      const after = store.invocations.get(inv.id);
      if (after?.status === 'queued') {
        // To be tried again later: the new state goes out as a new message (its id makes a second
        // publish of the same hand-over a duplicate JetStream drops), then the old one is done.
        await jetstream(this.#o.nc).publish(asyncSubject(this.#o.prefix, after.classIndex), invocationMessage(after), { msgID: `${after.id}@${m.seq}` });
      } else if (after?.status === 'running') {
        // The store failed under the runner (it reported it): another try soon, here or elsewhere.
        m.nak(2000);
        return;
      }
      // The outcome (and its billing record) must be in JetStream before the message goes: a gateway
      // that dies in between leaves the message to another one, which finds the outcome recorded.
      if (!(await this.#o.settle())) {
        m.nak(2000);
        return;
      }
      this.ran++;
      m.ack();
    } catch (e) {
      this.#o.warn(`async queue: invocation ${inv.id} could not be run (${(e as Error).message}); it is given out again in 2 s`);
      m.nak(2000);
    }
  }

  /** Takes no more messages; the ones held and not started go back at once; waits for the runs. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#keepAlive);
    for (const it of this.#iterators) await it.close();
    for (const h of this.#held.splice(0)) h.m.nak();
  }
}
