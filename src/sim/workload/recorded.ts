// Replay of Fare's own recordings (`fare up --record FILE`): the live traffic's arrivals, classes, the
// time each held a core (its receipt's; CPU time in older recordings) and memory, one JSON line per invocation, with a header that says how it was served (policy,
// cores, price table). Arrivals and runtimes are the recording's own; each job keeps the class it ran
// at (by name, so a replay may rename or reprice classes). The file is read whole and sorted by
// arrival (lines are written as invocations end). The format: src/core/recording.ts and README.md.

import { readFileSync } from 'node:fs';
import type { PriceTable } from '../../core/classes.ts';
import { TRACE_FORMAT, TRACE_VERSION, type TraceHeader, type TraceRecord } from '../../core/recording.ts';
import type { ResolvedRecorded } from './config.ts';
import { unitsOf } from './class-assignment.ts';
import { fillCount, type JobBatch, type JobSource, type WorkloadInfo } from './job-batch.ts';
import { WorkloadError } from './trace-csv.ts';

export interface RecordedTrace {
  /** With `machines` and `cores` resolved: the header's, or where a cluster gateway's records say each execution ran. */
  readonly header: TraceHeader & { readonly machines: number; readonly cores: number };
  readonly path: string;
  /** Sorted by arrival. */
  readonly records: readonly TraceRecord[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a recording. Throws WorkloadError with file:line, what was wrong and what to do. */
export function readRecording(path: string): RecordedTrace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new WorkloadError('FARE_E_TRACE_MISSING', `cannot read the recording ${path}: ${(e as Error).message}: record one with fare up --record FILE`);
  }
  const lines = text.split('\n');
  const bad = (line: number, why: string): WorkloadError => new WorkloadError(line === 1 ? 'FARE_E_TRACE_HEADER' : 'FARE_E_TRACE_ROW', `${path}:${line}: ${why}`);
  const parse = (i: number): unknown => {
    try {
      return JSON.parse(lines[i] ?? '') as unknown;
    } catch {
      throw bad(i + 1, 'is not a JSON object: a recording has one JSON object per line (see "Fare\'s recordings" in src/sim/workload/README.md)');
    }
  };
  if ((lines[0] ?? '').trim() === '') throw new WorkloadError('FARE_E_TRACE_EMPTY', `${path} is empty: record traffic with fare up --record FILE`);
  const h = parse(0);
  if (!isObj(h) || h.format !== TRACE_FORMAT) throw bad(1, `is not a Fare recording's header (format "${TRACE_FORMAT}"): record traffic with fare up --record FILE`);
  if (h.version !== TRACE_VERSION) throw bad(1, `is version ${JSON.stringify(h.version)} of the format; this Fare reads version ${TRACE_VERSION}`);
  const prices = h.prices;
  if (!isObj(prices) || !Array.isArray(prices.classes) || prices.classes.length === 0 || !prices.classes.every((c) => isObj(c) && typeof c.name === 'string' && typeof c.price === 'number')) {
    throw bad(1, 'has no price table ("prices": {"classes": [{"name", "price"}, …]})');
  }
  for (const k of ['cores', 'machines', 'shards'] as const) {
    if (h[k] !== undefined && (typeof h[k] !== 'number' || !Number.isInteger(h[k]) || h[k] < 1)) throw bad(1, `${k} is ${JSON.stringify(h[k])}: a whole number ≥ 1, or left out (a cluster gateway's recording: its records say where each ran)`);
  }
  if (typeof h.policy !== 'string' || typeof h.recordedAt !== 'string') throw bad(1, 'needs "policy" and "recordedAt"');
  const given = h as unknown as TraceHeader;
  const records: TraceRecord[] = [];
  for (let i = 1; i < lines.length; i++) {
    if ((lines[i] ?? '').trim() === '') continue;
    const r = parse(i);
    if (!isObj(r)) throw bad(i + 1, 'is not a JSON object');
    for (const k of ['t', 'cpuMs', 'memMB', 'latencyMs'] as const) {
      if (typeof r[k] !== 'number' || !Number.isFinite(r[k]) || r[k] < 0) throw bad(i + 1, `${k} is ${JSON.stringify(r[k])}: a number ≥ 0`);
    }
    if (r.runMs !== undefined && (typeof r.runMs !== 'number' || !Number.isFinite(r.runMs) || r.runMs < 0)) throw bad(i + 1, `runMs is ${JSON.stringify(r.runMs)}: a number ≥ 0, or leave it out`);
    if (typeof r.fn !== 'string' || typeof r.class !== 'string') throw bad(i + 1, 'needs "fn" and "class" (strings)');
    for (const k of ['machine', 'cores'] as const) {
      if (r[k] !== undefined && (typeof r[k] !== 'number' || !Number.isInteger(r[k]) || r[k] < (k === 'cores' ? 1 : 0))) throw bad(i + 1, `${k} is ${JSON.stringify(r[k])}: a whole number${k === 'cores' ? ' ≥ 1' : ' ≥ 0'}, or leave it out`);
    }
    records.push(r as unknown as TraceRecord);
  }
  if (records.length === 0) throw new WorkloadError('FARE_E_TRACE_EMPTY', `${path} has a header but no invocations: run some traffic while recording`);
  // A cluster gateway's recording: as many machines as the highest machine number seen, with the most cores seen.
  let machines = given.machines;
  let cores = given.cores;
  if (machines === undefined || cores === undefined) {
    let top = -1;
    let most = 0;
    for (const r of records) {
      if (r.machine !== undefined) top = Math.max(top, r.machine);
      if (r.cores !== undefined) most = Math.max(most, r.cores);
    }
    if ((machines === undefined && top < 0) || (cores === undefined && most === 0)) {
      throw bad(1, 'says neither how many machines and cores served the traffic nor do its records say where each ran: give "machines" and "cores" in the header');
    }
    machines ??= top + 1;
    cores ??= most;
  }
  const header = { ...given, machines, cores };
  records.sort((a, b) => a.t - b.t);
  return { header, path, records };
}

