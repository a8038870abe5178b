// Validation of workload configs: checks a parsed JSON object (or a typed WorkloadConfig) against the
// price table it will run with, fills in defaults, and returns the resolved form or an error that names
// the field, what was wrong and what to do. Validation happens once, here.

import type { PriceTable, Result } from '../../core/classes.ts';
import { DEFAULT_FUNCTIONS, DEFAULT_MEMORY, DEFAULT_PARETO_ALPHA, DEFAULT_SCALE, type ResolvedAzure2019, type ResolvedAzure2021, type ResolvedRecorded, type ResolvedMemory, type ResolvedRuntime, type ResolvedScale, type ResolvedSpeed, type ResolvedSynthetic, type ResolvedTraceClasses, type ResolvedWorkload } from './config.ts';
import { bimodalClassWeights } from './distributions.ts';

// ---- validation --------------------------------------------------------------------------------

/** Thrown inside validation only; turned into `{ ok: false }` at the boundary. */
class Issue extends Error {}

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function show(x: unknown): string {
  return typeof x === 'string' ? JSON.stringify(x) : x === undefined ? 'missing' : JSON.stringify(x) ?? typeof x;
}

function obj(x: unknown, path: string, keys: readonly string[]): Obj {
  if (!isObj(x)) throw new Issue(`${path} is ${show(x)}: give an object`);
  for (const k of Object.keys(x)) {
    if (!keys.includes(k)) throw new Issue(`${path} has an unknown key ${JSON.stringify(k)}: known keys are ${keys.join(', ')}`);
  }
  return x;
}

interface NumRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  max?: number;
  integer?: boolean;
  hint: string;
}

function num(x: unknown, path: string, rule: NumRule): number {
  const bad = (): never => {
    throw new Issue(`${path} is ${show(x)}: ${rule.hint}`);
  };
  if (typeof x !== 'number' || !Number.isFinite(x)) return bad();
  if (rule.integer === true && !Number.isInteger(x)) return bad();
  if (rule.min !== undefined && x < rule.min) return bad();
  if (rule.above !== undefined && !(x > rule.above)) return bad();
  if (rule.max !== undefined && x > rule.max) return bad();
  return x;
}

function optNum(o: Obj, key: string, path: string, rule: NumRule, dflt: number): number {
  const v = o[key];
  return v === undefined ? dflt : num(v, `${path}.${key}`, rule);
}

function oneOf<T extends string>(x: unknown, path: string, options: readonly T[], dflt?: T): T {
  if (x === undefined && dflt !== undefined) return dflt;
  if (typeof x === 'string' && (options as readonly string[]).includes(x)) return x as T;
  throw new Issue(`${path} is ${show(x)}: choose one of ${options.map((o) => JSON.stringify(o)).join(', ')}`);
}

function str(x: unknown, path: string, what: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new Issue(`${path} is ${show(x)}: give ${what}`);
  return x;
}

function exclusive(o: Obj, a: string, b: string, path: string, required: boolean): 'a' | 'b' | 'none' {
  const hasA = o[a] !== undefined;
  const hasB = o[b] !== undefined;
  if (hasA && hasB) throw new Issue(`${path} gives both ${a} and ${b}: give only one`);
  if (!hasA && !hasB) {
    if (required) throw new Issue(`${path} gives neither ${a} nor ${b}: give one of them`);
    return 'none';
  }
  return hasA ? 'a' : 'b';
}

const MS_HINT = 'give a number of milliseconds > 0';

