// The protocol between the paper's parts: every message that crosses from a gateway to a shard, a
// shard to a machine's dispatcher or machine scheduler, or back (with the Sparrow baseline's
// reservations, claims and `taken` answers). Each is a readonly plain object with `from` and `to`
// addresses and nothing but numbers, strings and plain objects in it, so it can cross a network
// unchanged (JSON-safe). A job's id is minted once, where it enters the system (the
// gateway, or the simulator's workload standing in for it), and carried end to end.
//
// The core's objects take messages in and put messages out (messages are among their decisions); how a
// message travels is a Bus's business (bus.ts): in the simulator in virtual time, in the live system
// in-process or over a network. Nothing here does anything.

import type { Job, JobId, MachineId, Millis, ShardId } from './types.ts';

/** The parts of Fare that exchange messages. */
export type Part = 'gateway' | 'shard' | 'machine';

/** Where a message goes: a part and its number (`shard/3`, `machine/12`, `gateway/0`). */
export interface Address {
  readonly part: Part;
  readonly id: number;
}

/**
 * How a shard placed a job: from its idle list, by polling k machines (or drawing one at random,
 * k = 1), or to the machine that claimed it first among those holding a reservation for it (Sparrow).
 */
export type Placement = 'idle-list' | 'power-of-k' | 'reservation';

/**
 * What travels with a job besides what the core knows of it: the invocation (function, payload,
 * context) in the live system, nothing in the simulator. JSON-safe; the core never reads it.
 */
export type Cargo = Readonly<Record<string, unknown>>;

interface Hop<From extends Part, To extends Part> {
  readonly from: Address & { readonly part: From };
  readonly to: Address & { readonly part: To };
}

/** A job enters the system: from a gateway to the shard that will queue it. */
export interface ArriveMsg extends Hop<'gateway', 'shard'> {
  readonly kind: 'arrive';
  readonly job: Job;
  /** The gateway's expectation of the job's CPU time (ms: duration-history.ts), for a shard that orders a class by it (`sef`). */
  readonly expectedMs?: number;
  /**
   * The job's function has a concurrency limit (Lambda's reserved concurrency): its shard keeps at
   * most `limit` jobs of `key` (the function, across all its versions) at once, from arrival to
   * `left`, and refuses any more (`refused`). Absent: no limit.
   */
  readonly cap?: ConcurrencyCap | undefined;
  readonly cargo?: Cargo | undefined;
}

/** A function's concurrency limit, as an arrival carries it: `key` names the function (unique: not its number). */
export interface ConcurrencyCap {
  readonly key: string;
  readonly limit: number;
}

/** The shard placed the job on this machine, after `waited` ms in its multi-queue. */
export interface PlaceMsg extends Hop<'shard', 'machine'> {
  readonly kind: 'place';
  readonly job: Job;
  readonly via: Placement;
  readonly waited: Millis;
  /** Its function's concurrency is limited: the machine tells the shard when the job has left (`left`). */
  readonly capped?: true | undefined;
  readonly cargo?: Cargo | undefined;
}

/**
 * The job's function is at its concurrency limit (ArriveMsg.cap): the shard did not take it. From
 * the shard to the gateway that sent it, which answers its caller that it is throttled.
 */
export interface RefusedMsg extends Hop<'shard', 'gateway'> {
  readonly kind: 'refused';
  readonly job: JobId;
  readonly limit: number;
}

/** A job placed with `capped` has left the machine (it ended, however): its shard counts it no more. */
export interface LeftMsg extends Hop<'machine', 'shard'> {
  readonly kind: 'left';
  readonly job: JobId;
}

/**
 * The gateway is done with a job of a function with a concurrency limit: it heard it end (its
 * worker's `left`, sent at the answer, may have been lost on the way), or gave up on it (its worker
 * was lost, or it was not heard of in time). Its shard counts it no more, as on `left` (whichever
 * comes first; the other changes nothing).
 */
export interface ReleaseMsg extends Hop<'gateway', 'shard'> {
  readonly kind: 'release';
  readonly job: JobId;
}

/** Power-of-k: a shard asks a machine how many jobs it has, to place `job`. */
export interface PollMsg extends Hop<'shard', 'machine'> {
  readonly kind: 'poll';
  readonly poll: number;
  readonly job: JobId;
}

