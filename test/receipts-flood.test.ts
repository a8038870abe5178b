// End-to-end: scheduling receipts under a flood. A real `fare up` runs thousands of high-class
// page views while low-class image resizes and middle-class profile views keep its cores busy; then
// every receipt is fetched and checked as a tenant would check it, from the receipt alone: no class
// below the invocation's own held a core of its machine while it waited there, and none preempted it.
// The receipts are not blind: they show the high class waiting behind its own class, and the low
// class preempted by the high one and waiting while higher classes ran. `fare receipt ID` prints one.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Receipt, ReceiptVerdict } from '../src/core/receipt.ts';
import { ADMIN_KEY, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const dirs: string[] = [];
const fares: FareProcess[] = [];
afterAll(async () => {
  for (const f of fares) await stopFare(f);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const HIGH_CALLS = 2000;

async function invoke(url: string, fn: string, payload: unknown): Promise<string> {
  const r = await fetch(`${url}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify(payload) });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${fn}: ${r.status}`);
  return r.headers.get('x-amzn-requestid') ?? '';
}

/** `n` calls of `one`, `width` at a time. */
async function pool<T>(n: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await one(i);
    }
  }));
  return out;
}

describe('scheduling receipts under a flood', () => {
  it('every one of thousands of receipts passes the check; the low and middle classes show what ran ahead of them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-receipts-'));
    dirs.push(dir);
    const fare = await startFare(join(dir, 'fare'));
    fares.push(fare);

    // The flood: low-class resizes and middle-class profile views, always in flight, until the page views are done.
    let flooding = true;
    const flood: { fn: string; ids: string[] }[] = [{ fn: 'image-resize', ids: [] }, { fn: 'profile-view', ids: [] }];
    const flooders = [
      ...Array.from({ length: 6 }, async () => { while (flooding) flood[0]?.ids.push(await invoke(fare.url, 'image-resize', { width: 512 })); }),
      ...Array.from({ length: 2 }, async () => { while (flooding) flood[1]?.ids.push(await invoke(fare.url, 'profile-view', { user: 'u' })); }),
    ];
    const high = await pool(HIGH_CALLS, 4, (i) => invoke(fare.url, 'page-view', { user: `u${i}` }));
    flooding = false;
    await Promise.all(flooders);
    const low = flood[0]?.ids ?? [];
    const middle = flood[1]?.ids ?? [];
    expect(low.length).toBeGreaterThan(5);
    expect(middle.length).toBeGreaterThan(2);

    const fetchReceipt = async (id: string): Promise<{ receipt: Receipt; verdict: ReceiptVerdict }> => {
      const r = await fetch(`${fare.url}/v1/invocations/${id}/receipt`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
      expect(r.status, id).toBe(200);
      return (await r.json()) as { receipt: Receipt; verdict: ReceiptVerdict };
    };
    const highR = await pool(high.length, 8, (i) => fetchReceipt(high[i] as string));
    const middleR = await pool(middle.length, 8, (i) => fetchReceipt(middle[i] as string));
    const lowR = await pool(low.length, 8, (i) => fetchReceipt(low[i] as string));

    // The check, from each receipt alone.
    const failed = [...highR, ...middleR, ...lowR].filter((x) => !x.verdict.ok);
    expect(failed.map((x) => `${x.receipt.function} ${x.receipt.requestId}: ${x.verdict.findings.map((f) => f.message).join('; ')}`)).toEqual([]);
    for (const x of highR) {
      expect(x.receipt.class).toMatchObject({ name: 'high', index: 0, why: 'own' });
      expect(x.receipt.machine).not.toBeNull();
      expect(x.verdict.lowerClassCoreMs).toBe(0);
    }

    // Not blind: page views waited behind page views (their own class held the cores meanwhile)…
    const coreMs = (rs: typeof highR, cls: number): number => rs.reduce((s, x) => s + (x.receipt.machine?.waits ?? []).reduce((t, w) => t + w.ran.filter((c) => c.cls === cls).reduce((u, c) => u + c.coreMs, 0), 0), 0);
    expect(highR.filter((x) => (x.receipt.machine?.waits.length ?? 0) > 0).length).toBeGreaterThan(0);
    expect(coreMs(highR, 0)).toBeGreaterThan(0);
    // …the low class was preempted by the high class, and waited while higher classes ran…
    const preemptedByHigh = lowR.filter((x) => x.receipt.machine?.preemptions.some((p) => p.byClass === 0));
    expect(preemptedByHigh.length).toBeGreaterThan(0);
    expect(coreMs(lowR, 0)).toBeGreaterThan(0);
    // …and a low-class receipt claimed by a high-class job would fail the check (the low class's
    // waits show the middle or the low class holding cores).
    expect(coreMs(lowR, 1) + coreMs(lowR, 2)).toBeGreaterThan(0);

    // `fare receipt ID`: the receipt as text with the check's verdict.
    const bin = join(import.meta.dirname, '..', 'bin', 'fare.js');
    const r = spawnSync(process.execPath, [bin, 'receipt', preemptedByHigh[0]?.receipt.requestId ?? ''], { encoding: 'utf8', env: { ...process.env, FARE_ENDPOINT: fare.url, FARE_KEY: ADMIN_KEY }, timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Receipt of \S+ \(sync, attempt 1\): admin\/image-resize/);
    expect(r.stdout).toMatch(/preempted at .* by high/);
    expect(r.stdout).toMatch(/Check {4}OK: while it waited on machine 0/);
  }, 300_000);
});
