// The paper's workload generator (§4.1) and its variants: F functions, each with its own runtime
// distribution (a long-tailed family whose scale is drawn per function) and its own price class; jobs
// pick a function, arrive open-loop at a constant rate or as a Poisson process, and reach a random
// amount of memory. Streams in bounded memory: only the per-function tables are stored.

import type { Rng } from '../../core/rng.ts';
import type { ResolvedScale, ResolvedSynthetic } from './config.ts';
import { AliasTable, lognormalMean, paretoMean, poisson, truncatedNormal, zipfWeights } from './distributions.ts';
import { fillCount, type JobBatch, type JobSource, type WorkloadInfo } from './job-batch.ts';
import { MemorySampler } from './memory.ts';
import { WorkloadError } from './trace-csv.ts';

const Arrivals = {
  Constant: 0,
  PoissonOpen: 1,
  /** Poisson process conditioned on its count over [0, T): sorted uniforms generated in order. */
  PoissonWindow: 2,
} as const;
type Arrivals = (typeof Arrivals)[keyof typeof Arrivals];

const Family = {
  Pareto: 0,
  Exponential: 1,
  Lognormal: 2,
  Deterministic: 3,
} as const;
type Family = (typeof Family)[keyof typeof Family];

function drawScale(s: ResolvedScale, rng: Rng): number {
  return s.kind === 'fixed' ? s.value : truncatedNormal(rng, s.mean, s.sd, s.min);
}

export class SyntheticSource implements JobSource {
  readonly meanRuntimeMs: number;
  readonly total: number;
  readonly info: WorkloadInfo;
  /** Per function: the family's scale parameter (x_m, mean, median or value), ms. */
  readonly fnScale: Float64Array;
  /** Per function: the exact mean runtime, ms. */
  readonly fnMean: Float64Array;
  /** Per function: its price class. */
  readonly fnClass: Uint8Array;
  /** Per function: the chance that a job invokes it. */
  readonly fnShare: Float64Array;

  private produced = 0;
  private readonly arrivalMode: Arrivals;
  private readonly gapMs: number;
  private readonly windowMs: number;
  /** Poisson-open: time of the last arrival; Poisson-window: ln(1 − last arrival / T). */
  private clock = 0;
  private readonly family: Family;
  /** Pareto: 1/alpha; lognormal: sigma. */
  private readonly shape: number;
  private readonly popularity: AliasTable | null;
  /** With exact per-class rates: the class mix, and per class its functions and their popularity. */
  private readonly byClass: { classes: AliasTable; fns: number[][]; tables: (AliasTable | null)[] } | null;
  private readonly memory: MemorySampler;
  private readonly rngArrival: Rng;
  private readonly rngChoice: Rng;
  private readonly rngRuntime: Rng;
  private readonly rngMemory: Rng;

