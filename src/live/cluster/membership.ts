// Who is in the cluster: every part announces itself with a heartbeat on NATS
// (`<prefix>.beat.<part>.<id>`, every `everyMs`), and whoever needs to know (a shard: the workers to
// place on; a gateway: the workers that run its jobs and the shards that queue them) drops a part it
// has not heard for `timeoutMs`. Each start of a part has its own incarnation, so a part that
// restarts within the timeout is still seen to have lost what it held. No consensus: each observer
// decides alone, which is all placement (soft state) needs.

import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Part } from '../../core/protocol.ts';
import type { Millis } from '../../core/types.ts';
import type { Clock } from '../transport/clock.ts';

export interface Beat {
  readonly part: Part;
  readonly id: number;
  /** A new one at every start of the part. */
  readonly incarnation: string;
}

export type MemberEvent =
  | { readonly kind: 'join'; readonly id: number; readonly incarnation: string }
  /** `why`: `silent` (not heard for the timeout) or `restarted` (a new incarnation was heard). */
  | { readonly kind: 'leave'; readonly id: number; readonly incarnation: string; readonly why: 'silent' | 'restarted' };

/** The members of one part, by id, from the beats heard (pure: time comes in as `now`). */
export class MemberTable {
  private readonly seen = new Map<number, { incarnation: string; at: Millis }>();

  constructor(private readonly timeoutMs: Millis) {}

  /** A beat was heard; returns what changed (a restarted member leaves, then joins again). */
  heard(id: number, incarnation: string, now: Millis): MemberEvent[] {
    const m = this.seen.get(id);
    if (m === undefined) {
      this.seen.set(id, { incarnation, at: now });
      return [{ kind: 'join', id, incarnation }];
    }
    if (m.incarnation !== incarnation) {
      const old = m.incarnation;
      m.incarnation = incarnation;
      m.at = now;
      return [{ kind: 'leave', id, incarnation: old, why: 'restarted' }, { kind: 'join', id, incarnation }];
    }
    m.at = Math.max(m.at, now);
    return [];
  }

  /** Members not heard for the timeout leave. */
  expire(now: Millis): MemberEvent[] {
    const out: MemberEvent[] = [];
    for (const [id, m] of this.seen) {
      if (now - m.at < this.timeoutMs) continue;
      this.seen.delete(id);
      out.push({ kind: 'leave', id, incarnation: m.incarnation, why: 'silent' });
    }
    return out;
  }

  /** The members now, by id. */
  ids(): number[] {
    return [...this.seen.keys()].sort((a, b) => a - b);
  }

  incarnationOf(id: number): string | undefined {
    return this.seen.get(id)?.incarnation;
  }
}

const beatSubject = (prefix: string, part: Part | '*', id: number | '*'): string => `${prefix}.beat.${part}.${id}`;

/** Announces a part: a beat at once and every `everyMs` until stopped. */
export class Heartbeat {
  readonly incarnation = randomUUID();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly nc: NatsConnection, private readonly prefix: string, private readonly part: Part, private readonly id: number, everyMs: Millis) {
    this.beat();
    this.timer = setInterval(() => this.beat(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    if (this.nc.isClosed()) return;
    const b: Beat = { part: this.part, id: this.id, incarnation: this.incarnation };
    this.nc.publish(beatSubject(this.prefix, this.part, this.id), JSON.stringify(b));
  }
}

/** Watches one part's beats and tells `onChange` what changed (checked every quarter of the timeout). */
export class Membership {
  private readonly table: MemberTable;
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;

  constructor(
    nc: NatsConnection,
    prefix: string,
    private readonly part: Part,
    timeoutMs: Millis,
    private readonly clock: Clock,
    private readonly onChange: (events: readonly MemberEvent[], members: readonly number[]) => void,
  ) {
    this.table = new MemberTable(timeoutMs);
    this.sub = nc.subscribe(beatSubject(prefix, part, '*'), {
      callback: (err, m) => {
        if (err) return;
        let b: Partial<Beat>;
        try {
          b = m.json<Partial<Beat>>();
        } catch {
          return;
        }
        if (b.part !== this.part || typeof b.id !== 'number' || !Number.isInteger(b.id) || b.id < 0 || typeof b.incarnation !== 'string') return;
        this.report(this.table.heard(b.id, b.incarnation, this.clock.now()));
      },
    });
    this.timer = setInterval(() => this.report(this.table.expire(this.clock.now())), Math.max(10, timeoutMs / 4));
    this.timer.unref();
  }

  members(): number[] {
    return this.table.ids();
  }

  incarnationOf(id: number): string | undefined {
    return this.table.incarnationOf(id);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
  }

  private report(events: readonly MemberEvent[]): void {
    if (events.length > 0) this.onChange(events, this.table.ids());
  }
}
