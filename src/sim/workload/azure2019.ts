// Replay of the Azure Functions 2019 trace (Shahrad et al., ATC '20): per-function invocation counts
// per minute, spread uniformly at random (seeded) within each minute, with each job's runtime drawn
// from a distribution fitted to its function's execution-time statistics — bounded to the function's
// own [Minimum, Maximum], its mean the trace's Average — and its memory from the function's
// allocated-memory percentiles. The counts are kept sparse (minute → functions invoked), so
// a day of the full trace fits; jobs themselves are generated as they are pulled.

import type { Rng } from '../../core/rng.ts';
import type { ResolvedAzure2019 } from './config.ts';
import { fitLognormalSigma } from './distributions.ts';
import { fillCount, type JobBatch, type JobSource, type WorkloadInfo } from './job-batch.ts';
import { col, fields, numberField, readCsv, rowError, WorkloadError } from './trace-csv.ts';
import { classesOfFunctions } from './class-assignment.ts';
import { boundedExponential, boundedLognormal, type Bounded } from './bounded.ts';

const MINUTE_MS = 60_000;
const MINUTES_PER_DAY = 1440;

/** Standard normal quantiles of the run file's percentiles 1, 25, 50, 75, 99 (0 and 100 are ±∞). */
const RUN_PERCENTILES = [
  { column: 'percentile_Average_1', z: -2.3263478740408408 },
  { column: 'percentile_Average_25', z: -0.6744897501960817 },
  { column: 'percentile_Average_50', z: 0 },
  { column: 'percentile_Average_75', z: 0.6744897501960817 },
  { column: 'percentile_Average_99', z: 2.3263478740408408 },
] as const;

/** Probabilities of the memory file's percentile columns; below 1% the 1st percentile is used. */
const MEM_PROBS = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1] as const;
const MEM_COLUMNS = MEM_PROBS.map((p) => `AverageAllocatedMb_pct${String(Math.round(p * 100))}`);
const MEM_KNOTS = MEM_PROBS.length;

/** The parsed trace restricted to a minute range; functions are dense indexes in invocation-file order. */
export interface Azure2019Trace {
  /** HashFunction of each kept function, and its HashApp and HashOwner. */
  readonly functions: readonly string[];
  readonly apps: readonly string[];
  readonly owners: readonly string[];
  /** Per function: its invocations over the whole trace, every day of it (whatever range is replayed). */
  readonly dayInvocations: Float64Array;
  /** Per function: the mean execution time (trace Average raised to minRuntimeMs), ms. */
  readonly meanMs: Float64Array;
  /** Per function: the fitted lognormal sigma. */
  readonly sigma: Float64Array;
  /** Per function: the bounds of its runtimes (ms): the trace's Minimum and Maximum, raised to minRuntimeMs, holding the mean. */
  readonly loMs: Float64Array;
  readonly hiMs: Float64Array;
  /** Per function: MEM_KNOTS allocated-memory percentiles (1, 5, 25, 50, 75, 95, 99, 100), MB. */
  readonly memKnots: Float64Array;
  /** Sparse counts: entries minuteStart[m]..minuteStart[m+1] are minute fromMinute + m. */
  readonly minuteStart: Int32Array;
  readonly entryFn: Int32Array;
  readonly entryCount: Float64Array;
  /** Invocations in the range, per function. */
  readonly invocations: Float64Array;
  /** Invocation rows skipped because the duration or memory file has no row for them. */
  readonly dropped: number;
  readonly fromMinute: number;
  readonly toMinute: number;
}

