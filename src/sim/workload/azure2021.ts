// Replay of the Azure Functions 2021 invocation trace (Zhang et al., SOSP '21): one row per invocation
// with its end time and duration, so arrivals and runtimes are the trace's own (start = end − duration,
// sorted by start). The trace records no memory: it is drawn per job (default the Azure 2019 Burr XII
// fit). Classes are drawn per function. The file is read whole and sorted, so it is held in memory
// (typed arrays, 20 bytes per invocation).

import type { Rng } from '../../core/rng.ts';
import type { ResolvedAzure2021 } from './config.ts';
import { classesOfFunctions, unitsOf } from './class-assignment.ts';
import { fillCount, type JobBatch, type JobSource, type WorkloadInfo } from './job-batch.ts';
import { MemorySampler } from './memory.ts';
import { col, fields, numberField, readCsv, WorkloadError } from './trace-csv.ts';

const MINUTE_MS = 60_000;

/** Invocations sorted by start, ms after the first start in the file. */
export interface Azure2021Trace {
  /** `app/func` of each function, dense index in order of first invocation. */
  readonly functions: readonly string[];
  readonly start: Float64Array;
  /** Duration in ms, as recorded (may be 0). */
  readonly duration: Float64Array;
  readonly fn: Int32Array;
  /** Start time of the first invocation, seconds of the trace's clock. */
  readonly originSec: number;
}

/** Reads and sorts the whole file. Throws WorkloadError with file:line on a bad row. */
export function readAzure2021(file: string): Azure2021Trace {
  const t = readCsv(file, 'Azure 2021 invocations file', ['app', 'func', 'end_timestamp', 'duration'], 'check workload.file');
  const ca = col(t, 'app');
  const cf = col(t, 'func');
  const ce = col(t, 'end_timestamp');
  const cd = col(t, 'duration');
  const n = t.lines.length;
  if (n === 0) throw new WorkloadError('FARE_E_TRACE_EMPTY', `${t.path} has a header but no invocations`);
  const startSec = new Float64Array(n);
  const durSec = new Float64Array(n);
  const keys: string[] = new Array<string>(n);
  for (let row = 0; row < n; row++) {
    const x = fields(t, row);
    const end = numberField(t, row, x, ce);
    const d = numberField(t, row, x, cd, 0);
    startSec[row] = end - d;
    durSec[row] = d;
    keys[row] = `${x[ca] ?? ''}/${x[cf] ?? ''}`;
  }
  // Sort by start; ties keep file order.
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (startSec[a] ?? 0) - (startSec[b] ?? 0) || a - b);
  const originSec = startSec[order[0] ?? 0] ?? 0;
  const start = new Float64Array(n);
  const duration = new Float64Array(n);
  const sortedKeys: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = order[i] ?? 0;
    start[i] = ((startSec[r] ?? 0) - originSec) * 1000;
    duration[i] = (durSec[r] ?? 0) * 1000;
    sortedKeys.push(keys[r] ?? '');
  }
  // Functions numbered in order of first invocation.
  const { unit: fn, names: functions } = unitsOf(sortedKeys);
  return { functions, start, duration, fn, originSec };
}

export class Azure2021Source implements JobSource {
  readonly meanRuntimeMs: number;
  readonly total: number;
  readonly info: WorkloadInfo;
  readonly fnClass: Uint8Array;
  readonly timeScale: number;

  private readonly trace: Azure2021Trace;
  /** Index of the first invocation in the range, and its start (the new time origin), ms. */
  private readonly first: number;
  private readonly originMs: number;
  private readonly minRuntimeMs: number;
  private readonly memory: MemorySampler;
  private readonly rngMemory: Rng;
  private produced = 0;