  constructor(cfg: Readonly<ResolvedSynthetic>, cores: number, rng: Rng, classRng: Rng = rng.fork('function-class')) {
    const F = cfg.functions;
    this.rngArrival = rng.fork('arrivals');
    this.rngChoice = rng.fork('function-choice');
    this.rngRuntime = rng.fork('runtime');
    this.rngMemory = rng.fork('memory');

    // Per-function runtime distributions.
    const rt = cfg.runtime;
    const rngScale = rng.fork('function-scale');
    this.fnScale = new Float64Array(F);
    this.fnMean = new Float64Array(F);
    let scaleSpec: ResolvedScale;
    /** The drawn scale times this is the family's parameter (lognormal: its median). */
    let toParam = 1;
    let meanOf: (param: number) => number;
    switch (rt.family) {
      case 'pareto':
        this.family = Family.Pareto;
        this.shape = 1 / rt.alpha;
        scaleSpec = rt.xm;
        meanOf = (xm) => paretoMean(xm, rt.alpha);
        break;
      case 'exponential':
        this.family = Family.Exponential;
        this.shape = 0;
        scaleSpec = rt.mean;
        meanOf = (m) => m;
        break;
      case 'lognormal':
        this.family = Family.Lognormal;
        this.shape = rt.sigma;
        scaleSpec = rt.scale;
        if (rt.scaleIs === 'mean') toParam = Math.exp((-rt.sigma * rt.sigma) / 2);
        meanOf = (median) => lognormalMean(median, rt.sigma);
        break;
      case 'deterministic':
        this.family = Family.Deterministic;
        this.shape = 0;
        scaleSpec = rt.value;
        meanOf = (v) => v;
        break;
    }
    for (let f = 0; f < F; f++) {
      const param = drawScale(scaleSpec, rngScale) * toParam;
      this.fnScale[f] = param;
      // The mean of exactly what is sampled, so the offered load is exact.
      this.fnMean[f] = meanOf(param);
    }

    // Per-function classes, drawn with the class weights (from `classRng`: the same for every load of a sweep).
    const rngClass = classRng;
    const classTable = new AliasTable(cfg.classWeights);
    this.fnClass = new Uint8Array(F);
    for (let f = 0; f < F; f++) this.fnClass[f] = classTable.pick(rngClass.next());

    // Popularity and the exact mixture mean.
    this.fnShare = new Float64Array(F);
    if (cfg.popularity.kind === 'zipf') {
      const w = zipfWeights(F, cfg.popularity.exponent);
      let total = 0;
      for (let f = 0; f < F; f++) total += w[f] ?? 0;
      for (let f = 0; f < F; f++) this.fnShare[f] = (w[f] ?? 0) / total;
      this.popularity = new AliasTable(w);
    } else {
      this.fnShare.fill(1 / F);
      this.popularity = null;
    }
    let weighted = 0;
    let plain = 0;
    const K = cfg.classWeights.length;
    let shares = new Array<number>(K).fill(0);
    // Per class: popularity mass and popularity-weighted runtime (for exact per-class rates).
    const classMass = new Array<number>(K).fill(0);
    const classWork = new Array<number>(K).fill(0);
    for (let f = 0; f < F; f++) {
      const p = this.fnShare[f] ?? 0;
      weighted += p * (this.fnMean[f] ?? 0);
      plain += this.fnMean[f] ?? 0;
      const c = this.fnClass[f] ?? 0;
      shares[c] = (shares[c] ?? 0) + p;
      classMass[c] = (classMass[c] ?? 0) + p;
      classWork[c] = (classWork[c] ?? 0) + p * (this.fnMean[f] ?? 0);
    }
    // Uniform popularity: a plain average, which is exact for equal means.
    let mean = this.popularity === null ? plain / F : weighted;
    this.byClass = null;
    if (cfg.classRates !== undefined) {
      // Exact per-class rates: a job's class is drawn by the rates, then one of that class's
      // functions by popularity — each class a Poisson (or evenly spaced) stream of its own rate.
      const rates = cfg.classRates;
      const total = rates.reduce((a, b) => a + b, 0);
      rates.forEach((r, c) => {
        if (r > 0 && !((classMass[c] ?? 0) > 0)) {
          throw new WorkloadError('FARE_E_WORKLOAD_CONFIG', `workload.classRates gives class ${String(c)} a rate, but none of the ${String(F)} functions has that class: raise functions or that class's classWeights`);
        }
      });
      shares = rates.map((r) => r / total);
      mean = shares.reduce((a, p, c) => a + (p > 0 ? (p * (classWork[c] ?? 0)) / (classMass[c] ?? 1) : 0), 0);
      const members: number[][] = Array.from({ length: K }, () => []);
      for (let f = 0; f < F; f++) members[this.fnClass[f] ?? 0]?.push(f);
      this.byClass = {
        classes: new AliasTable(shares),
        fns: members,
        tables: members.map((list) => (list.length > 0 ? new AliasTable(list.map((f) => this.fnShare[f] ?? 0)) : null)),
      };
    }
    this.meanRuntimeMs = mean;

    // Arrivals.
    const ratePerMs = cfg.rate.kind === 'load' ? (cfg.rate.load * cores) / mean : cfg.rate.perMs;
    this.gapMs = 1 / ratePerMs;
    let spanMs: number;
    if (cfg.length.kind === 'jobs') {
      this.total = cfg.length.jobs;
      this.windowMs = Infinity;
      this.arrivalMode = cfg.arrivals === 'constant' ? Arrivals.Constant : Arrivals.PoissonOpen;
      spanMs = this.total * this.gapMs;
    } else {
      const T = cfg.length.durationMs;
      this.windowMs = T;
      spanMs = T;
      if (cfg.arrivals === 'constant') {
        this.arrivalMode = Arrivals.Constant;
        this.total = Math.max(1, Math.ceil(T * ratePerMs));
      } else {
        this.arrivalMode = Arrivals.PoissonWindow;
        this.total = poisson(rng.fork('arrival-count'), T * ratePerMs);
      }
    }

    this.memory = new MemorySampler(cfg.memory);

    this.info = {
      kind: 'synthetic',
      functions: F,
      ratePerMs,
      offeredLoad: (ratePerMs * mean) / cores,
      spanMs,
      classShares: shares,
    };
  }