/** Reads the three files and keeps minutes [fromMinute, toMinute). Throws WorkloadError with file:line. */
export function readAzure2019(cfg: Readonly<ResolvedAzure2019>): Azure2019Trace {
  const hint = 'check workload.dir and workload.files';
  // Durations: keyed by owner/app/function.
  const runCols = ['HashOwner', 'HashApp', 'HashFunction', 'Average', 'Minimum', 'Maximum', ...RUN_PERCENTILES.map((p) => p.column)];
  const run = readCsv(cfg.files.durations, 'Azure 2019 durations file', runCols, hint);
  const runStats = new Map<string, { mean: number; sigma: number; lo: number; hi: number }>();
  {
    const [o, a, f, avg, mn, mx] = ['HashOwner', 'HashApp', 'HashFunction', 'Average', 'Minimum', 'Maximum'].map((c) => col(run, c)) as [number, number, number, number, number, number];
    const pc = RUN_PERCENTILES.map((p) => col(run, p.column));
    for (let row = 0; row < run.lines.length; row++) {
      const x = fields(run, row);
      const mean = Math.max(cfg.minRuntimeMs, numberField(run, row, x, avg, 0));
      const points = RUN_PERCENTILES.map((p, i) => ({ z: p.z, value: numberField(run, row, x, pc[i] ?? 0, 0) }));
      const sigma = cfg.runtimeFit === 'lognormal' ? fitLognormalSigma(mean, points) : 0;
      // Runtimes stay within what the function did that day (raised to minRuntimeMs), around its mean.
      const lo = Math.min(mean, Math.max(cfg.minRuntimeMs, numberField(run, row, x, mn, 0)));
      const hi = Math.max(mean, numberField(run, row, x, mx, 0));
      runStats.set(`${x[o] ?? ''}|${x[a] ?? ''}|${x[f] ?? ''}`, { mean, sigma, lo, hi });
    }
  }

  // Memory: keyed by owner/app (the sample puts the function hash in both).
  const mem = readCsv(cfg.files.memory, 'Azure 2019 memory file', ['HashOwner', 'HashApp', ...MEM_COLUMNS], hint);
  const memStats = new Map<string, Float64Array>();
  {
    const o = col(mem, 'HashOwner');
    const a = col(mem, 'HashApp');
    const mc = MEM_COLUMNS.map((c) => col(mem, c));
    for (let row = 0; row < mem.lines.length; row++) {
      const x = fields(mem, row);
      const knots = new Float64Array(MEM_KNOTS);
      let prev = 0;
      for (let k = 0; k < MEM_KNOTS; k++) {
        // Percentiles are non-decreasing; a running maximum guards against rounding in the trace.
        prev = Math.max(prev, numberField(mem, row, x, mc[k] ?? 0, 0), cfg.minMemoryMB);
        knots[k] = prev;
      }
      memStats.set(`${x[o] ?? ''}|${x[a] ?? ''}`, knots);
    }
  }

  const M = cfg.toMinute - cfg.fromMinute;
  const functions: string[] = [];
  const apps: string[] = [];
  const owners: string[] = [];
  const day: number[] = [];
  const meanMs: number[] = [];
  const sigma: number[] = [];
  const loMs: number[] = [];
  const hiMs: number[] = [];
  const knots: Float64Array[] = [];
  const invocations: number[] = [];
  /** owner|app|function → dense index, across days (a function may be invoked on some days only). */
  const index = new Map<string, number>();
  const droppedKeys = new Set<string>();
  // Non-zero (minute, function, count) triples in row order, then bucketed by minute.
  let eMinute = new Int32Array(1024);
  let eFn = new Int32Array(1024);
  let eCount = new Float64Array(1024);
  let nnz = 0;
  const days = typeof cfg.files.invocations === 'string' ? [cfg.files.invocations] : cfg.files.invocations;
  let inv: ReturnType<typeof readCsv> | undefined;
  for (let d = 0; d < days.length; d++) {
    // Each day's minutes are minute_1..minute_1440 (the In-Vitro samples) or 1..1440 (the published
    // dataset, with a Trigger column before them); either way consecutive columns. Day d's minute m is
    // the replay's minute 1440·d + m.
    inv = readCsv(days[d] as string, 'Azure 2019 invocations file', ['HashOwner', 'HashApp', 'HashFunction'], hint);
    const file = inv;
    const published = !file.header.includes('minute_1') && file.header.includes('1');
    const minuteName = (m: number): string => (published ? String(m + 1) : `minute_${String(m + 1)}`);
    if (!published && !file.header.includes('minute_1')) {
      throw new WorkloadError('FARE_E_TRACE_HEADER', `${file.path}:1: the Azure 2019 invocations file header lacks column minute_1 (or 1): expected HashOwner, HashApp, HashFunction and the minutes minute_1..minute_1440 (or 1..1440, as published); is this the right file?`);
    }
    const first = col(file, minuteName(0));
    for (let m = 0; m < MINUTES_PER_DAY; m++) {
      if (file.header[first + m] !== minuteName(m)) {
        throw new WorkloadError('FARE_E_TRACE_HEADER', `${file.path}:1: column ${String(first + m + 1)} is ${JSON.stringify(file.header[first + m] ?? '(none)')}, expected ${minuteName(m)}: the invocations file must have ${minuteName(0)}..${minuteName(MINUTES_PER_DAY - 1)} in order`);
      }
    }
    const [io, ia, ifn] = ['HashOwner', 'HashApp', 'HashFunction'].map((c) => col(file, c)) as [number, number, number];
    const base = d * MINUTES_PER_DAY;
    for (let row = 0; row < file.lines.length; row++) {
      const x = fields(file, row);
      const owner = x[io] ?? '';
      const app = x[ia] ?? '';
      const hash = x[ifn] ?? '';
      const key = `${owner}|${app}|${hash}`;
      let f = index.get(key);
      if (f === undefined && !droppedKeys.has(key)) {
        const rs = runStats.get(key);
        const ms = memStats.get(`${owner}|${app}`) ?? memStats.get(`${hash}|${hash}`);
        if (rs === undefined || ms === undefined) droppedKeys.add(key);
        else {
          f = functions.length;
          index.set(key, f);
          functions.push(hash);
          apps.push(app);
          owners.push(owner);
          day.push(0);
          meanMs.push(rs.mean);
          sigma.push(rs.sigma);
          loMs.push(rs.lo);
          hiMs.push(rs.hi);
          knots.push(ms);
          invocations.push(0);
        }
      }
      // Validate every count (so a bad row is reported even outside the range), keep those in range.
      let sum = 0;
      let all = 0;
      for (let m = 0; m < MINUTES_PER_DAY; m++) {
        const c = numberField(file, row, x, first + m, 0);
        if (!Number.isInteger(c)) throw rowError(file, row, `has ${minuteName(m)} = ${String(c)}: expected a whole number of invocations`);
        all += c;
        const t = base + m;
        if (f === undefined || c === 0 || t < cfg.fromMinute || t >= cfg.toMinute) continue;
        if (nnz === eFn.length) {
          eMinute = grow(eMinute, new Int32Array(nnz * 2));
          eFn = grow(eFn, new Int32Array(nnz * 2));
          eCount = grow(eCount, new Float64Array(nnz * 2));
        }
        eMinute[nnz] = t - cfg.fromMinute;
        eFn[nnz] = f;
        eCount[nnz] = c;
        nnz++;
        sum += c;
      }
      if (f !== undefined) {
        day[f] = (day[f] ?? 0) + all;
        invocations[f] = (invocations[f] ?? 0) + sum;
      }
    }
  }
  const dropped = droppedKeys.size;
  if (functions.length === 0) {
    throw new WorkloadError('FARE_E_TRACE_EMPTY', `no function of ${inv?.path ?? 'the invocations files'} has a row in both ${run.path} and ${mem.path}: the three files must come from the same sample`);
  }
  // Counting sort of the entries by minute (stable: functions stay in file order within a minute).
  const minuteStart = new Int32Array(M + 1);
  for (let i = 0; i < nnz; i++) {
    const m = (eMinute[i] ?? 0) + 1;
    minuteStart[m] = (minuteStart[m] ?? 0) + 1;
  }
  for (let m = 0; m < M; m++) minuteStart[m + 1] = (minuteStart[m + 1] ?? 0) + (minuteStart[m] ?? 0);
  const cursor = minuteStart.slice(0, M);
  const entryFn = new Int32Array(nnz);
  const entryCount = new Float64Array(nnz);
  for (let i = 0; i < nnz; i++) {
    const m = eMinute[i] ?? 0;
    const at = cursor[m] ?? 0;
    cursor[m] = at + 1;
    entryFn[at] = eFn[i] ?? 0;
    entryCount[at] = eCount[i] ?? 0;
  }
  const memKnots = new Float64Array(functions.length * MEM_KNOTS);
  knots.forEach((k, f) => memKnots.set(k, f * MEM_KNOTS));
  return {
    functions,
    apps,
    owners,
    dayInvocations: Float64Array.from(day),
    meanMs: Float64Array.from(meanMs),
    sigma: Float64Array.from(sigma),
    loMs: Float64Array.from(loMs),
    hiMs: Float64Array.from(hiMs),
    memKnots,
    minuteStart,
    entryFn,
    entryCount,
    invocations: Float64Array.from(invocations),
    dropped,
    fromMinute: cfg.fromMinute,
    toMinute: cfg.toMinute,
  };
}

