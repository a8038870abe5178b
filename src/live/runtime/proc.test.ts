// What /proc says of a process's state: sleeping on I/O or not (for the worker's I/O waits).

import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { allSleeping } from './proc.ts';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) c.kill('SIGKILL');
});

function start(code: string): Promise<number> {
  const c = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(c);
  return new Promise((resolve) => c.stdout?.once('data', () => resolve(c.pid as number)));
}

describe('allSleeping', () => {
  it('is true for a process that awaits a timer, false once one beside it computes, undefined for none', async () => {
    const sleeper = await start(`process.stdout.write('up\\n'); setTimeout(() => {}, 60_000);`);
    const busy = await start(`process.stdout.write('up\\n'); for (;;) {}`);
    // A state is a sample: the sleeper may be caught waking (rarely); a few tries.
    let sleeping: boolean | undefined = false;
    for (let i = 0; i < 20 && sleeping !== true; i++) {
      await new Promise((r) => setTimeout(r, 20));
      sleeping = allSleeping([sleeper]);
    }
    expect(sleeping).toBe(true);
    // The busy loop is running or waiting for a core: R, never asleep.
    expect(allSleeping([sleeper, busy])).toBe(false);
    expect(allSleeping([])).toBeUndefined();
    expect(allSleeping([2 ** 22 + 12345])).toBeUndefined();
  });
});
