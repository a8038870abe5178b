// One step loop per live component: inputs (messages from the Bus, and what the component's own
// driver learns, such as a completion) go into an inbox that one loop drains, stepping the core
// object one input at a time — so the core is never stepped from inside the carrying out of its
// own decisions. After each run the loop arms one timer at the core's `nextDeadline()`, which
// steps it with `tick`.

import type { Millis } from '../../core/types.ts';
import type { Clock } from './clock.ts';

export class StepLoop<I> {
  private readonly inbox: I[] = [];
  private running = false;
  private timerAt = Infinity;
  private cancel: () => void = () => {};

  constructor(
    private readonly clock: Clock,
    /** Steps the core object with one input and carries out its decisions (it may `push` more). */
    private readonly stepOne: (now: Millis, input: I) => void,
    private readonly deadline: () => Millis,
    private readonly tick: I,
    /** Called when the inbox is empty, before the loop ends: it may push a last input (e.g. a fresh reading). */
    private readonly idle?: () => I | undefined,
  ) {}

  /** Adds an input; runs the loop now unless it is running (then it is stepped in turn). */
  push(input: I): void {
    this.inbox.push(input);
    if (this.running) return;
    this.running = true;
    try {
      for (let x = this.inbox.shift() ?? this.idle?.(); x !== undefined; x = this.inbox.shift() ?? this.idle?.()) this.stepOne(this.clock.now(), x);
    } finally {
      this.running = false;
    }
    this.arm();
  }

  /** Cancels the deadline timer (the component is closing). */
  stop(): void {
    this.cancel();
    this.timerAt = Infinity;
  }

  private arm(): void {
    const d = this.deadline();
    if (d === this.timerAt) return;
    this.cancel();
    this.timerAt = d;
    if (d === Infinity) {
      this.cancel = () => {};
      return;
    }
    this.cancel = this.clock.at(d, () => {
      this.timerAt = Infinity;
      this.push(this.tick);
    });
  }
}
