import { describe, expect, it } from 'vitest';
import type { FunctionSpec } from '../types.ts';
import type { StemRuntime } from './stem-cell.ts';
import { capabilities } from './capabilities.ts';
import { machineStemCells, STEM_MAX, STEM_OVERDUE_MS, STEM_QUIET_MS, STEM_WINDOW_MS, type StemLike, StemCells } from './stem-cells.ts';

/** A cell whose life the test drives: `ready()`, `fail()`; `kill()` records itself. */
class FakeCell implements StemLike {
  state: StemLike['state'] = 'starting';
  killed = false;
  constructor(readonly runtime: StemRuntime, readonly n: number) {}
  kill(): Promise<void> {
    if (this.state !== 'taken') {
      this.state = 'dead';
      this.killed = true;
    }
    return Promise.resolve();
  }
}

function setup(over: { memoryShort?: () => boolean; runtimes?: StemRuntime[] } = {}) {
  let now = 0;
  const started: FakeCell[] = [];
  const set: StemCells<FakeCell> = new StemCells<FakeCell>({
    runtimes: over.runtimes ?? ['nodejs', 'python'],
    clock: () => now,
    later: (f) => f(), // the refill at once: the tests drive time
    ...(over.memoryShort !== undefined ? { memoryShort: over.memoryShort } : {}),
    start: (runtime) => {
      const c = new FakeCell(runtime, started.length);
      started.push(c);
      return c;
    },
  });
  /** Makes every starting cell ready, one adjust at a time (as their callbacks would), until none starts. */
  const settle = (): void => {
    for (let c = started.find((x) => x.state === 'starting'); c !== undefined; c = started.find((x) => x.state === 'starting')) {
      c.state = 'ready';
      set.cellChanged(c);
    }
  };
  const take = (f: FunctionSpec): FakeCell | null => {
    const c = set.take(f);
    if (c !== null) c.state = 'taken'; // as StemCell.take() does when an Instance adopts it
    return c;
  };
  return { set, started, settle, take, advance: (ms: number) => (now += ms) };
}

const fn = (tenant: string, runtime: FunctionSpec['runtime'] = 'nodejs', env: Record<string, string> = {}): FunctionSpec => ({
  tenant, name: `${tenant}-fn`, runtime, handler: 'index.handler', cls: 'standard', codeDir: '/nonexistent', version: 1, timeoutMs: 1000, env,
});
const count = (set: StemCells<FakeCell>, runtime: StemRuntime) => set.stats().find((s) => s.runtime === runtime);

