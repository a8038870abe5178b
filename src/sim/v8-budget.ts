// V8's inlining budget for the simulator's process. An event's work is a chain of small methods (an
// arrival: shard, polls, answers, machine, hardware; a completion: hardware, machine, event queue), and
// V8 inlines into one optimized function only up to a total bytecode size (its flag
// max-inlined-bytecode-size-cumulative, 920 bytes), which that chain exceeds: past it V8 calls instead
// of inlining, boxing the times it passes. Raised for this process, the paper-scale runs were 5-7 %
// faster (fifo, hermod and fare: the median of 6 pairs of processes each, under V8's --predictable);
// 2,000 to 4,000 all did, 8,000 less. Imported by the engine, so it is set before any of it is
// optimized. Process-wide: whatever else runs in the process may be inlined more too (the live system
// never imports the simulator). Where Node or V8 refuses the flag, nothing else changes.

import { setFlagsFromString } from 'node:v8';

/** The cumulative inlining budget set (bytes of bytecode). */
export const INLINING_BUDGET = 3000;

try {
  setFlagsFromString(`--max-inlined-bytecode-size-cumulative=${INLINING_BUDGET}`);
} catch {
  // A V8 that freezes its flags after start: the simulator runs as it would without.
}
