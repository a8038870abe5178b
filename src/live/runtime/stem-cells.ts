// The stem cells of a machine (stem-cell.ts): a few runtime processes per runtime started ahead, so a
// cold start takes one instead of waiting for an interpreter to boot. How many: per runtime, one plus
// the number taken in the last 10 s, at most 4 — a machine that has cold starts keeps as many ready
// as it recently used, one that has none keeps one — and none at all while memory is short (under
// 20 % of the managed memory free: twice the level at which swapping starts), when those ready are
// killed too. One starts at a time per runtime (each boot takes a core for ≈ 0.1 s: refilling
// several at once would take the functions' cores in a burst); the next when it is ready.
//
// A cell taken leaves this set for good: it becomes one function's instance (the pool's) and dies
// with it. Nothing here ever hands a cell out twice.
//
// A cell is started only in a quiet moment — no invocation started or ended for STEM_QUIET_MS — or
// once it has waited STEM_OVERDUE_MS: spawning one from Fare's own process blocked its event loop for
// ≈ 20 ms on the test machine (the fork), time any invocation in flight waited too. The launcher
// process (launcher.ts) now spawns it where there is one; its directory (a copy of the runtime,
// 1–3 ms) is still made on Fare's thread, and its boot takes CPU (at nice 19).
//
// The owner drives time: `adjust()` after a change it knows of (this set calls it itself when a cell
// is taken, becomes ready or dies, and checks again while a start waits for quiet), and every second
// or so to follow memory and let the target fall.

import { performance } from 'node:perf_hooks';
import type { FunctionSpec } from '../types.ts';
import type { Capabilities } from './capabilities.ts';
import { findRuntimesDir } from './launch.ts';
import type { RefusedRequest } from './runtime-api.ts';
import { STEM_RUNTIMES, StemCell, type StemRuntime, stemRuntimeOf } from './stem-cell.ts';

/** What the set needs of a cell (StemCell; a fake in tests). */
export interface StemLike {
  readonly runtime: StemRuntime;
  readonly state: 'starting' | 'ready' | 'taken' | 'dead';
  kill(): Promise<void>;
}

/** At most this many cells per runtime. */
export const STEM_MAX = 4;
/** Cells taken within this window (ms) raise the target. */
export const STEM_WINDOW_MS = 10_000;
/** No cells while less than this fraction of the managed memory is free. */
export const STEM_MIN_FREE = 0.2;
/** A cell is started once no invocation has started or ended for this long (ms)… */
export const STEM_QUIET_MS = 100;
/** …or once a start has waited this long (ms), on a machine that is never quiet. */
export const STEM_OVERDUE_MS = 2000;

export interface StemCellsOptions<C extends StemLike> {
  /** The runtimes to keep cells for (those the machine can run in the sandbox). */
  readonly runtimes: readonly StemRuntime[];
  /** Starts one cell; it calls `cellChanged` when it becomes ready or dies. */
  readonly start: (runtime: StemRuntime) => C;
  /** Whether memory is short now (then no cells). */
  readonly memoryShort?: () => boolean;
  readonly clock?: () => number;
  readonly max?: number;
  readonly windowMs?: number;
  /**
   * When the machine last started or ended an invocation (clock ms; the pool's `lastActivity`). A
   * cell is started only once it has been quiet for STEM_QUIET_MS, or a start has waited
   * STEM_OVERDUE_MS: starting one cost Fare's event loop ≈ 20 ms on the test machine when Fare
   * spawned it itself (without the launcher, launcher.ts), which would land on whatever invocation
   * is in flight. None: no waiting.
   */
  readonly lastActivity?: () => number;
  /** Runs a deferred start's next check (default: STEM_QUIET_MS later, on an unref'd timer). */
  readonly later?: (f: () => void) => void;
}

export interface StemStats {
  readonly runtime: StemRuntime;
  readonly target: number;
  readonly ready: number;
  readonly starting: number;
  /** Taken by a cold start, since the start. */
  readonly taken: number;
  /** Started, since the start. */
  readonly started: number;
  /** Died before they were taken (killed as surplus or for memory included). */
  readonly died: number;
  /** The runtime's cells keep dying before they are ready: none are started any more, and why. */
  readonly disabled: string | null;
}

/** Cells that die before they are ready this many times in a row turn their runtime's cells off. */
const FAILURES_TO_DISABLE = 3;

