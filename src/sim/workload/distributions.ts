// The probability toolbox the workload generators draw from: closed-form means, samplers that a plain
// uniform stream cannot give directly (Poisson counts, sorted uniforms, Walker alias tables), and the
// published fits of the Azure traces. Pure functions over an injected Rng; no I/O.

import type { Rng } from '../../core/rng.ts';

/** Mean of a Pareto(x_m, alpha) distribution; infinite when alpha ≤ 1. */
export function paretoMean(xm: number, alpha: number): number {
  return alpha > 1 ? (alpha * xm) / (alpha - 1) : Infinity;
}

/** Lognormal sigma that gives the coefficient of variation cv (sd / mean). */
export function lognormalSigmaForCv(cv: number): number {
  return Math.sqrt(Math.log1p(cv * cv));
}

/** Mean of a lognormal with the given median (e^mu) and sigma. */
export function lognormalMean(median: number, sigma: number): number {
  return median * Math.exp((sigma * sigma) / 2);
}

/** Azure Functions 2019 execution time, fitted over the whole trace (Shahrad et al.): lognormal, in seconds. */
export const AZURE2019_RUNTIME_FIT = { mu: -0.38, sigma: 2.36 } as const;

/** Azure Functions 2019 allocated memory, fitted over the whole trace: Burr XII, lambda in MB. */
export const AZURE2019_MEMORY_FIT = { c: 11.652, k: 0.221, lambdaMB: 107.083 } as const;

/** Inverse CDF of Burr XII(c, k, lambda) at u in [0, 1). */
export function burrQuantile(u: number, c: number, k: number, lambda: number): number {
  // F(x) = 1 − (1 + (x/λ)^c)^−k  ⇒  x = λ · ((1−u)^(−1/k) − 1)^(1/c)
  // exp(log(·)/c) rather than Math.pow: the same value at half the cost in V8.
  return lambda * Math.exp(Math.log(Math.expm1(-Math.log1p(-u) / k)) / c);
}

/** Normal(mean, sd) redrawn until ≥ min; throws (a configuration the validator should have refused) after 10⁴ tries. */
export function truncatedNormal(rng: Rng, mean: number, sd: number, min: number): number {
  for (let tries = 0; tries < 10_000; tries++) {
    const x = rng.normal(mean, sd);
    if (x >= min) return x;
  }
  throw new RangeError(`Normal(${String(mean)}, ${String(sd)}) almost never reaches ${String(min)}: raise the mean or lower the minimum`);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0] ?? 0;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (LANCZOS[i] ?? 0) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * A Poisson(mean) count. Knuth's multiplication for small means, Hörmann's PTRS transformed rejection
 * ("The transformed rejection method for generating Poisson random variables", 1993) for mean ≥ 10,
 * exact at every mean, O(1) expected draws.
 */
export function poisson(rng: Rng, mean: number): number {
  if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`Poisson mean ${String(mean)} is not a finite number ≥ 0`);
  if (mean < 10) {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = rng.open();
    while (p > limit) {
      k++;
      p *= rng.open();
    }
    return k;
  }
  const slam = Math.sqrt(mean);
  const loglam = Math.log(mean);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -mean + k * loglam - lnGamma(k + 1)) return k;
  }
}

/**
 * Walker's alias table (Vose's construction) over non-negative weights: one uniform per draw, O(1).
 * `pick(u)` maps a uniform in [0, 1) to an index distributed as the weights.
 */
export class AliasTable {
  readonly size: number;
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i] ?? 0;
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`alias table weight ${String(i)} is ${String(w)}: weights must be finite and ≥ 0`);
      total += w;
    }
    if (n === 0 || !(total > 0)) throw new RangeError('alias table needs at least one positive weight');
    this.size = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      const s = ((weights[i] ?? 0) * n) / total;
      scaled[i] = s;
      if (s < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns] ?? 0;
      const l = large[--nl] ?? 0;
      this.prob[s] = scaled[s] ?? 0;
      this.alias[s] = l;
      const rest = (scaled[l] ?? 0) + (scaled[s] ?? 0) - 1;
      scaled[l] = rest;
      if (rest < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    // Whatever is left is 1 up to rounding.
    while (nl > 0) {
      const l = large[--nl] ?? 0;
      this.prob[l] = 1;
      this.alias[l] = l;
    }
    while (ns > 0) {
      const s = small[--ns] ?? 0;
      this.prob[s] = 1;
      this.alias[s] = s;
    }
  }

  /** Index for the uniform u in [0, 1): the integer part picks a column, the fraction decides alias or not. */
  pick(u: number): number {
    const x = u * this.size;
    const i = Math.floor(x);
    return x - i < (this.prob[i] ?? 1) ? i : (this.alias[i] ?? i);
  }
}

/** Weights proportional to 1 / rank^exponent for ranks 1..n (Zipf's law over function popularity). */
export function zipfWeights(n: number, exponent: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = Math.pow(i + 1, -exponent);
  return w;
}

/**
 * The "vaguely bimodal" class weighting of the paper, generalised to any number of classes: weight
 * ∝ 5 + 9x², where x runs evenly from −1 (highest class) to 1 (lowest). For four classes this is exactly
 * 0.35, 0.15, 0.15, 0.35; for two, 0.5 each; for one, 1.
 */
export function bimodalClassWeights(n: number): number[] {
  if (n <= 1) return [1];
  const raw: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = (2 * i) / (n - 1) - 1;
    raw.push(5 + 9 * x * x);
  }
  const total = raw.reduce((s, w) => s + w, 0);
  return raw.map((w) => w / total);
}

/** Largest sigma the fit may choose: e^(σ²/2) = 2981 at σ = 4 already puts the mean far above the median. */
export const MAX_FITTED_SIGMA = 4;

/**
 * Sigma of the lognormal whose mean is exactly `mean` and whose quantiles best match `points`
 * (least squares on ln values: ln q = ln mean − σ²/2 + σz). Points ≤ 0 are ignored; none left → 0.
 */
export function fitLognormalSigma(mean: number, points: readonly { z: number; value: number }[]): number {
  const r: number[] = [];
  const z: number[] = [];
  for (const p of points) {
    if (p.value > 0) {
      r.push(Math.log(p.value / mean));
      z.push(p.z);
    }
  }
  if (r.length === 0) return 0;
  const err = (s: number): number => {
    let e = 0;
    for (let i = 0; i < r.length; i++) {
      const d = (r[i] ?? 0) + (s * s) / 2 - s * (z[i] ?? 0);
      e += d * d;
    }
    return e;
  };
  // Coarse grid (the error is a quartic in σ and can have two minima), then golden-section refinement.
  let best = 0;
  let bestErr = err(0);
  const step = 0.02;
  for (let s = step; s <= MAX_FITTED_SIGMA + 1e-9; s += step) {
    const e = err(s);
    if (e < bestErr) {
      bestErr = e;
      best = s;
    }
  }
  let lo = Math.max(0, best - step);
  let hi = Math.min(MAX_FITTED_SIGMA, best + step);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 40; it++) {
    const a = hi - g * (hi - lo);
    const b = lo + g * (hi - lo);
    if (err(a) < err(b)) hi = b;
    else lo = a;
  }
  const s = (lo + hi) / 2;
  return err(s) < bestErr ? s : best;
}
