// Terminal progress bar with rate and ETA for long simulator runs. Drawn only on a TTY, at most ~10 times
// a second, so CI logs and output files are unaffected. Cheap enough to call once per simulated event:
// `tick()` is an add and a countdown; the wall clock is read only every `stride` calls, and the stride
// adapts so the clock is read about every 10–40 ms whatever the event rate.

import { formatCompact } from './number-format.ts';

/** The part of a `tty.WriteStream` the bar needs; a plain object works in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressOptions {
  readonly label: string;
  /** Units of work in the whole run (events, jobs, virtual ms); 0 or less: unknown, no percentage or ETA. */
  readonly total: number;
  /** Default `process.stderr`. */
  readonly stream?: ProgressStream;
  /** Shown after the rate, e.g. `events` → `350k events/s`. */
  readonly unit?: string;
  /** Wall clock in ms; default `performance.now`. Tests inject a fake. */
  readonly clock?: () => number;
  /** Minimum ms between redraws; default 100. */
  readonly intervalMs?: number;
}

const MAX_STRIDE = 1 << 20;
/** Countdown while disabled: a small integer (a double field would make every tick ~3× slower in V8). */
const IDLE_COUNTDOWN = 0x3fffffff;

export class Progress {
  private readonly label: string;
  private readonly total: number;
  private readonly stream: ProgressStream;
  private readonly unit: string;
  private readonly clock: () => number;
  private readonly intervalMs: number;
  private readonly start: number;
  private enabled: boolean;
  private count = 0;
  private countdown: number;
  private stride = 16;
  private lastPoll: number;
  private lastDraw = -Infinity;

  constructor(options: ProgressOptions) {
    this.label = options.label;
    this.total = options.total;
    this.stream = options.stream ?? process.stderr;
    this.unit = options.unit ?? '';
    this.clock = options.clock ?? (() => performance.now());
    this.intervalMs = options.intervalMs ?? 100;
    this.enabled = this.stream.isTTY === true;
    this.start = this.enabled ? this.clock() : 0;
    this.lastPoll = this.start;
    this.countdown = this.enabled ? this.stride : IDLE_COUNTDOWN;
    if (this.enabled) this.draw(this.start);
  }

  /** Work done so far. */
  get value(): number {
    return this.count;
  }

  /** Adds `n` units of work done. */
  tick(n = 1): void {
    this.count += n;
    if (--this.countdown <= 0) this.poll();
  }

  /** Sets the work done so far (e.g. the virtual time reached). */
  update(done: number): void {
    this.count = done;
    if (--this.countdown <= 0) this.poll();
  }

  /** Draws the final state and ends the line. Later calls do nothing. */
  done(): void {
    if (!this.enabled) return;
    this.draw(this.clock());
    this.stream.write('\n');
    this.enabled = false;
    this.countdown = IDLE_COUNTDOWN;
  }

  private poll(): void {
    if (!this.enabled) {
      this.countdown = IDLE_COUNTDOWN;
      return;
    }
    const now = this.clock();
    const sincePoll = now - this.lastPoll;
    this.lastPoll = now;
    if (sincePoll < this.intervalMs / 10) this.stride = Math.min(MAX_STRIDE, this.stride * 2);
    else if (sincePoll > (this.intervalMs * 4) / 10 && this.stride > 1) this.stride = Math.max(1, this.stride >> 1);
    this.countdown = this.stride;
    if (now - this.lastDraw >= this.intervalMs) this.draw(now);
  }

  private draw(now: number): void {
    this.lastDraw = now;
    this.stream.write(`\r${this.render(now)}\x1b[K`);
  }

  /** The bar line at wall time `now`, fitted to the terminal width; the bar keeps one width all run long. */
  render(now: number): string {
    const elapsedMs = Math.max(0, now - this.start);
    const rate = elapsedMs > 0 ? (this.count * 1000) / elapsedMs : 0;
    const unit = this.unit ? ` ${this.unit}` : '';
    const known = this.total > 0;
    const fraction = known ? Math.min(1, Math.max(0, this.count / this.total)) : 0;
    const pct = known ? `${String(Math.floor(fraction * 100)).padStart(3)}%` : '';
    const counts = known ? `${formatCompact(this.count)}/${formatCompact(this.total)}` : formatCompact(this.count);
    const eta = known && rate > 0 ? formatClock(((this.total - Math.min(this.count, this.total)) / rate) * 1000) : '--:--';
    const tail = `${counts}  ${formatCompact(Number(rate.toPrecision(3)))}${unit}/s  ${formatClock(elapsedMs)}${known ? ` ETA ${eta}` : ''}`;
    const columns = this.stream.columns ?? 80;
    const head = `${this.label} ${pct}`;
    // Room left once the widest tail of this run is reserved: counts, rate, elapsed and ETA.
    const tailBudget = 2 * formatCompact(this.total).length + 1 + 2 + 6 + unit.length + 2 + 2 + 16;
    const barWidth = known ? Math.min(30, columns - 1 - head.length - 4 - tailBudget) : 0;
    const line = barWidth >= 10 ? `${head} [${bar(fraction, barWidth)}] ${tail}` : `${head} ${tail}`;
    return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 1)) : line;
  }
}

function bar(fraction: number, width: number): string {
  const full = Math.floor(fraction * width);
  if (full >= width) return '='.repeat(width);
  return `${'='.repeat(full)}>${' '.repeat(width - full - 1)}`;
}

/** `m:ss` or `h:mm:ss`. */
export function formatClock(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--:--';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