/**
 * Each record's class index in `prices`, after renaming by `rename` (old name → new name). Throws
 * naming a class the table does not have, and what to do.
 */
export function classIndexes(trace: RecordedTrace, prices: PriceTable, rename: Readonly<Record<string, string>> = {}): Uint8Array {
  const names = prices.classes.map((c) => c.name);
  const out = new Uint8Array(trace.records.length);
  trace.records.forEach((r, i) => {
    const name = rename[r.class] ?? r.class;
    const c = names.indexOf(name);
    if (c < 0) {
      throw new WorkloadError('FARE_E_WORKLOAD_CONFIG', `the recording's class ${JSON.stringify(r.class)}${name !== r.class ? ` (renamed ${JSON.stringify(name)})` : ''} is not in the price table (${names.join(', ')}): map it with --classes ${r.class}=NAME`);
    }
    out[i] = c;
  });
  return out;
}

export class RecordedSource implements JobSource {
  readonly meanRuntimeMs: number;
  readonly total: number;
  readonly info: WorkloadInfo;
  readonly timeScale: number;
  private readonly trace: RecordedTrace;
  private readonly cls: Uint8Array;
  private readonly fnOf: Int32Array;
  private readonly originMs: number;
  private readonly minRuntimeMs: number;
  private produced = 0;

  constructor(trace: RecordedTrace, cfg: Readonly<ResolvedRecorded>, prices: PriceTable, cores: number) {
    this.trace = trace;
    this.minRuntimeMs = cfg.minRuntimeMs;
    this.cls = classIndexes(trace, prices, cfg.rename);
    const { unit, names } = unitsOf(trace.records.map((r) => r.fn));
    this.fnOf = unit;
    const recs = trace.records;
    this.total = recs.length;
    this.originMs = recs[0]?.t ?? 0;
    let work = 0;
    const k = prices.classes.length;
    const shares = new Array<number>(k).fill(0);
    const cpu = new Array<number>(k).fill(0);
    recs.forEach((r, i) => {
      const d = Math.max(this.minRuntimeMs, r.runMs ?? r.cpuMs);
      work += d;
      const c = this.cls[i] ?? 0;
      shares[c] = (shares[c] ?? 0) + 1;
      cpu[c] = (cpu[c] ?? 0) + d;
    });
    this.meanRuntimeMs = work / this.total;
    const rangeMs = recordedSpanMs(trace);
    this.timeScale = cfg.speed.kind === 'load' ? work / (cfg.speed.load * cores * rangeMs) : cfg.speed.timeScale;
    const spanMs = rangeMs * this.timeScale;
    this.info = {
      kind: 'recorded',
      functions: names.length,
      ratePerMs: this.total / spanMs,
      offeredLoad: work / (spanMs * cores),
      spanMs,
      classShares: shares.map((x) => x / this.total),
      cpuShares: cpu.map((x) => (work > 0 ? x / work : 0)),
    };
  }

  fill(batch: JobBatch, max: number): number {
    const n = fillCount(batch, max, this.total - this.produced);
    batch.count = n;
    if (n === 0) return 0;
    const recs = this.trace.records;
    for (let i = 0; i < n; i++) {
      const j = this.produced + i;
      const r = recs[j] as TraceRecord;
      batch.id[i] = j;
      batch.arrival[i] = (r.t - this.originMs) * this.timeScale;
      batch.runtime[i] = Math.max(this.minRuntimeMs, r.runMs ?? r.cpuMs);
      batch.fn[i] = this.fnOf[j] ?? 0;
      batch.cls[i] = this.cls[j] ?? 0;
      batch.memMB[i] = r.memMB;
    }
    this.produced += n;
    return n;
  }
}

/** The recording's arrival span, ms (at least 1): the load its own speed offers is work ÷ (cores × span). */
export function recordedSpanMs(trace: RecordedTrace): number {
  const recs = trace.records;
  return Math.max(1, (recs[recs.length - 1]?.t ?? 0) - (recs[0]?.t ?? 0));
}

/** The offered utilization of the recording at its own speed on `cores` cores. */
export function recordedLoad(trace: RecordedTrace, cores: number, minRuntimeMs: number): number {
  const work = trace.records.reduce((s, r) => s + Math.max(minRuntimeMs, r.runMs ?? r.cpuMs), 0);
  return work / (cores * recordedSpanMs(trace));
}
