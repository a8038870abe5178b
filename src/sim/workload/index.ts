// Workload generators and trace readers for the simulator: everything a driver needs to turn a
// workload config into a stream of jobs.

export { newBatch, type JobBatch, type JobSource, type WorkloadInfo } from './job-batch.ts';
export { validateWorkload } from './validate-workload.ts';
export {
  type WorkloadConfig,
  type SyntheticWorkloadConfig,
  type Azure2019WorkloadConfig,
  type Azure2021WorkloadConfig,
  type RuntimeSpec,
  type MemorySpec,
  type PopularitySpec,
  type ScaleSpec,
  type ResolvedWorkload,
} from './config.ts';
export { makeJobSource, makeResolvedJobSource } from './make-job-source.ts';
export { SyntheticSource } from './synthetic.ts';
export { Azure2019Source, readAzure2019, type Azure2019Trace } from './azure2019.ts';
export { Azure2021Source, readAzure2021, type Azure2021Trace } from './azure2021.ts';
export { WorkloadError, type WorkloadErrorCode } from './trace-csv.ts';
export { bimodalClassWeights, fitLognormalSigma, AZURE2019_RUNTIME_FIT, AZURE2019_MEMORY_FIT } from './distributions.ts';