function scale(x: unknown, path: string, dflt: ResolvedScale): ResolvedScale {
  if (x === undefined) return dflt;
  if (typeof x === 'number') return { kind: 'fixed', value: num(x, path, { above: 0, hint: MS_HINT }) };
  const o = obj(x, path, ['mean', 'sd', 'min']);
  const mean = num(o.mean, `${path}.mean`, { above: 0, hint: MS_HINT });
  const sd = num(o.sd, `${path}.sd`, { min: 0, hint: 'give a standard deviation in ms ≥ 0' });
  const min = optNum(o, 'min', path, { above: 0, hint: 'give the smallest allowed draw in ms, > 0 (draws below it are redrawn)' }, 1);
  // Redrawing must terminate quickly: the mean must not sit far below the minimum.
  if (mean + 2 * sd < min) {
    throw new Issue(`${path} draws Normal(${String(mean)}, ${String(sd)}) but redraws everything below ${String(min)}: almost no draw would be kept; raise mean or sd, or lower min`);
  }
  return { kind: 'normal', mean, sd, min };
}

function runtime(x: unknown, path: string): ResolvedRuntime {
  if (x === undefined) return { family: 'pareto', alpha: DEFAULT_PARETO_ALPHA, xm: DEFAULT_SCALE };
  if (!isObj(x)) throw new Issue(`${path} is ${show(x)}: give an object such as {"family": "pareto", "alpha": 2.1}`);
  const family = oneOf(x.family, `${path}.family`, ['pareto', 'exponential', 'lognormal', 'deterministic', 'azure2019'] as const);
  switch (family) {
    case 'pareto': {
      const o = obj(x, path, ['family', 'alpha', 'xm']);
      const alpha = optNum(o, 'alpha', path, { above: 1, hint: 'give the tail index alpha > 1 (the mean is infinite at alpha ≤ 1; the paper uses 2.1)' }, DEFAULT_PARETO_ALPHA);
      return { family, alpha, xm: scale(o.xm, `${path}.xm`, DEFAULT_SCALE) };
    }
    case 'exponential': {
      const o = obj(x, path, ['family', 'mean']);
      return { family, mean: scale(o.mean, `${path}.mean`, DEFAULT_SCALE) };
    }
    case 'lognormal': {
      const o = obj(x, path, ['family', 'mean', 'sigma', 'cv', 'mu']);
      const shape = exclusive(o, 'sigma', 'cv', path, false);
      const sigma =
        shape === 'a' ? num(o.sigma, `${path}.sigma`, { min: 0, max: 10, hint: 'give sigma (sd of ln runtime) in [0, 10]' })
        : shape === 'b' ? Math.sqrt(Math.log1p(num(o.cv, `${path}.cv`, { min: 0, max: 1e6, hint: 'give the coefficient of variation (sd / mean) ≥ 0' }) ** 2))
        : 1;
      if (o.mu !== undefined) {
        if (o.mean !== undefined) throw new Issue(`${path} gives both mu and mean: give mu (ln of the median, ms) with sigma, or mean with sigma or cv`);
        if (shape !== 'a') throw new Issue(`${path} gives mu without sigma: give both (mu is ln of the median runtime in ms)`);
        const mu = num(o.mu, `${path}.mu`, { min: -20, max: 40, hint: 'give mu = ln(median runtime in ms), in [-20, 40]' });
        return { family, sigma, scale: { kind: 'fixed', value: Math.exp(mu) }, scaleIs: 'median' };
      }
      return { family, sigma, scale: scale(o.mean, `${path}.mean`, DEFAULT_SCALE), scaleIs: 'mean' };
    }
    case 'deterministic': {
      const o = obj(x, path, ['family', 'value']);
      return { family, value: scale(o.value, `${path}.value`, DEFAULT_SCALE) };
    }
    case 'azure2019':
      obj(x, path, ['family']);
      // μ = −0.38 in ln-seconds is μ + ln 1000 in ln-milliseconds.
      return { family: 'lognormal', sigma: 2.36, scale: { kind: 'fixed', value: Math.exp(-0.38) * 1000 }, scaleIs: 'median' };
  }
}

const MB_HINT = 'give a number of MB > 0';