function grow<T extends Int32Array | Float64Array>(old: T, bigger: T): T {
  bigger.set(old);
  return bigger;
}


export class Azure2019Source implements JobSource {
  readonly meanRuntimeMs: number;
  readonly total: number;
  readonly info: WorkloadInfo;
  /** Per function: its price class. */
  readonly fnClass: Uint8Array;
  /** Arrival times are trace time (from the start of the range) times this. */
  readonly timeScale: number;
  readonly droppedFunctions: number;

  private readonly trace: Azure2019Trace;
  /** Per function: how its runtimes are drawn. */
  private readonly runtimes: Bounded[];
  private readonly minuteMs: number;
  private readonly rngArrival: Rng;
  private readonly rngOrder: Rng;
  private readonly rngRuntime: Rng;
  private readonly rngMemory: Rng;
  private produced = 0;
  /** Current minute (index into the range), the functions of its invocations in shuffled order, and progress. */
  private minute = -1;
  private labels: Int32Array;
  private pos = 0;
  private left = 0;
  private logRest = 0;

  /** The largest miss of a class's share of the day's invocations against its target. */
  private readonly assignmentWorst: number;

  /** `classRng`: the stream classes are drawn from (the experiment's seed alone: the same for every load); default a fork of `rng`. */
  constructor(trace: Azure2019Trace, cfg: Readonly<ResolvedAzure2019>, cores: number, rng: Rng, classRng: Rng = rng.fork('function-class')) {
    this.trace = trace;
    this.droppedFunctions = trace.dropped;
    const F = trace.functions.length;
    this.rngArrival = rng.fork('arrivals');
    this.rngOrder = rng.fork('order');
    this.rngRuntime = rng.fork('runtime');
    this.rngMemory = rng.fork('memory');

    // Classes by the day's invocations (class-assignment.ts), so a function keeps its class whatever
    // range is replayed and at whatever load.
    const by = cfg.classes.by;
    const assigned = classesOfFunctions(by === 'function' ? trace.functions : by === 'app' ? trace.apps : trace.owners, trace.dayInvocations, cfg.classes, classRng);
    this.fnClass = assigned.fnClass;
    this.assignmentWorst = assigned.worst;

    // Each function's runtimes: its fit, bounded to its day's [Minimum, Maximum], with its Average as the mean.
    this.runtimes = [];
    for (let f = 0; f < F; f++) {
      const mean = trace.meanMs[f] ?? 0, lo = trace.loMs[f] ?? mean, hi = trace.hiMs[f] ?? mean;
      this.runtimes.push(cfg.runtimeFit === 'lognormal' ? boundedLognormal(mean, trace.sigma[f] ?? 0, lo, hi)
        : cfg.runtimeFit === 'exponential' ? boundedExponential(mean, lo, hi)
          : { lo, hi, mean, draw: () => mean });
    }
    let total = 0;
    let work = 0;
    const shares = new Array<number>(cfg.classWeights.length).fill(0);
    const cpu = new Array<number>(cfg.classWeights.length).fill(0);
    for (let f = 0; f < F; f++) {
      const mean = trace.meanMs[f] ?? 0;
      const n = trace.invocations[f] ?? 0;
      total += n;
      work += n * mean;
      const c = this.fnClass[f] ?? 0;
      shares[c] = (shares[c] ?? 0) + n;
      cpu[c] = (cpu[c] ?? 0) + n * mean;
    }
    this.total = total;
    this.meanRuntimeMs = total > 0 ? work / total : 0;
    const rangeMs = (trace.toMinute - trace.fromMinute) * MINUTE_MS;
    if (cfg.speed.kind === 'load') {
      if (!(work > 0)) throw new WorkloadError('FARE_E_TRACE_EMPTY', `minutes [${String(trace.fromMinute)}, ${String(trace.toMinute)}) of the Azure 2019 trace have no invocations, so no time scale reaches load ${String(cfg.speed.load)}: pick another range`);
      this.timeScale = work / (cfg.speed.load * cores * rangeMs);
    } else {
      this.timeScale = cfg.speed.timeScale;
    }
    this.minuteMs = MINUTE_MS * this.timeScale;
    const spanMs = rangeMs * this.timeScale;

    let maxPerMinute = 1;
    const ms = trace.minuteStart;
    for (let m = 0; m + 1 < ms.length; m++) {
      let n = 0;
      for (let e = ms[m] ?? 0; e < (ms[m + 1] ?? 0); e++) n += trace.entryCount[e] ?? 0;
      maxPerMinute = Math.max(maxPerMinute, n);
    }
    this.labels = new Int32Array(maxPerMinute);

    this.info = {
      kind: 'azure2019',
      functions: F,
      ratePerMs: total / spanMs,
      offeredLoad: work / (spanMs * cores),
      spanMs,
      classShares: shares.map((s) => (total > 0 ? s / total : 0)),
      cpuShares: cpu.map((x) => (work > 0 ? x / work : 0)),
      assignment: { by, targets: cfg.classes.shares, worst: this.assignmentWorst },
    };
  }

