// Decision traces: every decision a core object takes, one line of text each
// (`t=5 machine/0 run job=3`), so a policy story is a golden list of lines.

import type { CoreObject, Millis } from '../types.ts';

/** Anything with a `kind`: the inputs and decisions of every core object. */
export interface Kinded {
  readonly kind: string;
}

/** One value in a trace line: integers as is, arrays as `[a,b]`, jobs (objects with an `id`) as their id. */
export function formatValue(v: unknown): string {
  if (v === undefined) return '-';
  if (v === null) return 'null';
  if (typeof v === 'number') return v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.id === 'number') return String(o.id);
    return `{${Object.keys(o).map((k) => `${k}=${formatValue(o[k])}`).join(' ')}}`;
  }
  return typeof v;
}

/** `run job=3`: the kind, then every other field in the object's own order. */
export function formatDecision<D extends Kinded>(d: D): string {
  const o = d as unknown as Record<string, unknown>;
  const fields = Object.keys(o).filter((k) => k !== 'kind').map((k) => `${k}=${formatValue(o[k])}`);
  return fields.length ? `${d.kind} ${fields.join(' ')}` : d.kind;
}

export interface TracerOptions {
  /** Also record each input, as `t=0 machine/0 < arrive job=1 memMB=0`. */
  readonly inputs?: boolean;
}

/**
 * Drives one or more core objects and records their decisions. `step` returns a copy of the decisions
 * (after calling `advance`), so a test can react to them, e.g. answer a poll.
 */
export class Tracer {
  readonly lines: string[] = [];

  constructor(private readonly opts: TracerOptions = {}) {}

  step<I extends Kinded, D extends Kinded>(name: string, obj: CoreObject<I, D>, now: Millis, input: I): D[] {
    if (this.opts.inputs) this.lines.push(`t=${formatValue(now)} ${name} < ${formatDecision(input)}`);
    obj.step(now, input);
    const out = obj.ready().slice();
    obj.advance();
    for (const d of out) this.lines.push(`t=${formatValue(now)} ${name} ${formatDecision(d)}`);
    return out;
  }

  /** A free-text line (a comment in a story, or an input from the test's own driver). */
  note(now: Millis, name: string, text: string): void {
    this.lines.push(`t=${formatValue(now)} ${name} ${text}`);
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** A script: the inputs for one core object, in order, each with the time it is stepped at. */
export type Script<I> = Iterable<readonly [now: Millis, input: I]>;

/** Feeds a script to `obj` and returns its decisions as trace lines. */
export function runScript<I extends Kinded, D extends Kinded>(
  name: string,
  obj: CoreObject<I, D>,
  script: Script<I>,
  opts: TracerOptions = {},
): string[] {
  const t = new Tracer(opts);
  for (const [now, input] of script) t.step(name, obj, now, input);
  return t.lines;
}