/** A machine's answer to a poll: jobs on it now, running or waiting. */
export interface PollAnswerMsg extends Hop<'machine', 'shard'> {
  readonly kind: 'poll-answer';
  readonly poll: number;
  readonly jobs: number;
  /**
   * True when the machine's free memory is below its dispatcher's mark for leaving an idle list:
   * a shard that places by free cores (ShardConfig.idleNeedsCore) sends a job there only when it
   * has no listed machine. Absent otherwise.
   */
  readonly memoryLow?: boolean | undefined;
}

/** A dispatcher asks a shard how long its idle list is (to join the emptiest of k). */
export interface IdlePollMsg extends Hop<'machine', 'shard'> {
  readonly kind: 'idle-poll';
  readonly poll: number;
}

/** A shard's answer: machines on its idle list now. */
export interface IdleAnswerMsg extends Hop<'shard', 'machine'> {
  readonly kind: 'idle-answer';
  readonly poll: number;
  readonly size: number;
}

/** A dispatcher joins, refreshes or leaves a shard's idle list. */
export interface IdleJoinMsg extends Hop<'machine', 'shard'> {
  readonly kind: 'idle-join' | 'idle-update';
  readonly freeMB: number;
  readonly jobs: number;
  /**
   * The machine's cores (on a join; an update keeps them): a shard that places from its idle list
   * only while a machine has a free core (ShardConfig.idleNeedsCore) compares its jobs with them.
   */
  readonly cores?: number | undefined;
}

export interface IdleLeaveMsg extends Hop<'machine', 'shard'> {
  readonly kind: 'idle-leave';
}

/**
 * Sparrow's probe: the shard holds `job` and asks the machine to queue a reservation for it (the
 * same job is reserved on d machines; the first to claim it gets it).
 */
export interface ReserveMsg extends Hop<'shard', 'machine'> {
  readonly kind: 'reserve';
  readonly job: JobId;
}

/** The machine has a free core and reached the reservation for `job`: it asks the shard for the job (Sparrow's getTask). */
export interface ClaimMsg extends Hop<'machine', 'shard'> {
  readonly kind: 'claim';
  readonly job: JobId;
}

/** The shard's answer to a claim for a job another machine claimed first: nothing to run (the machine moves on). */
export interface TakenMsg extends Hop<'shard', 'machine'> {
  readonly kind: 'taken';
  readonly job: JobId;
}

/**
 * A job that waits for a synchronous call it made (or whose call ended) gives up (or wants back)
 * its core: from the gateway that took the call to the machine that runs the caller.
 */
export interface BlockMsg extends Hop<'gateway', 'machine'> {
  readonly kind: 'block' | 'unblock';
  readonly job: JobId;
}

/**
 * A gateway that has heard nothing of a job for a while asks the machine it is on (a carrier that
 * delivers at most once may have lost a message); the machine says again what it knows.
 */
export interface AskMsg extends Hop<'gateway', 'machine'> {
  readonly kind: 'ask';
  readonly job: JobId;
}

/**
 * What happened to a job on a machine, for the gateway that waits for it: `accepted` (it is in the
 * machine's run queue: where it is, should the machine be lost before it starts), `started`,
 * `preempted`, or `unknown` (the answer to an `ask` about a job the machine has no trace of).
 */
export interface JobEventMsg extends Hop<'machine', 'gateway'> {
  readonly kind: 'accepted' | 'started' | 'preempted' | 'unknown';
  readonly job: JobId;
}

export interface SwappedMsg extends Hop<'machine', 'gateway'> {
  readonly kind: 'swapped';
  readonly job: JobId;
  readonly dir: 'out' | 'in';
  readonly mb: number;
}

/**
 * The job's function answered: the caller can be told (`result`), and its core is free. In the
 * live system the measurement of the invocation (CPU, logs) follows in `done`.
 */
export interface AnsweredMsg extends Hop<'machine', 'gateway'> {
  readonly kind: 'answered';
  readonly job: JobId;
  readonly result?: Cargo;
}

/**
 * A chunk of a response the job's function streams, for a caller that streams it (the live system's
 * InvokeWithResponseStream and function URLs): `seq` counts them from 0, so a gateway can tell one
 * was lost; `data` is base64; the first carries the response's content type. The `answered` that
 * follows says how many were sent.
 */
