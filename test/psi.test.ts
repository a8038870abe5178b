// The worker's PSI trigger on /proc/pressure/memory (src/live/worker/psi.ts), caused for real: a
// process filling 400 MB in a memory cgroup of 64 MB (v1), with a swap file this test makes (root),
// stalls on reclaim; the trigger must fire while it does (it may also fire before, when other tests
// running at the same time stall on memory: not asserted).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStall, watchMemoryStalls } from '../src/live/worker/psi.ts';
import { makeSwapFile, whyNoSwapFile, type SwapFile } from '../support/swapfile.ts';

const MEMCG = '/sys/fs/cgroup/memory';
const why = !existsSync('/proc/pressure/memory') ? 'no PSI in this kernel (/proc/pressure/memory)'
  : !existsSync(`${MEMCG}/memory.limit_in_bytes`) ? 'no cgroup v1 memory controller to cause reclaim in'
  : whyNoSwapFile();
if (why !== undefined) process.stderr.write(`SKIPPED PSI trigger test: ${why}\n`);

describe.skipIf(why !== undefined)('the memory pressure trigger (PSI)', () => {
  let swap: SwapFile | undefined;
  const cg = `${MEMCG}/fare-psi-test-${process.pid}`;

  beforeAll(() => {
    swap = makeSwapFile(1024);
    mkdirSync(cg);
    writeFileSync(`${cg}/memory.limit_in_bytes`, String(64 * 1024 * 1024));
  });

  afterAll(() => {
    spawnSync('sh', ['-c', `for p in $(cat ${cg}/cgroup.procs 2>/dev/null); do kill -9 $p; done`]);
    for (let i = 0; i < 50 && existsSync(cg); i++) {
      try {
        rmdirSync(cg);
      } catch {
        spawnSync('sleep', ['0.1']);
      }
    }
    swap?.remove();
  });

  it('reads the share of time stalled on memory', () => {
    const s = memoryStall();
    expect(s).toBeGreaterThanOrEqual(0);
    expect(s).toBeLessThanOrEqual(1);
  });

  it('fires when a process stalls on reclaim, and stops when asked', async () => {
    let fired = 0;
    const watch = await watchMemoryStalls(() => fired++, 100, 2000);
    if (!('stop' in watch)) throw new Error(`no trigger: ${watch.why}`);
    await new Promise((r) => setTimeout(r, 1500));
    const quiet = fired;
    // 400 MB touched again and again within 64 MB of memory: the rest goes to swap and comes back.
    const hog = spawn('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${process.execPath} -e "const b = []; for (let i = 0; i < 400; i++) b.push(Buffer.alloc(1 << 20, i)); for (let r = 0; r < 20; r++) for (const x of b) x[r * 4096 % x.length]++;"`], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (fired === quiet && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    hog.kill('SIGKILL');
    watch.stop();
    // Its thread ends within a poll's timeout, and the trigger is closed.
    await watch.closed;
    expect(fired).toBeGreaterThan(quiet);
    process.stderr.write(`psi: the trigger fired ${fired - quiet} time(s) while a process reclaimed in 64 MB\n`);
  }, 30_000);
});
