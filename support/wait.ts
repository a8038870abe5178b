// Waiting in end-to-end tests: for a condition that another process makes true, and for a child
// process's exit, each bounded and saying what it waited for when it gives up.

import type { ChildProcess } from 'node:child_process';

/** Polls `ok` every 50 ms until it holds; fails after `withinMs` saying `what` was waited for. */
export async function eventually(what: string, ok: () => boolean | Promise<boolean>, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The child's exit code, or null if it had not exited within `withinMs` (it is then killed). */
export function exitCodeWithin(child: ChildProcess, withinMs: number): Promise<number | null> {
  return new Promise((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(null);
    }, withinMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}
