// Price classes: the fixed table of named classes with a price per CPU-second, and the one memory price.
// Class index 0 is the most expensive; every scheduling decision compares these indexes.

import type { ClassIndex } from './types.ts';

export interface PriceClass {
  readonly name: string;
  /** Price per CPU-second, in micro-cents (µ¢). */
  readonly price: number;
}

export interface PriceTable {
  /** Sorted by price, highest first; index = ClassIndex. */
  readonly classes: readonly PriceClass[];
  /** Price per GB-second of memory used, in µ¢, the same for every class. */
  readonly memoryPrice: number;
}

/**
 * The paper's example (home page 2 µ¢, profile page 1.5 µ¢, image processing 0.5 µ¢ per CPU-second),
 * with a `standard` class between them for tenants who do not choose.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  classes: [
    { name: 'high', price: 2 },
    { name: 'middle', price: 1.5 },
    { name: 'standard', price: 1 },
    { name: 'low', price: 0.5 },
  ],
  memoryPrice: 0.25,
};

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validates and sorts a table given in any order; errors say what is wrong and what to do. */
export function makePriceTable(classes: readonly PriceClass[], memoryPrice: number): Result<PriceTable> {
  if (classes.length === 0) return { ok: false, error: 'the price table has no classes: give at least one {name, price}' };
  const seen = new Set<string>();
  for (const c of classes) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(c.name)) {
      return { ok: false, error: `class name ${JSON.stringify(c.name)} is not valid: use 1–32 lower-case letters, digits or '-', starting with a letter` };
    }
    if (seen.has(c.name)) return { ok: false, error: `class ${c.name} is listed twice: give each class once` };
    seen.add(c.name);
    if (!Number.isFinite(c.price) || c.price <= 0) {
      return { ok: false, error: `class ${c.name} has price ${String(c.price)}: prices must be positive numbers (µ¢ per CPU-second)` };
    }
  }
  const prices = new Set(classes.map((c) => c.price));
  if (prices.size !== classes.length) return { ok: false, error: 'two classes have the same price: classes are ordered by price, so prices must differ' };
  if (!Number.isFinite(memoryPrice) || memoryPrice < 0) {
    return { ok: false, error: `memory price ${String(memoryPrice)} is not valid: give a number ≥ 0 (µ¢ per GB-second)` };
  }
  const sorted = [...classes].sort((a, b) => b.price - a.price);
  return { ok: true, value: { classes: sorted, memoryPrice } };
}

export function classIndex(table: PriceTable, name: string): ClassIndex | undefined {
  const i = table.classes.findIndex((c) => c.name === name);
  return i < 0 ? undefined : i;
}

export function maxPrice(table: PriceTable): number {
  return table.classes[0]?.price ?? 1;
}

/** Class inheritance along call chains: the callee runs at the higher of the two classes. */
export function inheritClass(caller: ClassIndex | undefined, own: ClassIndex): ClassIndex {
  return caller === undefined ? own : Math.min(caller, own);
}

/** The running invocation a call was made from, as its (verified) context names it. */
export interface CallerContext {
  /** Owner of the function that runs (who pays for it). */
  readonly tenant: string;
  readonly cls: ClassIndex;
  /** When its context stops being honoured (ms; the driver's clock). */
  readonly deadline: number;
}

/** The function called: its owner, its own class, and the deadline its context gets if not raised. */
export interface Callee {
  readonly owner: string;
  readonly cls: ClassIndex;
  readonly deadline: number;
}

export interface CallClass {
  readonly cls: ClassIndex;
  /** Deadline of the context the callee gets. */
  readonly deadline: number;
  /** The caller's context raised the callee above its own class. */
  readonly raised: boolean;
}

/**
 * Who pays a raised class, and for how long. A caller's context raises a call (`inheritClass`) only
 * when the callee belongs to the caller's own tenant — the one that pays for both — and the caller
 * waits for the answer. So a grantee cannot raise the bill of the tenant that granted it (a call into
 * another tenant's function runs at that function's own class, which its owner chose and pays), and
 * a queued Event, which outlives the call that queued it, runs at its function's own class. A raised
 * callee's context expires no later than its caller's, so a chain never extends itself.
 */
export function inheritContext(caller: CallerContext | undefined, callee: Callee, waits: boolean): CallClass {
  const applies = caller !== undefined && waits && caller.tenant === callee.owner;
  const cls = applies ? inheritClass(caller.cls, callee.cls) : callee.cls;
  const raised = cls < callee.cls;
  return { cls, deadline: raised && caller !== undefined ? Math.min(callee.deadline, caller.deadline) : callee.deadline, raised };
}

/** What CPU time and memory cost (µ¢), split as bills show it. */
export interface Charge {
  readonly cpu: number;
  readonly memory: number;
  readonly total: number;
}

/**
 * The charge, written once: CPU-seconds at `price` (µ¢ per CPU-second) plus GB-seconds at
 * `memoryPrice` (µ¢ per GB-second); negative amounts count as nothing. For a driver that holds the
 * rates an execution was charged at (a billing record); `chargeFor` looks them up in the table.
 */
export function costOf(cpuMs: number, memGBs: number, price: number, memoryPrice: number): Charge {
  const cpu = (Math.max(0, cpuMs) / 1000) * price;
  const memory = Math.max(0, memGBs) * memoryPrice;
  return { cpu, memory, total: cpu + memory };
}

/** The rates an invocation at class `cls` is charged at: its class's price per CPU-second and the one memory price. */
export function ratesFor(table: PriceTable, cls: ClassIndex): { readonly price: number; readonly memoryPrice: number } {
  const price = table.classes[cls]?.price;
  if (price === undefined) throw new RangeError(`class ${cls} is not in the price table (0..${table.classes.length - 1})`);
  return { price, memoryPrice: table.memoryPrice };
}

/** What one invocation costs (µ¢): CPU-seconds at the class price plus GB-seconds at the memory price. */
export function chargeFor(table: PriceTable, cls: ClassIndex, cpuMs: number, memGBs: number): Charge {
  const { price, memoryPrice } = ratesFor(table, cls);
  return costOf(cpuMs, memGBs, price, memoryPrice);
}
