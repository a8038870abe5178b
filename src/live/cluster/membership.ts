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

/**
 * `draining`: the part is stopping and takes no new work (what it has, it finishes); `gone`: it has
 * stopped (its last beat).
 */
export type BeatState = 'up' | 'draining' | 'gone';

export interface Beat {
  readonly part: Part;
  readonly id: number;
  /** A new one at every start of the part. */
  readonly incarnation: string;
  /** Absent: up. */
  readonly state?: BeatState;
}

export type MemberEvent =
  | { readonly kind: 'join'; readonly id: number; readonly incarnation: string }
  /** It takes no new work; it is still a member until it is gone. */
  | { readonly kind: 'drain'; readonly id: number; readonly incarnation: string }
  /** `why`: `silent` (not heard for the timeout), `restarted` (a new incarnation was heard) or `left` (it said it stopped). */
  | { readonly kind: 'leave'; readonly id: number; readonly incarnation: string; readonly why: 'silent' | 'restarted' | 'left' };

/** The members of one part, by id, from the beats heard (pure: time comes in as `now`). */
export class MemberTable {
  private readonly seen = new Map<number, { incarnation: string; at: Millis; draining: boolean }>();

  constructor(private readonly timeoutMs: Millis) {}

  /** A beat was heard; returns what changed (a restarted member leaves, then joins again). */
  heard(id: number, incarnation: string, now: Millis, state: BeatState = 'up'): MemberEvent[] {
    const m = this.seen.get(id);
    if (state === 'gone') {
      if (m === undefined || m.incarnation !== incarnation) return [];
      this.seen.delete(id);
      return [{ kind: 'leave', id, incarnation, why: 'left' }];
    }
    const out: MemberEvent[] = [];
    if (m === undefined) {
      this.seen.set(id, { incarnation, at: now, draining: state === 'draining' });
      out.push({ kind: 'join', id, incarnation });
      if (state === 'draining') out.push({ kind: 'drain', id, incarnation });
      return out;
    }
    if (m.incarnation !== incarnation) {
      const old = m.incarnation;
      m.incarnation = incarnation;
      m.at = now;
      m.draining = state === 'draining';
      out.push({ kind: 'leave', id, incarnation: old, why: 'restarted' }, { kind: 'join', id, incarnation });
      if (m.draining) out.push({ kind: 'drain', id, incarnation });
      return out;
    }
    m.at = Math.max(m.at, now);
    if (state === 'draining' && !m.draining) {
      m.draining = true;
      out.push({ kind: 'drain', id, incarnation });
    }
    return out;
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

  /** The members that take new work now (not draining), by id. */
  ids(): number[] {
    const out: number[] = [];
    for (const [id, m] of this.seen) if (!m.draining) out.push(id);
    return out.sort((a, b) => a - b);
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
  private state: BeatState = 'up';

  constructor(private readonly nc: NatsConnection, private readonly prefix: string, private readonly part: Part, private readonly id: number, everyMs: Millis) {
    this.beat();
    this.timer = setInterval(() => this.beat(), everyMs);
    this.timer.unref();
  }

  /** From now on the part takes no new work (said at once, and in every beat after). */
  drain(): void {
    this.state = 'draining';
    this.beat();
  }

  /** Stops beating; with `bye`, says so (observers drop the part at once instead of after their timeout). */
  stop(bye = false): void {
    clearInterval(this.timer);
    if (bye) {
      this.state = 'gone';
      this.beat();
    }
  }

  private beat(): void {
    if (this.nc.isClosed()) return;
    const b: Beat = this.state === 'up' ? { part: this.part, id: this.id, incarnation: this.incarnation } : { part: this.part, id: this.id, incarnation: this.incarnation, state: this.state };
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
        const state = b.state === 'draining' || b.state === 'gone' ? b.state : 'up';
        this.report(this.table.heard(b.id, b.incarnation, this.clock.now(), state));
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
