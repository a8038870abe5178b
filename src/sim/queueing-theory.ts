// Closed forms of classical queueing theory that the simulator is checked against (queueing.test.ts):
// mean response times (sojourn = wait + service) of M/M/1, M/M/c (Erlang C), M/G/1 FCFS
// (Pollaczek–Khinchine), M/G/1 processor sharing, M/G/1 preemptive-resume and non-preemptive
// priority classes, and the large-system load balancers the baselines are (JIQ-Random, least loaded
// of 2, power of d), each with its source at the function.
// Time unit: whatever the service moments are given in (ms in the tests). Pure functions, no imports.
// References: Kleinrock, Queueing Systems vol. 1 (1975) §3.2, §3.5, §5.6 and vol. 2 (1976) §3.6, §4.4;
// Harchol-Balter, Performance Modeling and Design of Computer Systems (2013) ch. 14, 22, 31, 32.

/** Moments of a service-time distribution: E[S] and E[S²]. */
export interface ServiceMoments {
  readonly mean: number;
  readonly secondMoment: number;
}

export const exponentialMoments = (mean: number): ServiceMoments => ({ mean, secondMoment: 2 * mean * mean });
export const deterministicMoments = (value: number): ServiceMoments => ({ mean: value, secondMoment: value * value });
/** Any distribution given its mean and coefficient of variation (sd / mean): E[S²] = (1 + cv²)·mean². */
export const momentsFromCv = (mean: number, cv: number): ServiceMoments => ({ mean, secondMoment: (1 + cv * cv) * mean * mean });

function checkStable(rho: number, what: string): void {
  if (!(rho >= 0 && rho < 1)) throw new RangeError(`${what}: utilization ${String(rho)} is not in [0, 1); the queue has no steady state`);
}

/** M/M/1 FCFS (and, by insensitivity, M/G/1 PS): E[T] = E[S] / (1 − ρ). */
export function mm1Response(meanService: number, rho: number): number {
  checkStable(rho, 'mm1Response');
  return meanService / (1 - rho);
}

/**
 * M/G/1 processor sharing, any service distribution (insensitivity): E[T] = E[S] / (1 − ρ), and even
 * E[T | S = x] = x / (1 − ρ), so the mean slowdown E[T / S] is 1 / (1 − ρ).
 */
export function mg1PsResponse(meanService: number, rho: number): number {
  checkStable(rho, 'mg1PsResponse');
  return meanService / (1 - rho);
}

/**
 * Erlang C: the chance that an arrival to an M/M/c queue with offered load a = λ·E[S] (in servers, a < c)
 * has to wait. Computed through the Erlang B recursion B(k) = a·B(k−1) / (k + a·B(k−1)), which never
 * overflows, then C = c·B / (c − a·(1 − B)).
 */
export function erlangC(c: number, a: number): number {
  if (!Number.isInteger(c) || c < 1) throw new RangeError(`erlangC: c must be a whole number ≥ 1, got ${String(c)}`);
  checkStable(a / c, 'erlangC');
  let b = 1;
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b);
  return (c * b) / (c - a * (1 - b));
}

/** M/M/c FCFS: E[T] = E[S] + C(c, a)·E[S] / (c − a), a = λ·E[S]. */
export function mmcResponse(c: number, meanService: number, lambda: number): number {
  const a = lambda * meanService;
  return meanService + (erlangC(c, a) * meanService) / (c - a);
}

/** M/G/1 FCFS (Pollaczek–Khinchine): E[T] = E[S] + λ·E[S²] / (2(1 − ρ)). */
export function mg1FcfsResponse(lambda: number, s: ServiceMoments): number {
  const rho = lambda * s.mean;
  checkStable(rho, 'mg1FcfsResponse');
  return s.mean + (lambda * s.secondMoment) / (2 * (1 - rho));
}

/** One class of an M/G/1 priority queue: its Poisson arrival rate and service moments. */
export interface PriorityClass {
  readonly lambda: number;
  readonly service: ServiceMoments;
}

/**
 * M/G/1 preemptive-resume priority, classes highest first, FCFS within a class. For class k (1-based),
 * with σ_k = Σ_{i≤k} ρ_i:
 *   T_k = E[S_k] / (1 − σ_{k−1}) + (Σ_{i≤k} λ_i·E[S_i²] / 2) / ((1 − σ_{k−1})(1 − σ_k)).
 * Class k sees only classes 1..k: lower classes are invisible to it. Returns T_k per class; a class
 * whose σ_k ≥ 1 gets Infinity (it has no steady state), the classes above it still have one.
 */
export function preemptivePriorityResponse(classes: readonly PriorityClass[]): number[] {
  const out: number[] = [];
  let sigmaBefore = 0;
  let residual = 0;
  for (const c of classes) {
    const sigma = sigmaBefore + c.lambda * c.service.mean;
    residual += (c.lambda * c.service.secondMoment) / 2;
    out.push(sigma >= 1 ? Infinity : c.service.mean / (1 - sigmaBefore) + residual / ((1 - sigmaBefore) * (1 - sigma)));
    sigmaBefore = sigma;
  }
  return out;
}

