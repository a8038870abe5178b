import { describe, expect, it } from 'vitest';
import { Progress, formatClock, type ProgressStream } from './progress.ts';

class FakeStream implements ProgressStream {
  readonly chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
  ) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
}

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('Progress', () => {
  it('writes nothing to a stream that is not a TTY', () => {
    const stream = new FakeStream(false);
    const clock = manualClock();
    const p = new Progress({ label: 'sim', total: 1000, stream, clock: clock.now });
    for (let i = 0; i < 100_000; i++) {
      p.tick();
      if (i % 100 === 0) clock.advance(50);
    }
    p.update(999);
    p.done();
    expect(stream.chunks).toEqual([]);
    expect(p.value).toBe(999);
  });

  it('does not read the clock when not a TTY', () => {
    let reads = 0;
    const p = new Progress({ label: 'sim', total: 10, stream: new FakeStream(false), clock: () => ++reads });
    for (let i = 0; i < 10_000; i++) p.tick();
    p.done();
    expect(reads).toBe(0);
  });

  it('draws percentage, bar, rate, elapsed and ETA on a TTY', () => {
    const stream = new FakeStream(true, 120);
    const clock = manualClock();
    const p = new Progress({ label: 'fig4 load=0.9', total: 1000, stream, clock: clock.now, unit: 'jobs' });
    clock.advance(10_000);
    p.update(250);
    for (let i = 0; i < 64; i++) p.update(250); // reach a clock read
    const last = stream.chunks.at(-1) ?? '';
    expect(last.startsWith('\r')).toBe(true);
    expect(last).toContain('fig4 load=0.9  25%');
    expect(last).toContain(`[${'='.repeat(7)}>${' '.repeat(22)}]`); // 25% of a 30-wide bar
    expect(last).toContain('250/1000');
    expect(last).toContain('25 jobs/s');
    expect(last).toContain('0:10 ETA 0:30');
    p.done();
    expect(stream.chunks.at(-1)).toBe('\n');
  });

  it('redraws at most once per interval however often it is ticked', () => {
    const stream = new FakeStream(true);
    const clock = manualClock();
    const p = new Progress({ label: 'x', total: 1e6, stream, clock: clock.now });
    for (let i = 0; i < 1e6; i++) {
      p.tick();
      if (i % 1000 === 0) clock.advance(1); // 1000 simulated seconds in total
    }
    // 1000 ms of wall time at one draw per 100 ms, plus the first draw
    expect(stream.chunks.length).toBeLessThanOrEqual(12);
    expect(stream.chunks.length).toBeGreaterThanOrEqual(5);
  });

  it('reads the clock rarely when ticks are fast', () => {
    let reads = 0;
    const p = new Progress({ label: 'x', total: 1e6, stream: new FakeStream(true), clock: () => reads++ * 0.001 });
    for (let i = 0; i < 1e6; i++) p.tick();
    expect(reads).toBeLessThan(1000);
  });

  it('never writes a line wider than the terminal', () => {
    const stream = new FakeStream(true, 30);
    const p = new Progress({ label: 'a very long label for a narrow terminal', total: 10, stream, clock: manualClock().now });
    p.done();
    for (const c of stream.chunks) {
      const visible = c.replace('\r', '').replace('\x1b[K', '').replace('\n', '');
      expect(visible.length).toBeLessThan(30);
    }
  });

  it('shows a count without percentage or ETA when the total is unknown', () => {
    const stream = new FakeStream(true);
    const clock = manualClock();
    const p = new Progress({ label: 'trace', total: 0, stream, clock: clock.now });
    clock.advance(2000);
    p.tick(12_345);
    p.done();
    const line = stream.chunks.at(-2) ?? '';
    expect(line).toContain('12.3k');
    expect(line).not.toContain('%');
    expect(line).not.toContain('ETA');
  });

  it('does nothing after done()', () => {
    const stream = new FakeStream(true);
    const p = new Progress({ label: 'x', total: 10, stream, clock: manualClock().now });
    p.done();
    const n = stream.chunks.length;
    p.done();
    for (let i = 0; i < 1000; i++) p.tick();
    expect(stream.chunks.length).toBe(n);
  });
});

describe('formatClock', () => {
  it('formats m:ss and h:mm:ss', () => {
    expect(formatClock(65_000)).toBe('1:05');
    expect(formatClock(3_725_000)).toBe('1:02:05');
    expect(formatClock(Infinity)).toBe('--:--');
  });
});