function memory(x: unknown, path: string, dflt: ResolvedMemory): ResolvedMemory {
  if (x === undefined) return dflt;
  if (!isObj(x)) throw new Issue(`${path} is ${show(x)}: give an object such as {"kind": "uniform", "minMB": 100, "maxMB": 10240}`);
  const kind = oneOf(x.kind, `${path}.kind`, ['uniform', 'fixed', 'burr'] as const);
  const range = (o: Obj, min: number, max: number): { minMB: number; maxMB: number } => {
    const minMB = optNum(o, 'minMB', path, { above: 0, hint: MB_HINT }, min);
    const maxMB = optNum(o, 'maxMB', path, { above: 0, hint: MB_HINT }, max);
    if (maxMB < minMB) throw new Issue(`${path} has maxMB ${String(maxMB)} below minMB ${String(minMB)}: swap them or widen the range`);
    return { minMB, maxMB };
  };
  switch (kind) {
    case 'uniform': {
      const o = obj(x, path, ['kind', 'minMB', 'maxMB']);
      return { kind, ...range(o, 100, 10240) };
    }
    case 'fixed': {
      const o = obj(x, path, ['kind', 'mb']);
      return { kind, mb: num(o.mb, `${path}.mb`, { above: 0, hint: MB_HINT }) };
    }
    case 'burr': {
      const o = obj(x, path, ['kind', 'c', 'k', 'lambdaMB', 'minMB', 'maxMB']);
      const c = optNum(o, 'c', path, { above: 0, hint: 'give the Burr XII shape c > 0' }, 11.652);
      const k = optNum(o, 'k', path, { above: 0, hint: 'give the Burr XII shape k > 0' }, 0.221);
      const lambdaMB = optNum(o, 'lambdaMB', path, { above: 0, hint: 'give the Burr XII scale in MB > 0' }, 107.083);
      return { kind, c, k, lambdaMB, ...range(o, 100, 10240) };
    }
  }
}

function classWeights(x: unknown, path: string, classes: PriceTable, dflt: () => number[]): number[] {
  const n = classes.classes.length;
  if (n > 256) throw new Issue(`the price table has ${String(n)} classes: job classes are stored in a byte, so use at most 256`);
  if (x === undefined) return dflt();
  if (!Array.isArray(x)) throw new Issue(`${path} is ${show(x)}: give an array of ${String(n)} weights, highest class first`);
  if (x.length !== n) {
    throw new Issue(`${path} has ${String(x.length)} weights but the price table has ${String(n)} classes (${classes.classes.map((c) => c.name).join(', ')}): give one weight per class, highest first`);
  }
  const w = x.map((v: unknown, i) => num(v, `${path}[${String(i)}]`, { min: 0, hint: 'give a weight ≥ 0' }));
  const total = w.reduce((s, v) => s + v, 0);
  if (!(total > 0)) throw new Issue(`${path} are all zero: give at least one class a positive weight`);
  return w.map((v) => v / total);
}

function traceClasses(x: unknown, path: string, classes: PriceTable, weights: number[], units: readonly ('function' | 'app' | 'owner')[]): ResolvedTraceClasses {
  if (x === undefined) return { by: 'function', shares: weights, fixed: {} };
  const o = obj(x, path, ['by', 'shares', 'fixed']);
  const by = oneOf(o.by, `${path}.by`, units, 'function');
  const shares = o.shares === undefined ? weights : classWeights(o.shares, `${path}.shares`, classes, () => weights);
  const fixed: Record<string, number> = {};
  if (o.fixed !== undefined) {
    const f = isObj(o.fixed) ? o.fixed : undefined;
    if (f === undefined) throw new Issue(`${path}.fixed is ${show(o.fixed)}: give an object mapping a ${by}'s name to a class name, e.g. {"<hash>": "${classes.classes[0]?.name ?? 'high'}"}`);
    const names = classes.classes.map((c) => c.name);
    for (const [key, v] of Object.entries(f)) {
      const c = typeof v === 'string' ? names.indexOf(v) : -1;
      if (c < 0) throw new Issue(`${path}.fixed[${JSON.stringify(key)}] is ${show(v)}: give one of the price table's classes (${names.join(', ')})`);
      fixed[key] = c;
    }
  }
  return { by, shares, fixed };
}

