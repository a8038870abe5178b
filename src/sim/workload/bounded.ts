// Runtime distributions bounded to a function's recorded [minimum, maximum] with a given mean (issue 15:
// a trace's function whose maximum is seconds never draws hours). A lognormal of a given σ truncated to
// [lo, hi], its μ solved so the truncated mean is the function's average; an exponential-shaped density
// e^(−λx) on [lo, hi], λ solved likewise. Drawn by inverse CDF: one uniform per job. Pure numerics.

/** Standard normal CDF Φ(x): erf series near 0, erfc continued fraction in the tails (≈ 1e-15). */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const z = Math.abs(x) / Math.SQRT2;
  if (z < 2.5) {
    // erf z = 2/√π Σ (−1)^n z^(2n+1) / (n! (2n+1))
    let term = z, sum = z;
    const z2 = z * z;
    for (let n = 1; n < 200; n++) {
      term *= -z2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const erf = (2 / Math.sqrt(Math.PI)) * sum;
    return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
  }
  // erfc z = e^(−z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + …)))) by modified Lentz.
  const tiny = 1e-300;
  let f = z, c = z, d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = z + a * d;
    d = d === 0 ? tiny : d;
    c = z + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

// Acklam's rational approximation of Φ⁻¹, then one Halley step on Φ.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/** Φ⁻¹(p) for p in (0, 1); ±Infinity at 0 and 1. */
export function normalQuantile(p: number): number {
  if (!(p > 0)) return p === 0 ? -Infinity : NaN;
  if (!(p < 1)) return p === 1 ? Infinity : NaN;
  const [a0, a1, a2, a3, a4, a5] = A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = D as [number, number, number, number];
  let x: number;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  } else if (p <= 1 - 0.02425) {
    const q = p - 0.5, r = q * q;
    x = ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** A runtime distribution on [lo, hi] with a known mean, drawn from one uniform. */
export interface Bounded {
  readonly lo: number;
  readonly hi: number;
  readonly mean: number;
  draw(u: number): number;
}

/** Mean of a lognormal(μ, σ) truncated to [lo, hi]. */
function truncLognormalMean(mu: number, sigma: number, lo: number, hi: number): number {
  const a = (Math.log(lo) - mu) / sigma, b = (Math.log(hi) - mu) / sigma;
  // In the upper tail, differences of Φ lose precision: use 1 − Φ(x) = Φ(−x).
  const mass = a > 0 ? normalCdf(-a) - normalCdf(-b) : normalCdf(b) - normalCdf(a);
  const part = a - sigma > 0 ? normalCdf(sigma - a) - normalCdf(sigma - b) : normalCdf(b - sigma) - normalCdf(a - sigma);
  if (!(mass > 0)) return Math.log(lo) - mu > 0 ? lo : hi;
  return Math.exp(mu + (sigma * sigma) / 2) * (part / mass);
}

/** How far (in σ) μ may go past a bound: beyond, Φ of the bounds underflows. */
const MU_REACH = 35;

/**
 * A lognormal of shape `sigma` truncated to [lo, hi] whose mean is `mean` (lo ≤ mean ≤ hi): μ by
 * bisection (the truncated mean grows with μ). A point mass at the mean when sigma is 0 or lo = hi.
 * A mean so close to a bound that no representable μ reaches it (the density would be a steep power
 * of x) gets the exponential shape of `boundedExponential` instead.
 */
export function boundedLognormal(mean: number, sigma: number, lo: number, hi: number): Bounded {
  if (!(lo > 0) || !(hi >= lo) || !(mean >= lo && mean <= hi)) throw new RangeError(`bounded lognormal: need 0 < lo ≤ mean ≤ hi, got lo ${lo}, mean ${mean}, hi ${hi}`);
  if (!(sigma > 0) || hi - lo <= 1e-12 * hi || mean - lo <= 1e-12 * hi || hi - mean <= 1e-12 * hi) return point(mean, lo, hi);
  let a = Math.log(lo) - MU_REACH * sigma, b = Math.log(hi) + MU_REACH * sigma;
  if (!(truncLognormalMean(a, sigma, lo, hi) <= mean && truncLognormalMean(b, sigma, lo, hi) >= mean)) return boundedExponential(mean, lo, hi);
  for (let i = 0; i < 200 && b - a > 1e-13 * Math.max(1, Math.abs(a)); i++) {
    const m = (a + b) / 2;
    if (truncLognormalMean(m, sigma, lo, hi) < mean) a = m;
    else b = m;
  }
  const mu = (a + b) / 2;
  const al = (Math.log(lo) - mu) / sigma, be = (Math.log(hi) - mu) / sigma;
  const upper = al > 0;
  // Upper tail: draw in survival space, where the probabilities keep their digits.
  const p0 = upper ? normalCdf(-be) : normalCdf(al), p1 = upper ? normalCdf(-al) : normalCdf(be);
  return {
    lo, hi, mean,
    draw: (u) => {
      // Increasing in u either way (u = 0 is lo, 1 is hi).
      const p = upper ? p1 - (p1 - p0) * u : p0 + (p1 - p0) * u;
      const z = upper ? -normalQuantile(p) : normalQuantile(p);
      const x = Math.exp(mu + sigma * z);
      return x < lo ? lo : x > hi ? hi : x;
    },
  };
}

/** Mean of the density ∝ e^(−λx) on [lo, hi] (uniform at λ = 0). */
function truncExpMean(lambda: number, lo: number, hi: number): number {
  const w = hi - lo;
  const t = lambda * w;
  if (Math.abs(t) < 1e-6) return lo + w / 2 - (w * t) / 12;
  return lo + 1 / lambda - w / Math.expm1(t);
}

/** The density ∝ e^(−λx) on [lo, hi] whose mean is `mean` (λ < 0 when the mean is above the middle). */
export function boundedExponential(mean: number, lo: number, hi: number): Bounded {
  if (!(lo >= 0) || !(hi >= lo) || !(mean >= lo && mean <= hi)) throw new RangeError(`bounded exponential: need 0 ≤ lo ≤ mean ≤ hi, got lo ${lo}, mean ${mean}, hi ${hi}`);
  const w = hi - lo;
  if (w <= 1e-12 * Math.max(1, hi) || mean - lo <= 1e-12 * w || hi - mean <= 1e-12 * w) return point(mean, lo, hi);
  let a = -700 / w, b = 700 / w;
  for (let i = 0; i < 200; i++) {
    const m = (a + b) / 2;
    if (truncExpMean(m, lo, hi) > mean) a = m;
    else b = m;
  }
  const lambda = (a + b) / 2;
  const t = lambda * w;
  return {
    lo, hi, mean,
    draw: (u) => {
      const x = Math.abs(t) < 1e-9 ? lo + u * w : lo - Math.log1p(u * Math.expm1(-t)) / lambda;
      return x < lo ? lo : x > hi ? hi : x;
    },
  };
}

function point(mean: number, lo: number, hi: number): Bounded {
  return { lo, hi, mean, draw: () => mean };
}
