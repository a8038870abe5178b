// A worker's upkeep of its stem cells (runtime/stem-cells.ts), the same for `fare up` (worker 0 of a
// cluster of one) and `fare worker`: none while the memory the worker manages is short (its own
// reading, the memory plan's probe), `adjust()` every second to follow memory and let their number
// fall once cold starts stop, their counts in the worker's metrics (`fare_stem_cells`), and a stop
// that kills those not taken — also when the worker's start fails part-way, so that no stem cell's
// process keeps Fare alive after the error is told.

import type { Metrics } from '../metrics.ts';
import type { StemCell } from '../runtime/stem-cell.ts';
import type { StemCells } from '../runtime/stem-cells.ts';
import type { LocalExecutorOptions } from './local-executor.ts';
import type { MemoryPlan } from './memory.ts';

/** How often the stem cells are adjusted (ms). */
export const STEM_ADJUST_MS = 1000;

/**
 * localExecutor's `stemCells` for a worker with this memory plan: the fraction of the managed memory
 * free now (1 where memory is not managed), and `off` (`--no-stem-cells`).
 */
export function stemCellsOption(memory: Pick<MemoryPlan, 'probe' | 'managedMB'>, off: boolean): NonNullable<LocalExecutorOptions['stemCells']> {
  const probe = memory.probe;
  const memoryFree = (): number => (probe !== undefined && Number.isFinite(memory.managedMB) ? 1 - probe.used() / memory.managedMB : 1);
  return { memoryFree, off };
}

/**
 * Keeps the stem cells localExecutor made (none: nothing to keep): adjusts them every
 * STEM_ADJUST_MS and shows them in `metrics` as machine `machine`'s. `stop()` ends the adjusting
 * and kills the cells not taken (the pool's close does too; either may come first).
 */
export function keepStemCells(stems: StemCells<StemCell> | null, o: { readonly machine: number; readonly metrics?: Metrics | undefined }): { stop(): Promise<void> } {
  if (stems === null) return { stop: () => Promise.resolve() };
  o.metrics?.watchStemCells(o.machine, () => stems.stats());
  const adjusting = setInterval(() => stems.adjust(), STEM_ADJUST_MS);
  adjusting.unref();
  return {
    stop: () => {
      clearInterval(adjusting);
      return stems.close();
    },
  };
}