/**
 * M/G/1 non-preemptive priority (Cobham), classes highest first, FCFS within a class. With
 * W0 = Σ_i λ_i·E[S_i²] / 2 over every class (a job in service is finished whatever its class) and
 * σ_k = Σ_{i≤k} ρ_i: T_k = W0 / ((1 − σ_{k−1})(1 − σ_k)) + E[S_k]. Returns T_k per class (Infinity
 * where σ_k ≥ 1).
 */
export function nonPreemptivePriorityResponse(classes: readonly PriorityClass[]): number[] {
  const w0 = classes.reduce((s, c) => s + (c.lambda * c.service.secondMoment) / 2, 0);
  const out: number[] = [];
  let sigmaBefore = 0;
  for (const c of classes) {
    const sigma = sigmaBefore + c.lambda * c.service.mean;
    out.push(sigma >= 1 ? Infinity : w0 / ((1 - sigmaBefore) * (1 - sigma)) + c.service.mean);
    sigmaBefore = sigma;
  }
  return out;
}

/**
 * Join-Idle-Queue, JIQ-Random (Lu et al., Performance Evaluation 2011, the large-system analysis),
 * with r = servers / dispatchers and server load ρ = λ·E[S] (λ per server): an idle server sits in one
 * dispatcher's I-queue, whose length is taken to be geometric with mean r(1 − ρ) (the idle servers
 * per dispatcher), so a dispatcher's I-queue is non-empty with probability
 *   ρ_I = r(1 − ρ) / (1 + r(1 − ρ)),
 * and that is the share of jobs that go to an idle server; the rest go to a random server, which
 * then sees Poisson arrivals at λ(1 − ρ_I). A server's busy periods are those of an M/G/1 queue at that
 * rate, so a job's mean wait is M/G/1's at the reduced load ρ' = ρ(1 − ρ_I) = ρ / (1 + r(1 − ρ)):
 *   E[T] = E[S] + λ'·E[S²] / (2(1 − ρ')),  λ' = ρ' / E[S].
 * An approximation even as servers → ∞ (Mitzenmacher 2016, "Analyzing distributed Join-Idle-Queue:
 * a fluid limit approach", shows its assumptions drift from the system as load grows).
 */
export function jiqRandomResponse(r: number, rho: number, s: ServiceMoments): number {
  checkStable(rho, 'jiqRandomResponse');
  const reduced = rho * (1 - jiqOccupiedIQueues(r, rho));
  return mg1FcfsResponse(reduced / s.mean, s);
}

/** JIQ-Random's share of dispatchers with a non-empty I-queue (= of jobs sent to an idle server): r(1 − ρ) / (1 + r(1 − ρ)). */
export function jiqOccupiedIQueues(r: number, rho: number): number {
  checkStable(rho, 'jiqOccupiedIQueues');
  return (r * (1 - rho)) / (1 + r * (1 - rho));
}

/**
 * Least loaded of 2 (join the queue with the least work of two sampled, FCFS, exponential service),
 * in the mean-field limit (many servers): E[T] = E[S]·(−ln(1 − ρ²) / ρ²). Sparrow's late binding with
 * d = 2 reservations on one-core FCFS machines is this policy: a job starts at whichever of its two
 * machines reaches it first, which under FCFS is the one with less work ahead of it (redundancy with
 * cancel-on-start; see e.g. Ayesta, Bodas and Verloop 2018). Derivation: with ρ per server, the workload's
 * tail F(w) = P(W > w) solves F' = ρ·F² − F, F(0) = ρ (Hellemans and Van Houdt 2018, "On the
 * power-of-d-choices with least loaded server selection", for d = 2, mean 1), so
 * F(w) = 1 / (ρ + (1/ρ − ρ)·e^w), and the mean wait is ∫ F(w)² dw = −ln(1 − ρ²)/ρ² − 1 (times E[S]).
 */
export function leastLoadedOf2Response(meanService: number, rho: number): number {
  checkStable(rho, 'leastLoadedOf2Response');
  if (rho === 0) return meanService;
  return meanService * (-Math.log1p(-rho * rho) / (rho * rho));
}

/**
 * Power of d choices by queue length (JSQ(d), the supermarket model; Mitzenmacher 1996, Vvedenskaya,
 * Dobrushin and Karpelevich 1996), exponential service, mean-field limit:
 * E[T] = E[S]·Σ_{i≥1} ρ^((dⁱ − d)/(d − 1)).
 */
export function powerOfDResponse(d: number, meanService: number, rho: number): number {
  checkStable(rho, 'powerOfDResponse');
  if (!Number.isInteger(d) || d < 2) throw new RangeError(`powerOfDResponse: d must be a whole number ≥ 2, got ${String(d)}`);
  let sum = 0;
  for (let i = 1; i < 64; i++) {
    const term = rho ** ((d ** i - d) / (d - 1));
    sum += term;
    if (term < 1e-15) break;
  }
  return meanService * sum;
}