  fill(batch: JobBatch, max: number): number {
    const n = fillCount(batch, max, this.total - this.produced);
    batch.count = n;
    if (n === 0) return 0;
    const start = this.produced;
    const { id, fn, cls, runtime } = batch;
    for (let i = 0; i < n; i++) id[i] = start + i;
    this.fillArrivals(batch.arrival, start, n);
    this.fillFunctions(fn, n);
    const fnClass = this.fnClass;
    for (let i = 0; i < n; i++) cls[i] = fnClass[fn[i] ?? 0] ?? 0;
    this.fillRuntimes(runtime, fn, n);
    this.memory.fill(batch.memMB, n, this.rngMemory);
    this.produced = start + n;
    return n;
  }

  private fillArrivals(arrival: Float64Array, start: number, n: number): void {
    const gap = this.gapMs;
    const rng = this.rngArrival;
    switch (this.arrivalMode) {
      case Arrivals.Constant:
        // Multiplication, not accumulation: no drift over 50 million jobs.
        for (let i = 0; i < n; i++) arrival[i] = (start + i) * gap;
        break;
      case Arrivals.PoissonOpen: {
        let t = this.clock;
        for (let i = 0; i < n; i++) {
          t -= gap * Math.log(rng.open());
          arrival[i] = t;
        }
        this.clock = t;
        break;
      }
      case Arrivals.PoissonWindow: {
        // Bentley & Saxe: the next of k sorted uniforms on [x, 1) is 1 − (1 − x)·V^(1/k). Tracking
        // L = ln(1 − x) keeps full precision for 10⁸ steps.
        const T = this.windowMs;
        let L = this.clock;
        let left = this.total - start;
        for (let i = 0; i < n; i++) {
          L += Math.log(rng.open()) / left;
          left--;
          arrival[i] = -T * Math.expm1(L);
        }
        this.clock = L;
        break;
      }
    }
  }

  private fillFunctions(fn: Int32Array, n: number): void {
    const rng = this.rngChoice;
    const by = this.byClass;
    if (by !== null) {
      for (let i = 0; i < n; i++) {
        const c = by.classes.pick(rng.next());
        const list = by.fns[c] as number[];
        fn[i] = list[(by.tables[c] as AliasTable).pick(rng.next())] ?? 0;
      }
      return;
    }
    const table = this.popularity;
    if (table === null) {
      const F = this.fnShare.length;
      for (let i = 0; i < n; i++) fn[i] = Math.floor(rng.next() * F);
    } else {
      for (let i = 0; i < n; i++) fn[i] = table.pick(rng.next());
    }
  }

  private fillRuntimes(runtime: Float64Array, fn: Int32Array, n: number): void {
    const rng = this.rngRuntime;
    const scale = this.fnScale;
    const shape = this.shape;
    switch (this.family) {
      case Family.Pareto:
        // Inverse CDF: x_m · U^(−1/α), U in (0, 1]; exp(log) is half the cost of V8's Math.pow.
        for (let i = 0; i < n; i++) runtime[i] = (scale[fn[i] ?? 0] ?? 0) * Math.exp(-shape * Math.log(rng.open()));
        break;
      case Family.Exponential:
        for (let i = 0; i < n; i++) {
          const x = -(scale[fn[i] ?? 0] ?? 0) * Math.log(rng.open());
          // U = 1 gives 0, a job that needs no CPU at all: make it the smallest positive runtime.
          runtime[i] = x > 0 ? x : Number.MIN_VALUE;
        }
        break;
      case Family.Lognormal:
        for (let i = 0; i < n; i++) runtime[i] = (scale[fn[i] ?? 0] ?? 0) * Math.exp(shape * rng.normal());
        break;
      case Family.Deterministic:
        for (let i = 0; i < n; i++) runtime[i] = scale[fn[i] ?? 0] ?? 0;
        break;
    }
  }
}
