// A timeout that stops counting while its instance is frozen: time spent preempted is not the
// function's, so neither the init limit nor the invocation timeout runs during it.

import { performance } from 'node:perf_hooks';

export class PausableTimer {
  private handle: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private remaining: number;
  private done = false;

  constructor(
    ms: number,
    private readonly fire: () => void,
  ) {
    this.remaining = ms;
    this.resume();
  }

  pause(): void {
    if (this.handle === null) return;
    clearTimeout(this.handle);
    this.handle = null;
    this.remaining -= performance.now() - this.startedAt;
  }

  resume(): void {
    if (this.handle !== null || this.done) return;
    this.startedAt = performance.now();
    this.handle = setTimeout(() => {
      this.handle = null;
      this.done = true;
      this.fire();
    }, Math.max(0, this.remaining));
  }

  cancel(): void {
    this.done = true;
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
  }
}