describe('stem cells', () => {
  it('keeps one per runtime started ahead, one starting at a time', () => {
    const { set, started, settle } = setup();
    set.adjust();
    expect(started.map((c) => c.runtime)).toEqual(['nodejs', 'python']);
    set.adjust(); // nothing more while they start
    expect(started).toHaveLength(2);
    settle();
    expect(count(set, 'nodejs')).toMatchObject({ target: 1, ready: 1, starting: 0, started: 1 });
  });

  it('a cold start takes a ready one, which leaves the set for good, and a new one is started in its place', () => {
    const { set, started, settle, take } = setup();
    set.adjust();
    settle();
    const first = take(fn('acme'));
    expect(first?.runtime).toBe('nodejs');
    expect(started).toHaveLength(3); // the refill
    // The refill is not ready yet: the next cold start launches its runtime as usual.
    expect(take(fn('acme'))).toBeNull();
    settle();
    const second = take(fn('acme'));
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    expect(count(set, 'nodejs')).toMatchObject({ taken: 2 });
  });

  it('never hands a cell to a second tenant, nor to a second function: every take is another cell', () => {
    const { set, settle, take } = setup({ runtimes: ['python'] });
    set.adjust();
    const seen = new Set<FakeCell>();
    for (const t of ['a', 'b', 'a', 'c', 'b', 'a']) {
      settle();
      const c = take(fn(t, 'python'));
      expect(c).not.toBeNull();
      expect(seen.has(c as FakeCell)).toBe(false);
      seen.add(c as FakeCell);
    }
    expect(seen.size).toBe(6);
  });

  it(`follows the rate of cold starts: one plus those taken in the last ${STEM_WINDOW_MS / 1000} s, at most ${STEM_MAX}, then falls back`, () => {
    const { set, started, settle, take, advance } = setup({ runtimes: ['nodejs'] });
    set.adjust();
    settle();
    expect(set.target('nodejs')).toBe(1);
    take(fn('a'));
    expect(set.target('nodejs')).toBe(2);
    settle();
    expect(count(set, 'nodejs')).toMatchObject({ ready: 2 });
    for (let i = 0; i < 6; i++) {
      take(fn('a'));
      settle();
    }
    expect(set.target('nodejs')).toBe(STEM_MAX);
    expect(count(set, 'nodejs')).toMatchObject({ ready: STEM_MAX });
    // No cold starts for a window: back to one; the surplus is killed.
    advance(STEM_WINDOW_MS + 1);
    set.adjust();
    expect(set.target('nodejs')).toBe(1);
    expect(count(set, 'nodejs')).toMatchObject({ ready: 1, starting: 0 });
    expect(started.filter((c) => c.killed)).toHaveLength(STEM_MAX - 1);
  });

  it('keeps none while memory is short (those ready are killed) and starts again once it is not', () => {
    let short = false;
    const { set, started, settle } = setup({ memoryShort: () => short });
    set.adjust();
    settle();
    short = true;
    set.adjust();
    expect(started.every((c) => c.killed)).toBe(true);
    expect(set.stats().map((s) => [s.target, s.ready, s.starting])).toEqual([[0, 0, 0], [0, 0, 0]]);
    set.adjust();
    expect(started).toHaveLength(2);
    short = false;
    set.adjust();
    expect(started).toHaveLength(4);
  });

  it('serves only functions whose interpreter needs nothing at its start: not provided, not NODE_OPTIONS or PYTHONPATH', () => {
    const { set, settle } = setup();
    set.adjust();
    settle();
    expect(set.take(fn('a', 'provided'))).toBeNull();
    expect(set.take(fn('a', 'nodejs', { NODE_OPTIONS: '--max-old-space-size=64' }))).toBeNull();
    expect(set.take(fn('a', 'python', { PYTHONPATH: '/opt' }))).toBeNull();
    expect(set.take(fn('a', 'python', { GREETING: 'hi' }))).not.toBeNull();
    expect(count(set, 'nodejs')).toMatchObject({ taken: 0, ready: 1 });
  });

  it('stops starting a runtime whose cells die as they start, three times in a row, and says why', async () => {
    const { set, started } = setup({ runtimes: ['nodejs'] });
    set.adjust();
    for (let i = 0; i < 3; i++) {
      const c = started.at(-1) as FakeCell;
      await c.kill();
      set.cellChanged(c, 'fare-sandbox: cannot mount /proc');
    }
    expect(started).toHaveLength(3);
    expect(count(set, 'nodejs')).toMatchObject({ target: 0, disabled: 'fare-sandbox: cannot mount /proc', died: 3 });
  });

  it('starts a cell only in a quiet moment (no invocation for a while), or once the start is overdue', () => {
    let now = 0;
    let last = 0;
    let pending: (() => void) | null = null;
    const started: FakeCell[] = [];
    const set = new StemCells<FakeCell>({
      runtimes: ['nodejs'], clock: () => now, lastActivity: () => last,
      later: (f) => (pending = f),
      start: (runtime) => {
        const c = new FakeCell(runtime, started.length);
        started.push(c);
        return c;
      },
    });
    set.adjust();
    expect(started).toHaveLength(0); // an invocation just now: wait
    const check = (): void => {
      const f = pending;
      pending = null;
      f?.();
    };
    now += STEM_QUIET_MS - 1;
    check();
    expect(started).toHaveLength(0);
    now += 1;
    check();
    expect(started).toHaveLength(1); // quiet long enough
    // A machine never quiet: the start waits, but not for ever.
    last = now;
    void started[0]?.kill();
    set.cellChanged(started[0] as FakeCell);
    for (let t = STEM_QUIET_MS / 2; t < STEM_OVERDUE_MS; t += STEM_QUIET_MS / 2) {
      last = now;
      now += STEM_QUIET_MS / 2;
      check();
    }
    expect(started).toHaveLength(1);
    last = now;
    now += STEM_QUIET_MS / 2;
    check();
    expect(started).toHaveLength(2);
  });

  it('close kills the cells not taken and starts no more', async () => {
    const { set, started, settle, take } = setup();
    set.adjust();
    settle();
    const taken = take(fn('a'));
    settle();
    await set.close();
    expect(started.filter((c) => c !== taken).every((c) => c.killed)).toBe(true);
    expect(taken?.killed).toBe(false);
    set.adjust();
    expect(set.take(fn('a'))).toBeNull();
  });

  it("are off where the operator says so or the machine cannot sandbox them, and fare up's line says why", () => {
    const caps = capabilities();
    expect(machineStemCells({ caps, off: true })).toEqual({ stems: null, line: 'stem cells: off (--no-stem-cells): every cold start launches its runtime' });
    const none = machineStemCells({ caps: { ...caps, sandbox: { helper: null, why: 'not root: instances cannot get their own uids and namespaces' } } });
    expect(none.stems).toBeNull();
    expect(none.line).toBe('stem cells: off — they need the instance sandbox (not root: instances cannot get their own uids and namespaces): every cold start launches its runtime');
    const noInterpreters = machineStemCells({ caps: { ...caps, sandbox: { helper: '/bin/false', why: '' }, node: null, python3: null } });
    expect(noInterpreters.line).toMatch(/^stem cells: off — nodejs has none .*; python has none/);
  });
});
