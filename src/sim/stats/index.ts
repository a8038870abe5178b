// Streaming statistics for simulator reports: bounded memory, mergeable, exact where it is cheap.

export { LogHistogram, LOG_HISTOGRAM_RELATIVE_ERROR, LOG_HISTOGRAM_MIN, LOG_HISTOGRAM_MAX, type LogHistogramJSON } from './log-histogram.ts';
export { Welford } from './welford.ts';
export { TimeWeighted } from './time-weighted.ts';