export interface StreamMsg extends Hop<'machine', 'gateway'> {
  readonly kind: 'stream';
  readonly job: JobId;
  readonly seq: number;
  readonly data: string;
  readonly contentType?: string;
}

/**
 * Flow control of a streamed response (gateway → the machine that runs the job): its caller has
 * taken `bytes` bytes of it so far (the chunks' decoded bytes, counted from the first). The machine
 * lets the function write on while at most STREAM_WINDOW_BYTES are sent and not yet taken, so a
 * slow reader slows the function's writes instead of filling the gateway's memory. Cumulative: one
 * that is lost is made good by the next, and a machine that hears none within STREAM_ACK_WAIT_MS
 * lets one more chunk go (a lost acknowledgement slows a stream; it never stops it).
 */
export interface StreamAckMsg extends Hop<'gateway', 'machine'> {
  readonly kind: 'stream-ack';
  readonly job: JobId;
  readonly bytes: number;
}

/** Bytes of a streamed response that may be sent and not yet taken by its caller (see StreamAckMsg). */
export const STREAM_WINDOW_BYTES = 1024 * 1024;

/** How long a function's stream waits for an acknowledgement before it may write one more chunk. */
export const STREAM_ACK_WAIT_MS = 2_000;

/**
 * A synchronous call made by a job another gateway sent began (`call`) or ended (`call-end`): from
 * the gateway that took the call (the caller's context was shown to it) to the caller's gateway,
 * which blocks or unblocks the caller on its machine as for calls through itself, counting them all.
 * `caller` is the caller's request id; `call` names the call among the sender's.
 */
export interface CallMsg extends Hop<'gateway', 'gateway'> {
  readonly kind: 'call' | 'call-end';
  readonly caller: string;
  readonly call: number;
}

/** The job left the machine; `result` is its outcome (the live system's invocation outcome). */
export interface DoneMsg extends Hop<'machine', 'gateway'> {
  readonly kind: 'done';
  readonly job: JobId;
  readonly result?: Cargo;
}

export type Message =
  | ArriveMsg
  | PlaceMsg
  | PollMsg
  | PollAnswerMsg
  | IdlePollMsg
  | IdleAnswerMsg
  | IdleJoinMsg
  | IdleLeaveMsg
  | ReserveMsg
  | ClaimMsg
  | TakenMsg
  | BlockMsg
  | AskMsg
  | JobEventMsg
  | SwappedMsg
  | AnsweredMsg
  | StreamMsg
  | StreamAckMsg
  | DoneMsg
  | CallMsg
  | RefusedMsg
  | LeftMsg
  | ReleaseMsg;

export type MessageKind = Message['kind'];

/** Messages addressed to each part. */
export type ShardMessage = Extract<Message, { readonly to: { readonly part: 'shard' } }>;
export type MachineMessage = Extract<Message, { readonly to: { readonly part: 'machine' } }>;
export type GatewayMessage = Extract<Message, { readonly to: { readonly part: 'gateway' } }>;

// Addresses are interned: one object per (part, id), so the core can hand the same one out again
// without allocating, and a driver can compare them by identity or by fields.
const interned: Record<Part, Address[]> = { gateway: [], shard: [], machine: [] };

export function address<P extends Part>(part: P, id: number): Address & { readonly part: P } {
  if (!Number.isInteger(id) || id < 0) throw new RangeError(`address ${part}/${id}: the id must be a whole number ≥ 0`);
  const list = interned[part];
  let a = list[id];
  if (a === undefined) {
    a = Object.freeze({ part, id });
    list[id] = a;
  }
  return a as Address & { readonly part: P };
}

export const gatewayAddress = (id: number): Address & { readonly part: 'gateway' } => address('gateway', id);
export const shardAddress = (id: ShardId): Address & { readonly part: 'shard' } => address('shard', id);
export const machineAddress = (id: MachineId): Address & { readonly part: 'machine' } => address('machine', id);

/** `shard/3`. */
export function formatAddress(a: Address): string {
  return `${a.part}/${a.id}`;
}

/** A message as plain JSON-safe data, copied (for a Bus that keeps a message past its sender's `advance()`). */
export function copyMessage<M extends Message>(m: M): M {
  const c = { ...m } as Record<string, unknown>;
  if ('job' in m && typeof m.job === 'object') c.job = { ...m.job };
  return c as M;
}

