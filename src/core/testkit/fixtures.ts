// Small builders for tests: jobs, price tables and configs with plain defaults, overridable per test.

import type { ClassIndex, Job, JobId, Millis } from '../types.ts';
import { DEFAULT_PRICE_TABLE, makePriceTable, type PriceTable } from '../classes.ts';
import type { MachineConfig } from '../machine/machine.ts';
import type { ShardConfig } from '../shard/shard.ts';

export function job(id: JobId, cls: ClassIndex, arrival: Millis = 0, fn = 0): Job {
  return { id, cls, arrival, fn };
}

/** A price table from prices alone (classes named c0, c1, … in the given order). Throws if invalid. */
export function prices(...ps: number[]): PriceTable {
  const r = makePriceTable(ps.map((price, i) => ({ name: `c${i}`, price })), 0);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** One machine, one core, `priority`, four classes, no memory management, no idle list. */
export function machineConfig(over: Partial<MachineConfig> = {}): MachineConfig {
  return {
    id: 0,
    cores: 1,
    policy: 'priority',
    classes: 4,
    memoryMB: Infinity,
    swap: { enabled: false, targetFraction: 1 },
    dispatcher: undefined,
    ...over,
  };
}

/** Shard 0 over 8 machines with the default price table, `price-wait`, k = 2, idle list on, 4 polls. */
export function shardConfig(over: Partial<ShardConfig> = {}): ShardConfig {
  return {
    id: 0,
    prices: DEFAULT_PRICE_TABLE,
    selection: 'price-wait',
    machines: 8,
    k: 2,
    useIdleList: true,
    maxOutstandingPolls: 4,
    ...over,
  };
}