interface PerRuntime<C> {
  readonly cells: C[];
  /** When cells were taken (clock ms), oldest first. */
  readonly takes: number[];
  taken: number;
  started: number;
  died: number;
  failuresInARow: number;
  disabled: string | null;
}

export class StemCells<C extends StemLike> {
  private readonly by = new Map<StemRuntime, PerRuntime<C>>();
  private readonly clock: () => number;
  private readonly max: number;
  private readonly windowMs: number;
  private closed = false;

  constructor(private readonly opts: StemCellsOptions<C>) {
    this.clock = opts.clock ?? (() => performance.now());
    this.max = opts.max ?? STEM_MAX;
    this.windowMs = opts.windowMs ?? STEM_WINDOW_MS;
    for (const r of opts.runtimes) this.by.set(r, { cells: [], takes: [], taken: 0, started: 0, died: 0, failuresInARow: 0, disabled: null });
  }

  /** A ready cell that can become `fn`'s instance, removed from the set for good; null when there is none. */
  take(fn: FunctionSpec): C | null {
    const runtime = stemRuntimeOf(fn);
    const r = runtime === null ? undefined : this.by.get(runtime);
    if (runtime === null || r === undefined || this.closed) return null;
    const i = r.cells.findIndex((c) => c.state === 'ready');
    r.takes.push(this.clock());
    // The refill waits for a quiet moment (see lastActivity): this cold start is one.
    this.checkLater();
    if (i < 0) return null;
    const [cell] = r.cells.splice(i, 1);
    r.taken++;
    return cell ?? null;
  }

  /** Since when a start has been wanted and deferred (clock ms), or null. */
  private deferredSince: number | null = null;
  private checking = false;

  /** May a cell be started now (quiet, or overdue)? Remembers a deferral and checks again later. */
  private mayStart(): boolean {
    const last = this.opts.lastActivity;
    const now = this.clock();
    if (last === undefined || now - last() >= STEM_QUIET_MS || (this.deferredSince !== null && now - this.deferredSince >= STEM_OVERDUE_MS)) {
      this.deferredSince = null;
      return true;
    }
    this.deferredSince ??= now;
    this.checkLater();
    return false;
  }

  /** One adjust a little later (several deferrals meanwhile share it). */
  private checkLater(): void {
    if (this.checking) return;
    this.checking = true;
    const run = (): void => {
      this.checking = false;
      if (!this.closed) this.adjust();
    };
    if (this.opts.later !== undefined) this.opts.later(run);
    else setTimeout(run, STEM_QUIET_MS).unref();
  }

  /** How many cells of `runtime` are wanted now. */
  target(runtime: StemRuntime): number {
    const r = this.by.get(runtime);
    if (r === undefined || this.closed || r.disabled !== null || this.opts.memoryShort?.() === true) return 0;
    const since = this.clock() - this.windowMs;
    while (r.takes.length > 0 && (r.takes[0] ?? 0) < since) r.takes.shift();
    return Math.min(this.max, 1 + r.takes.length);
  }

  /**
   * Brings each runtime's cells to its target: kills the surplus (those still starting first), and
   * starts one when fewer are there and none is starting.
   */
  adjust(): void {
    for (const [runtime, r] of this.by) {
      this.forget(r);
      const target = this.target(runtime);
      while (r.cells.length > target) {
        const i = r.cells.findIndex((c) => c.state === 'starting');
        const [cell] = r.cells.splice(i >= 0 ? i : r.cells.length - 1, 1);
        r.died++;
        if (cell !== undefined) void cell.kill();
      }
      if (r.cells.length < target && !r.cells.some((c) => c.state === 'starting') && this.mayStart()) {
        r.started++;
        r.cells.push(this.opts.start(runtime));
      }
    }
  }

  /**
   * A cell became ready or died (StemCell's callbacks): a death before it was ready counts towards
   * turning its runtime's cells off (`why` says why it died); then the set is adjusted.
   */
  cellChanged(cell: C, why?: string): void {
    const r = this.by.get(cell.runtime);
    if (r === undefined) return;
    if (cell.state === 'ready') r.failuresInARow = 0;
    if (cell.state === 'dead' && r.cells.includes(cell)) {
      r.died++;
      if (why !== undefined && ++r.failuresInARow >= FAILURES_TO_DISABLE) r.disabled = why;
    }
    if (!this.closed) this.adjust();
  }