const PARTS: readonly Part[] = ['gateway', 'shard', 'machine'];
const KINDS: Readonly<Record<MessageKind, readonly [from: Part, to: Part]>> = {
  'arrive': ['gateway', 'shard'],
  'place': ['shard', 'machine'],
  'poll': ['shard', 'machine'],
  'poll-answer': ['machine', 'shard'],
  'idle-poll': ['machine', 'shard'],
  'idle-answer': ['shard', 'machine'],
  'idle-join': ['machine', 'shard'],
  'idle-update': ['machine', 'shard'],
  'idle-leave': ['machine', 'shard'],
  'reserve': ['shard', 'machine'],
  'claim': ['machine', 'shard'],
  'taken': ['shard', 'machine'],
  'block': ['gateway', 'machine'],
  'unblock': ['gateway', 'machine'],
  'ask': ['gateway', 'machine'],
  'accepted': ['machine', 'gateway'],
  'unknown': ['machine', 'gateway'],
  'started': ['machine', 'gateway'],
  'preempted': ['machine', 'gateway'],
  'swapped': ['machine', 'gateway'],
  'answered': ['machine', 'gateway'],
  'stream': ['machine', 'gateway'],
  'stream-ack': ['gateway', 'machine'],
  'done': ['machine', 'gateway'],
  'call': ['gateway', 'gateway'],
  'call-end': ['gateway', 'gateway'],
  'refused': ['shard', 'gateway'],
  'left': ['machine', 'shard'],
  'release': ['gateway', 'shard'],
};

/**
 * Checks a message that arrived from outside (a network): its kind, its addresses, and the fields
 * the receiving core reads. Returns what is wrong, or undefined. Addresses in the result are
 * interned again.
 */