function speed(o: Obj, path: string): ResolvedSpeed {
  switch (exclusive(o, 'timeScale', 'load', path, false)) {
    case 'a':
      return { kind: 'timeScale', timeScale: num(o.timeScale, `${path}.timeScale`, { above: 0, hint: 'give a factor > 0 that arrival times are multiplied by (0.5 replays twice as fast)' }) };
    case 'b':
      return { kind: 'load', load: num(o.load, `${path}.load`, { above: 0, hint: LOAD_HINT }) };
    case 'none':
      return { kind: 'timeScale', timeScale: 1 };
  }
}

const LOAD_HINT = 'give the offered utilization as a number > 0 (0.8 keeps the cores 80% busy)';
const MINUTE_HINT = 'give a whole minute ≥ 0';

function synthetic(x: Obj, classes: PriceTable, dflt: () => number[]): ResolvedSynthetic {
  const path = 'workload';
  const o = obj(x, path, ['kind', 'jobs', 'durationMs', 'load', 'ratePerSecond', 'arrivals', 'functions', 'popularity', 'runtime', 'memory', 'classWeights', 'classRates']);
  let classRates: number[] | undefined;
  if (o.classRates !== undefined) {
    const n = classes.classes.length;
    if (!Array.isArray(o.classRates) || o.classRates.length !== n) {
      throw new Issue(`${path}.classRates is ${show(o.classRates)}: give one arrival rate (jobs per second) per class, highest first (${classes.classes.map((c) => c.name).join(', ')})`);
    }
    const list: unknown[] = o.classRates;
    classRates = list.map((v, i) => num(v, `${path}.classRates[${String(i)}]`, { min: 0, hint: 'give jobs per second ≥ 0' }) / 1000);
    if (!(classRates.reduce((a, b) => a + b, 0) > 0)) throw new Issue(`${path}.classRates are all zero: give at least one class a rate above 0`);
    if (o.ratePerSecond !== undefined) throw new Issue(`${path} gives both classRates and ratePerSecond: the rate is the sum of classRates; drop ratePerSecond`);
  }
  const length: ResolvedSynthetic['length'] =
    exclusive(o, 'jobs', 'durationMs', path, true) === 'a'
      ? { kind: 'jobs', jobs: num(o.jobs, `${path}.jobs`, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true, hint: 'give a whole number of jobs ≥ 1' }) }
      : { kind: 'duration', durationMs: num(o.durationMs, `${path}.durationMs`, { above: 0, hint: 'give a duration in ms > 0' }) };
  const rate: ResolvedSynthetic['rate'] =
    classRates !== undefined
      ? (o.load !== undefined ? { kind: 'load', load: num(o.load, `${path}.load`, { above: 0, hint: LOAD_HINT }) } : { kind: 'rate', perMs: classRates.reduce((a, b) => a + b, 0) })
      : exclusive(o, 'load', 'ratePerSecond', path, true) === 'a'
        ? { kind: 'load', load: num(o.load, `${path}.load`, { above: 0, hint: LOAD_HINT }) }
        : { kind: 'rate', perMs: num(o.ratePerSecond, `${path}.ratePerSecond`, { above: 0, hint: 'give jobs per second > 0' }) / 1000 };
  const arrivals = oneOf(o.arrivals, `${path}.arrivals`, ['constant', 'poisson'] as const, 'constant');
  const functions = optNum(o, 'functions', path, { min: 1, max: 10_000_000, integer: true, hint: 'give a whole number of functions from 1 to 10 million' }, DEFAULT_FUNCTIONS);
  let popularity: ResolvedSynthetic['popularity'] = { kind: 'uniform' };
  if (o.popularity !== undefined) {
    const p = isObj(o.popularity) ? o.popularity : {};
    const kind = oneOf(p.kind, `${path}.popularity.kind`, ['uniform', 'zipf'] as const);
    if (kind === 'uniform') obj(o.popularity, `${path}.popularity`, ['kind']);
    else {
      obj(o.popularity, `${path}.popularity`, ['kind', 'exponent']);
      popularity = { kind, exponent: optNum(p, 'exponent', `${path}.popularity`, { min: 0, max: 10, hint: 'give the Zipf exponent in [0, 10] (1 is classic Zipf)' }, 1) };
    }
  }
  return {
    resolved: true,
    kind: 'synthetic',
    length,
    rate,
    arrivals,
    functions,
    popularity,
    runtime: runtime(o.runtime, `${path}.runtime`),
    memory: memory(o.memory, `${path}.memory`, DEFAULT_MEMORY),
    classWeights: classWeights(o.classWeights, `${path}.classWeights`, classes, dflt),
    ...(classRates !== undefined ? { classRates } : {}),
  };
}