  stats(): StemStats[] {
    return [...this.by].map(([runtime, r]) => {
      this.forget(r);
      return {
        runtime,
        target: this.target(runtime),
        ready: r.cells.filter((c) => c.state === 'ready').length,
        starting: r.cells.filter((c) => c.state === 'starting').length,
        taken: r.taken,
        started: r.started,
        died: r.died,
        disabled: r.disabled,
      };
    });
  }

  /** Kills every cell not taken; no more are started. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.by.values()].flatMap((r) => r.cells.splice(0));
    await Promise.all(all.map((c) => c.kill()));
  }

  /** Drops the dead cells from the list. */
  private forget(r: PerRuntime<C>): void {
    for (let i = r.cells.length - 1; i >= 0; i--) if (r.cells[i]?.state === 'dead') r.cells.splice(i, 1);
  }
}

export interface MachineStemCellsOptions {
  readonly caps: Capabilities;
  /** As the instances' (instanceOptions): where directories go, the runtimes, the shared groups, refusals. */
  readonly baseDir?: string;
  readonly runtimesDir?: string;
  readonly sharedGroups?: readonly string[];
  readonly onRefused?: (id: string, r: RefusedRequest) => void;
  /** When an invocation last started or ended (the pool's `lastActivity`). */
  readonly lastActivity?: () => number;
  /** The fraction of the managed memory free now (0–1): under STEM_MIN_FREE, no cells. */
  readonly memoryFree?: () => number;
  /** Turned off by the operator (`fare up --no-stem-cells`). */
  readonly off?: boolean;
}

/**
 * The machine's stem cells, where they can be had — the sandbox (each cell needs its own uid and
 * namespaces before it knows its tenant) and each runtime's interpreter — and the start-up line
 * saying which runtimes have them, or why none do. `stems` is null when none do.
 */
export function machineStemCells(o: MachineStemCellsOptions): { stems: StemCells<StemCell> | null; line: string } {
  if (o.off === true) return { stems: null, line: 'stem cells: off (--no-stem-cells): every cold start launches its runtime' };
  const caps = o.caps;
  if (caps.sandbox.helper === null) return { stems: null, line: `stem cells: off — they need the instance sandbox (${caps.sandbox.why}): every cold start launches its runtime` };
  const runtimes = STEM_RUNTIMES.filter((r) => (r === 'nodejs' ? caps.node : caps.python3) !== null);
  const missing = STEM_RUNTIMES.filter((r) => !runtimes.includes(r)).map((r) => `${r} has none (no interpreter the function user can run)`);
  if (runtimes.length === 0) return { stems: null, line: `stem cells: off — ${missing.join('; ')}` };
  const runtimesDir = o.runtimesDir ?? findRuntimesDir();
  const baseDir = o.baseDir ?? caps.instancesDir;
  const stems: StemCells<StemCell> = new StemCells<StemCell>({
    runtimes,
    ...(o.memoryFree !== undefined ? { memoryShort: () => (o.memoryFree?.() ?? 1) < STEM_MIN_FREE } : {}),
    ...(o.lastActivity !== undefined ? { lastActivity: o.lastActivity } : {}),
    start: (runtime) => {
      const cell = new StemCell({
        runtime, caps, baseDir, runtimesDir,
        ...(o.sharedGroups !== undefined ? { sharedGroups: o.sharedGroups } : {}),
        ...(o.onRefused !== undefined ? { onRefused: o.onRefused } : {}),
        onDeath: (c) => stems.cellChanged(c, c.everReady ? undefined : (c.death ?? 'it died as it started')),
      });
      cell.ready.then(() => stems.cellChanged(cell), () => undefined);
      return cell;
    },
  });
  stems.adjust();
  const line = `stem cells: ${runtimes.join(', ')} — runtimes started ahead in their own sandbox, 1–${STEM_MAX} per runtime (1 + those taken in the last ${STEM_WINDOW_MS / 1000} s), started when no invocation ran for ${STEM_QUIET_MS} ms, none while under ${STEM_MIN_FREE * 100} % of memory is free` +
    (missing.length > 0 ? `; ${missing.join('; ')}` : '') + ' (--no-stem-cells to turn off)';
  return { stems, line };
}