export function checkMessage(x: unknown): { ok: true; msg: Message } | { ok: false; error: string } {
  if (typeof x !== 'object' || x === null) return { ok: false, error: 'a message is an object' };
  const o = x as Record<string, unknown>;
  const kind = o.kind as MessageKind;
  const route = typeof kind === 'string' && Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
  if (route === undefined) return { ok: false, error: `unknown message kind ${JSON.stringify(o.kind)}` };
  const addr = (v: unknown, want: Part, field: string): Address | string => {
    const a = v as Record<string, unknown> | null;
    if (typeof a !== 'object' || a === null || !PARTS.includes(a.part as Part) || !Number.isInteger(a.id) || (a.id as number) < 0) return `${field} is not an address`;
    if (a.part !== want) return `${kind} goes from ${route[0]} to ${route[1]}, not ${field} ${String(a.part)}`;
    return address(a.part as Part, a.id as number);
  };
  const from = addr(o.from, route[0], 'from');
  if (typeof from === 'string') return { ok: false, error: from };
  const to = addr(o.to, route[1], 'to');
  if (typeof to === 'string') return { ok: false, error: to };
  const num = (f: string): boolean => typeof o[f] === 'number' && Number.isFinite(o[f]);
  const need = (...fields: string[]): string | undefined => fields.find((f) => !num(f));
  let missing: string | undefined;
  switch (kind) {
    case 'arrive':
    case 'place': {
      const j = o.job as Record<string, unknown> | null;
      if (typeof j !== 'object' || j === null || !['id', 'cls', 'arrival', 'fn'].every((f) => typeof j[f] === 'number' && Number.isFinite(j[f]))) return { ok: false, error: `${kind}: job needs numbers id, cls, arrival and fn` };
      if (kind === 'place') missing = need('waited');
      if (kind === 'place' && o.capped !== undefined && o.capped !== true) return { ok: false, error: `place: capped must be true or absent, got ${JSON.stringify(o.capped)}` };
      if (kind === 'arrive' && o.cap !== undefined) {
        const c = o.cap as Record<string, unknown> | null;
        if (typeof c !== 'object' || c === null || typeof c.key !== 'string' || c.key.length === 0 || c.key.length > 256 || !(Number.isInteger(c.limit) && (c.limit as number) >= 0)) {
          return { ok: false, error: `arrive: cap must be {key: a string of 1 to 256 characters, limit: a whole number ≥ 0}, or absent; got ${JSON.stringify(o.cap)}` };
        }
      }
      if (kind === 'arrive' && o.expectedMs !== undefined && !(typeof o.expectedMs === 'number' && o.expectedMs >= 0 && Number.isFinite(o.expectedMs))) return { ok: false, error: `arrive: expectedMs must be a number ≥ 0, got ${JSON.stringify(o.expectedMs)}` };
      break;
    }
    case 'poll': missing = need('poll', 'job'); break;
    case 'poll-answer':
      missing = need('poll', 'jobs');
      if (missing === undefined && o.memoryLow !== undefined && typeof o.memoryLow !== 'boolean') return { ok: false, error: 'poll-answer: memoryLow must be true, false or absent' };
      break;
    case 'idle-poll': missing = need('poll'); break;
    case 'idle-answer': missing = need('poll', 'size'); break;
    case 'idle-join':
    case 'idle-update':
      missing = need('freeMB', 'jobs');
      if (missing === undefined && o.cores !== undefined && !(Number.isInteger(o.cores) && (o.cores as number) >= 1)) {
        return { ok: false, error: `${kind}: cores must be a whole number ≥ 1 (the machine's cores), or absent` };
      }
      break;
    case 'idle-leave': break;
    case 'swapped': missing = need('job', 'mb'); break;
    case 'reserve':
    case 'claim':
    case 'taken':
    case 'block':
    case 'unblock':
    case 'ask':
    case 'unknown':
    case 'accepted':
    case 'started':
    case 'preempted':
    case 'answered':
    case 'left':
    case 'release':
    case 'done': missing = need('job'); break;
    case 'refused': missing = need('job', 'limit'); break;
    case 'stream':
      if (typeof o.data !== 'string') return { ok: false, error: 'stream: data must be a string (base64)' };
      if (o.contentType !== undefined && typeof o.contentType !== 'string') return { ok: false, error: 'stream: contentType must be a string, or absent' };
      missing = need('job', 'seq');
      break;
    case 'stream-ack':
      missing = need('job', 'bytes');
      if (missing === undefined && !((o.bytes as number) >= 0)) return { ok: false, error: 'stream-ack: bytes must be ≥ 0' };
      break;
    case 'call':
    case 'call-end':
      if (typeof o.caller !== 'string' || o.caller.length === 0 || o.caller.length > 128) return { ok: false, error: `${kind}: caller must be a request id (1 to 128 characters)` };
      missing = need('call');
      break;
    default: {
      const never: never = kind;
      return { ok: false, error: `unknown message kind ${String(never)}` };
    }
  }
  if (missing !== undefined) return { ok: false, error: `${kind}: ${missing} must be a number` };
  // Assigned, not `{ ...o, from, to }`: a spread followed by more properties is V8's slow path.
  const msg = Object.assign({}, o);
  msg.from = from;
  msg.to = to;
  return { ok: true, msg: msg as unknown as Message };
}

/**
 * One decision as a line of a decision log: `machine/3 run job=5`, or for a message
 * `shard/0 → machine/3 place job=5 via=idle-list waited=0` (its cargo left out: the log is about
 * decisions, and every driver writes the same line for the same decision).
 */
export function formatDecisionLine(who: Address, d: { readonly kind: string }): string {
  const o = d as unknown as Record<string, unknown>;
  const to = o.to as Address | undefined;
  let line = to === undefined ? `${formatAddress(who)} ${d.kind}` : `${formatAddress(who)} → ${formatAddress(to)} ${d.kind}`;
  for (const k of Object.keys(o)) {
    if (k === 'kind' || k === 'from' || k === 'to' || k === 'cargo' || k === 'result' || k === 'data') continue;
    const v = o[k];
    if (v === undefined) continue;
    line += ` ${k}=${formatField(v)}`;
  }
  return line;
}

/** A time in a decision log: to the nanosecond, so drivers that add times in a different order print the same. */
export function formatTime(t: number): string {
  return formatField(t);
}

function formatField(v: unknown): string {
  if (typeof v === 'number') return v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(Math.round(v * 1e6) / 1e6);
  if (Array.isArray(v)) return `[${v.map(formatField).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const id = (v as { id?: unknown }).id;
    return typeof id === 'number' ? String(id) : JSON.stringify(v);
  }
  return String(v);
}