function minuteRange(o: Obj, path: string, end: number): { fromMinute: number; toMinute: number } {
  const fromMinute = optNum(o, 'fromMinute', path, { min: 0, integer: true, hint: MINUTE_HINT }, 0);
  const toMinute = optNum(o, 'toMinute', path, { min: 1, integer: true, hint: 'give a whole minute ≥ 1' }, end);
  if (Number.isFinite(end) && toMinute > end) throw new Issue(`${path}.toMinute is ${String(toMinute)}: the trace covers minutes 0 to ${String(end)}; give at most ${String(end)}`);
  if (toMinute <= fromMinute) throw new Issue(`${path} replays minutes [${String(fromMinute)}, ${String(toMinute)}), which is empty: make toMinute larger than fromMinute`);
  return { fromMinute, toMinute };
}

const MIN_RUNTIME_HINT = 'give the smallest runtime in ms, > 0';

function azure2019(x: Obj, classes: PriceTable, dflt: () => number[]): ResolvedAzure2019 {
  const path = 'workload';
  const o = obj(x, path, ['kind', 'dir', 'files', 'fromMinute', 'toMinute', 'timeScale', 'load', 'runtimeFit', 'minRuntimeMs', 'minMemoryMB', 'classWeights', 'classes']);
  const dir = str(o.dir, `${path}.dir`, 'the directory holding the Azure 2019 files, e.g. "traces/azure2019"');
  const f = o.files === undefined ? {} : obj(o.files, `${path}.files`, ['invocations', 'durations', 'memory']);
  const at = (name: string): string => (name.startsWith('/') ? name : `${dir.replace(/\/+$/, '')}/${name}`);
  const file = (key: string, dfltName: string): string => at(f[key] === undefined ? dfltName : str(f[key], `${path}.files.${key}`, 'a file name'));
  // Several days: a list of the days' invocations files, in order.
  let invocations: string | string[];
  if (Array.isArray(f.invocations)) {
    const list: unknown[] = f.invocations;
    if (list.length === 0) throw new Issue(`${path}.files.invocations is []: give a file name, or the days' files in order, e.g. ["d01.csv", "d02.csv"]`);
    invocations = list.map((x, i) => at(str(x, `${path}.files.invocations[${String(i)}]`, 'a file name')));
  } else {
    invocations = file('invocations', '100_inv.csv');
  }
  const days = Array.isArray(invocations) ? invocations.length : 1;
  return {
    resolved: true,
    kind: 'azure2019',
    files: { invocations, durations: file('durations', '100_run.csv'), memory: file('memory', '100_mem.csv') },
    ...minuteRange(o, path, 1440 * days),
    speed: speed(o, path),
    runtimeFit: oneOf(o.runtimeFit, `${path}.runtimeFit`, ['lognormal', 'exponential', 'deterministic'] as const, 'lognormal'),
    minRuntimeMs: optNum(o, 'minRuntimeMs', path, { above: 0, hint: MIN_RUNTIME_HINT }, 1),
    minMemoryMB: optNum(o, 'minMemoryMB', path, { min: 0, hint: 'give the smallest memory in MB, ≥ 0' }, 100),
    ...weightsAndClasses(o, path, classes, dflt, ['function', 'app', 'owner']),
  };
}

