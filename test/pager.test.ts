// The pager against the real kernel, on a swap file this test makes (root): a process holding 256 MiB
// is frozen, paged out (its memory leaves RAM for swap), paged back in (read into the swap cache
// before it runs), thawed, and finds its data intact.

import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPager, processMemory, swapCachedBytes, type Pager } from '../src/live/runtime/pager.ts';
import { lineReader } from '../support/lines.ts';
import { makeSwapFile, whyNoSwapFile, type SwapFile } from '../support/swapfile.ts';

const MiB = 1024 * 1024;

const why = whyNoSwapFile();
if (why !== undefined) process.stderr.write(`SKIPPED pager tests: ${why}\n`);

/** A process that fills `mb` MiB with a pattern, then on each line of input prints its checksum. */
const HOLDER = `
const mb = Number(process.argv[1]);
const bufs = [];
const seed = Buffer.alloc(1 << 20);
for (let i = 0; i < seed.length; i++) seed[i] = (i * 2654435761) >>> 24;
for (let i = 0; i < mb; i++) { const b = Buffer.allocUnsafeSlow(1 << 20); seed.copy(b); b[0] = i & 255; bufs.push(b); }
const sum = () => { let s = 0; for (const b of bufs) for (let i = 0; i < b.length; i += 4096) s = (s + b[i] * 31 + i) >>> 0; return s; };
process.stdout.write('ready ' + sum() + '\\n');
process.stdin.on('data', () => process.stdout.write('sum ' + sum() + '\\n'));
// Kept hot until frozen, so that no proactive reclaim of the kernel's (e.g. DAMON) pages it out first.
setInterval(sum, 20);
`;

describe.skipIf(why !== undefined)('pager (process_madvise) on a swap file', () => {
  let swap: SwapFile | undefined;
  let pager: Pager;
  let skipReason: string | undefined;

  beforeAll(async () => {
    const p = await openPager();
    if (!p.ok) {
      skipReason = p.why;
      return;
    }
    pager = p.pager;
    try {
      swap = makeSwapFile(768);
    } catch (e) {
      skipReason = `no swap file: ${(e as Error).message}`;
    }
  }, 60_000);

  afterAll(() => swap?.remove(), 120_000);

  const start = async (mb: number): Promise<{ child: ChildProcess; sum: string; next: () => Promise<string> }> => {
    const child = spawn(process.execPath, ['-e', HOLDER, String(mb)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const next = lineReader(child.stdout);
    const first = await next();
    return { child, sum: first.split(' ')[1] as string, next };
  };

  it('pages a frozen process out to swap and back in, and its memory is intact', async (ctx) => {
    if (skipReason !== undefined) {
      process.stderr.write(`SKIPPED pager test: ${skipReason}\n`);
      ctx.skip();
      return;
    }
    const { child, sum, next } = await start(256);
    const pid = child.pid as number;
    try {
      expect(processMemory(pid)?.rss ?? 0).toBeGreaterThan(200 * MiB);
      process.kill(pid, 'SIGSTOP');
      const out = await pager.pageOut([pid]);
      expect(out.skipped).toEqual([]);
      // Its memory left RAM for swap.
      expect(out.swapAfter, JSON.stringify(out)).toBeGreaterThan(200 * MiB);
      expect(out.rssAfter, JSON.stringify(out)).toBeLessThan(100 * MiB);
      const back = await pager.pageIn([pid]);
      // Read back into the swap cache (mapped again at its first touch, without a disk read).
      let cached = swapCachedBytes();
      for (let i = 0; i < 50 && cached < 150 * MiB; i++) {
        await new Promise((r) => setTimeout(r, 20));
        cached = swapCachedBytes();
      }
      expect(cached, JSON.stringify(back)).toBeGreaterThan(150 * MiB);
      process.stderr.write(`pager: out ${(out.swapAfter - out.swapBefore) / MiB | 0} MiB in ${out.ms.toFixed(0)} ms, back in ${back.ms.toFixed(0)} ms\n`);
      process.kill(pid, 'SIGCONT');
      child.stdin?.write('check\n');
      expect(await next()).toBe(`sum ${sum}`);
      const after = processMemory(pid);
      expect(after?.rss ?? 0).toBeGreaterThan(200 * MiB);
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);

  it('pages on a thread of its own at nice −10 (above the top class), where it may raise itself', () => {
    if (skipReason !== undefined) return;
    expect(pager.how).toMatch(/paging thread at nice −10/);
    if (process.getuid?.() !== 0) return; // without CAP_SYS_NICE it pages at this process's own nice value
    const nices = readdirSync('/proc/self/task').map((t) => {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });
    expect(nices).toContain(-10);
  });

  it('a process that is gone is skipped, not an error', async () => {
    if (skipReason !== undefined) return;
    const r = await pager.pageOut([2 ** 22 + 12345]);
    expect(r.skipped).toEqual([2 ** 22 + 12345]);
    expect(r.advisedBytes).toBe(0);
  });
});