  /** Moves to the next minute with invocations and lays out its jobs' functions in random order. */
  private nextMinute(): void {
    const ms = this.trace.minuteStart;
    const { entryFn, entryCount } = this.trace;
    let n = 0;
    do {
      this.minute++;
      if (this.minute + 1 >= ms.length) throw new Error(`Azure 2019 replay ran past its last minute after ${String(this.produced)} of ${String(this.total)} jobs`);
      const end = ms[this.minute + 1] ?? 0;
      n = 0;
      const labels = this.labels;
      for (let e = ms[this.minute] ?? 0; e < end; e++) {
        const f = entryFn[e] ?? 0;
        for (let c = entryCount[e] ?? 0; c > 0; c--) labels[n++] = f;
      }
    } while (n === 0);
    // Fisher–Yates: with sorted uniform times below, this is each invocation at an independent uniform time.
    const labels = this.labels;
    const rng = this.rngOrder;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      const t = labels[i] ?? 0;
      labels[i] = labels[j] ?? 0;
      labels[j] = t;
    }
    this.pos = 0;
    this.left = n;
    this.logRest = 0;
  }

  fill(batch: JobBatch, max: number): number {
    const n = fillCount(batch, max, this.total - this.produced);
    batch.count = n;
    if (n === 0) return 0;
    const { id, arrival, fn, cls, runtime, memMB } = batch;
    const rng = this.rngArrival;
    const minuteMs = this.minuteMs;
    let i = 0;
    while (i < n) {
      if (this.left === 0) this.nextMinute();
      const k = Math.min(n - i, this.left);
      // Sorted uniforms within the minute, in order (Bentley & Saxe), as in the synthetic Poisson window.
      let L = this.logRest;
      let left = this.left;
      let pos = this.pos;
      const labels = this.labels;
      const base = this.minute;
      for (let j = 0; j < k; j++, i++) {
        L += Math.log(rng.open()) / left;
        left--;
        arrival[i] = (base - Math.expm1(L)) * minuteMs;
        fn[i] = labels[pos++] ?? 0;
      }
      this.logRest = L;
      this.left = left;
      this.pos = pos;
    }
    const start = this.produced;
    for (let j = 0; j < n; j++) id[j] = start + j;
    const fnClass = this.fnClass;
    for (let j = 0; j < n; j++) cls[j] = fnClass[fn[j] ?? 0] ?? 0;
    this.fillRuntimes(runtime, fn, n);
    this.fillMemory(memMB, fn, n);
    this.produced = start + n;
    return n;
  }

  private fillRuntimes(runtime: Float64Array, fn: Int32Array, n: number): void {
    const rng = this.rngRuntime;
    const rt = this.runtimes;
    for (let i = 0; i < n; i++) runtime[i] = (rt[fn[i] ?? 0] as Bounded).draw(rng.next());
  }

  /** Piecewise-linear inverse CDF through the function's memory percentiles. */
  private fillMemory(mem: Float32Array, fn: Int32Array, n: number): void {
    const rng = this.rngMemory;
    const knots = this.trace.memKnots;
    for (let i = 0; i < n; i++) {
      const base = (fn[i] ?? 0) * MEM_KNOTS;
      const u = rng.next();
      let v: number;
      if (u < MEM_PROBS[0]) v = knots[base] ?? 0;
      else {
        let k = 1;
        while (k < MEM_KNOTS - 1 && u >= (MEM_PROBS[k] ?? 1)) k++;
        const p0 = MEM_PROBS[k - 1] ?? 0;
        const p1 = MEM_PROBS[k] ?? 1;
        const v0 = knots[base + k - 1] ?? 0;
        const v1 = knots[base + k] ?? 0;
        v = v0 + ((v1 - v0) * (u - p0)) / (p1 - p0);
      }
      mem[i] = v;
    }
  }
}