function weightsAndClasses(o: Obj, path: string, classes: PriceTable, dflt: () => number[], units: readonly ('function' | 'app' | 'owner')[]): { classWeights: number[]; classes: ResolvedTraceClasses } {
  const w = classWeights(o.classWeights, `${path}.classWeights`, classes, dflt);
  return { classWeights: w, classes: traceClasses(o.classes, `${path}.classes`, classes, w, units) };
}

function azure2021(x: Obj, classes: PriceTable, dflt: () => number[]): ResolvedAzure2021 {
  const path = 'workload';
  const o = obj(x, path, ['kind', 'file', 'fromMinute', 'toMinute', 'timeScale', 'load', 'minRuntimeMs', 'memory', 'classWeights', 'classes']);
  return {
    resolved: true,
    kind: 'azure2021',
    file: str(o.file, `${path}.file`, 'the path of the invocations CSV, e.g. "traces/azure2021/invocations-first-998.csv"'),
    ...minuteRange(o, path, Infinity),
    speed: speed(o, path),
    minRuntimeMs: optNum(o, 'minRuntimeMs', path, { above: 0, hint: MIN_RUNTIME_HINT }, 1),
    memory: memory(o.memory, `${path}.memory`, { kind: 'burr', c: 11.652, k: 0.221, lambdaMB: 107.083, minMB: 100, maxMB: 10240 }),
    ...weightsAndClasses(o, path, classes, dflt, ['function', 'app']),
  };
}

function recorded(x: Obj, classes: PriceTable): ResolvedRecorded {
  const path = 'workload';
  const o = obj(x, path, ['kind', 'file', 'timeScale', 'load', 'minRuntimeMs', 'classes']);
  const rename: Record<string, string> = {};
  if (o.classes !== undefined) {
    if (!isObj(o.classes)) throw new Issue(`${path}.classes is ${show(o.classes)}: give an object mapping a recorded class to one of the price table's, e.g. {"low": "standard"}`);
    const names = classes.classes.map((c) => c.name);
    for (const [from, to] of Object.entries(o.classes)) {
      if (typeof to !== 'string' || !names.includes(to)) throw new Issue(`${path}.classes[${JSON.stringify(from)}] is ${show(to)}: give one of the price table's classes (${names.join(', ')})`);
      rename[from] = to;
    }
  }
  return {
    resolved: true,
    kind: 'recorded',
    file: str(o.file, `${path}.file`, 'the path of a recording made with fare up --record FILE'),
    speed: speed(o, path),
    minRuntimeMs: optNum(o, 'minRuntimeMs', path, { above: 0, hint: 'give the smallest CPU time in ms, > 0' }, 0.01),
    rename,
    classWeights: classes.classes.map(() => 1 / classes.classes.length),
  };
}

/**
 * Checks a workload config (parsed JSON or a typed object) against the price table it will run with,
 * and fills in defaults. Errors name the field, what was wrong and what to do.
 */
export function validateWorkload(input: unknown, classes: PriceTable): Result<ResolvedWorkload> {
  const dflt = (): number[] => bimodalClassWeights(classes.classes.length);
  try {
    if (!isObj(input)) throw new Issue(`workload is ${show(input)}: give an object with a "kind" ("synthetic", "azure2019", "azure2021" or "recorded")`);
    const kind = oneOf(input.kind, 'workload.kind', ['synthetic', 'azure2019', 'azure2021', 'recorded'] as const);
    switch (kind) {
      case 'synthetic':
        return { ok: true, value: synthetic(input, classes, dflt) };
      case 'azure2019':
        return { ok: true, value: azure2019(input, classes, dflt) };
      case 'azure2021':
        return { ok: true, value: azure2021(input, classes, dflt) };
      case 'recorded':
        return { ok: true, value: recorded(input, classes) };
    }
  } catch (e) {
    if (e instanceof Issue) return { ok: false, error: e.message };
    throw e;
  }
}