  /** `classRng`: the stream classes are drawn from (the experiment's seed alone: the same for every load); default a fork of `rng`. */
  constructor(trace: Azure2021Trace, cfg: Readonly<ResolvedAzure2021>, cores: number, rng: Rng, classRng: Rng = rng.fork('function-class')) {
    this.trace = trace;
    this.minRuntimeMs = cfg.minRuntimeMs;
    this.memory = new MemorySampler(cfg.memory);
    this.rngMemory = rng.fork('memory');
    const F = trace.functions.length;
    // Classes by the whole file's invocations (class-assignment.ts): the same whatever range or load.
    const counts = new Float64Array(F);
    for (let i = 0; i < trace.fn.length; i++) counts[trace.fn[i] ?? 0] = (counts[trace.fn[i] ?? 0] ?? 0) + 1;
    const by = cfg.classes.by;
    const assigned = classesOfFunctions(by === 'app' ? trace.functions.map((k) => k.slice(0, k.indexOf('/'))) : trace.functions, counts, cfg.classes, classRng);
    this.fnClass = assigned.fnClass;

    const fromMs = cfg.fromMinute * MINUTE_MS;
    const toMs = cfg.toMinute * MINUTE_MS;
    const s = trace.start;
    let first = 0;
    while (first < s.length && (s[first] ?? 0) < fromMs) first++;
    let last = first;
    while (last < s.length && (s[last] ?? 0) < toMs) last++;
    this.first = first;
    this.originMs = fromMs;
    this.total = last - first;
    if (this.total === 0) {
      const lastMinute = Math.floor((s[s.length - 1] ?? 0) / MINUTE_MS);
      throw new WorkloadError('FARE_E_TRACE_EMPTY', `minutes [${String(cfg.fromMinute)}, ${String(cfg.toMinute)}) of the Azure 2021 trace hold no invocations (the file covers minutes 0 to ${String(lastMinute)} after its first invocation): pick another range`);
    }

    let work = 0;
    const shares = new Array<number>(cfg.classWeights.length).fill(0);
    const cpu = new Array<number>(cfg.classWeights.length).fill(0);
    for (let i = first; i < last; i++) {
      const d = Math.max(this.minRuntimeMs, trace.duration[i] ?? 0);
      work += d;
      const c = this.fnClass[trace.fn[i] ?? 0] ?? 0;
      shares[c] = (shares[c] ?? 0) + 1;
      cpu[c] = (cpu[c] ?? 0) + d;
    }
    this.meanRuntimeMs = work / this.total;
    // The span is the range, or up to the last invocation when the range is open-ended.
    const rangeMs = Math.max(1, Number.isFinite(toMs) ? toMs - fromMs : (s[last - 1] ?? 0) - fromMs);
    this.timeScale = cfg.speed.kind === 'load' ? work / (cfg.speed.load * cores * rangeMs) : cfg.speed.timeScale;
    const spanMs = rangeMs * this.timeScale;
    this.info = {
      kind: 'azure2021',
      functions: F,
      ratePerMs: this.total / spanMs,
      offeredLoad: work / (spanMs * cores),
      spanMs,
      classShares: shares.map((x) => x / this.total),
      cpuShares: cpu.map((x) => (work > 0 ? x / work : 0)),
      assignment: { by, targets: cfg.classes.shares, worst: assigned.worst },
    };
  }

  fill(batch: JobBatch, max: number): number {
    const n = fillCount(batch, max, this.total - this.produced);
    batch.count = n;
    if (n === 0) return 0;
    const { id, arrival, runtime, fn, cls } = batch;
    const { start, duration, fn: tfn } = this.trace;
    const at = this.first + this.produced;
    const origin = this.originMs;
    const scale = this.timeScale;
    const minRt = this.minRuntimeMs;
    const fnClass = this.fnClass;
    for (let i = 0; i < n; i++) {
      const r = at + i;
      id[i] = this.produced + i;
      arrival[i] = ((start[r] ?? 0) - origin) * scale;
      runtime[i] = Math.max(minRt, duration[r] ?? 0);
      const f = tfn[r] ?? 0;
      fn[i] = f;
      cls[i] = fnClass[f] ?? 0;
    }
    this.memory.fill(batch.memMB, n, this.rngMemory);
    this.produced += n;
    return n;
  }
}
