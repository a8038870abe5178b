// The one entry point drivers use: a workload config (as JSON or typed) + the price table + the
// number of cores + a seeded Rng → a JobSource. Build a fresh source from the same seed for every
// policy of an experiment and each sees the identical job stream.

import type { PriceTable } from '../../core/classes.ts';
import type { Rng } from '../../core/rng.ts';
import { readAzure2019, Azure2019Source } from './azure2019.ts';
import { readAzure2021, Azure2021Source } from './azure2021.ts';
import type { ResolvedWorkload, WorkloadConfig } from './config.ts';
import { validateWorkload } from './validate-workload.ts';
import type { JobSource } from './job-batch.ts';
import { readRecording, RecordedSource } from './recorded.ts';
import { SyntheticSource } from './synthetic.ts';
import { WorkloadError } from './trace-csv.ts';

/**
 * Validates `config` unless it is already resolved by `validateWorkload` (throwing WorkloadError FARE_E_WORKLOAD_CONFIG with the validator's message) and
 * builds its source; trace files are read here (FARE_E_TRACE_* on problems). `cores` is the total
 * number of cores the offered load refers to.
 */
/**
 * `classRng`: where functions' classes are drawn from. An experiment passes one seeded by its seed
 * alone, so every load of a sweep has the same assignment; default a fork of `rng`.
 */
export function makeJobSource(config: WorkloadConfig | ResolvedWorkload, classes: PriceTable, cores: number, rng: Rng, classRng?: Rng): JobSource {
  if (!Number.isFinite(cores) || cores <= 0) throw new WorkloadError('FARE_E_WORKLOAD_CONFIG', `cores is ${String(cores)}: give the total number of cores (> 0) the load refers to`);
  if ('resolved' in config) {
    if (config.classWeights.length !== classes.classes.length) {
      throw new WorkloadError('FARE_E_WORKLOAD_CONFIG', `the workload was validated against ${String(config.classWeights.length)} classes but the price table has ${String(classes.classes.length)}: validate it against the table it runs with`);
    }
    return config.kind === 'recorded' ? new RecordedSource(readRecording(config.file), config, classes, cores) : makeResolvedJobSource(config, cores, rng, classRng);
  }
  const r = validateWorkload(config, classes);
  if (!r.ok) throw new WorkloadError('FARE_E_WORKLOAD_CONFIG', r.error);
  return r.value.kind === 'recorded' ? new RecordedSource(readRecording(r.value.file), r.value, classes, cores) : makeResolvedJobSource(r.value, cores, rng, classRng);
}

/** For a config already validated with `validateWorkload` against the same price table (a recording needs the table: use makeJobSource). */
export function makeResolvedJobSource(w: Exclude<ResolvedWorkload, { kind: 'recorded' }>, cores: number, rng: Rng, classRng: Rng = rng.fork('function-class')): JobSource {
  switch (w.kind) {
    case 'synthetic':
      return new SyntheticSource(w, cores, rng, classRng);
    case 'azure2019':
      return new Azure2019Source(readAzure2019(w), w, cores, rng, classRng);
    case 'azure2021':
      return new Azure2021Source(readAzure2021(w.file), w, cores, rng, classRng);
  }
}
