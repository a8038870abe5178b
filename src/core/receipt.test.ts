// The tenant's check of a receipt, and the per-class core-time ledger the machine's driver fills receipts from.

import { describe, expect, it } from 'vitest';
import { checkReceipt, CoreLedger, heldCoreMs, type MachineReceipt, type Receipt } from './receipt.ts';

const machine = (over: Partial<MachineReceipt> = {}): MachineReceipt => ({
  machine: 0, cores: 2, shard: 0, placement: 'power-of-k', shardWaitMs: 0, placedAt: 0, startedMs: 5, answeredMs: 6, doneMs: 7,
  waits: [], preemptions: [], swaps: [], swapsLeftOut: 0, blockedMs: 0, ...over,
});
const receipt = (cls: number, m: MachineReceipt | null): Receipt => ({
  v: 1, requestId: 'r', attempt: 1, type: 'sync', tenant: 't', function: 'f', functionVersion: 1, status: 'ok',
  class: { index: cls, name: `c${cls}`, ownIndex: cls, ownName: `c${cls}`, why: 'own' },
  classes: ['c0', 'c1', 'c2'], gateway: 0, acceptedAt: 0, sentAt: 0, startedMs: 5, answeredMs: 6, doneMs: 7, machine: m,
  price: { cpuPerSecond: 1, memoryPerGBSecond: 0 }, cpuMs: 1, memGBs: 0, maxMemMB: 1, coldStart: false, costMicroCents: 0,
});

describe('checkReceipt', () => {
  it('passes a receipt whose waits saw only its own class and higher ones', () => {
    const v = checkReceipt(receipt(1, machine({ waits: [{ fromMs: 0, toMs: 5, after: 'placed', ran: [{ cls: 0, coreMs: 6 }, { cls: 1, coreMs: 4 }] }] })));
    expect(v).toEqual({ ok: true, waitedOnMachineMs: 5, lowerClassCoreMs: 0, findings: [] });
  });

  it('names a lower class that held a core while the job waited, and a preemption by a lower class', () => {
    const v = checkReceipt(receipt(0, machine({
      waits: [{ fromMs: 0, toMs: 5, after: 'placed', ran: [{ cls: 0, coreMs: 5 }, { cls: 2, coreMs: 1.5 }] }],
      preemptions: [{ atMs: 6, forMs: 1, byClass: 1 }],
    })));
    expect(v.ok).toBe(false);
    expect(v.lowerClassCoreMs).toBe(1.5);
    expect(v.findings.map((f) => f.kind)).toEqual(['lower-class-ran', 'preempted-by-lower-class']);
    expect(v.findings[0]?.message).toMatch(/class 2 ran 1\.500 core-ms on machine 0 while this job \(class 0\) waited/);
  });

  it('finds a receipt that contradicts itself (more core time than the cores can give), and one without the machine\'s report', () => {
    expect(checkReceipt(receipt(0, machine({ waits: [{ fromMs: 0, toMs: 1, after: 'placed', ran: [{ cls: 0, coreMs: 3 }] }] }))).findings.map((f) => f.kind)).toEqual(['inconsistent']);
    expect(checkReceipt(receipt(0, null))).toMatchObject({ ok: false, findings: [{ kind: 'no-machine-report' }] });
  });
});

describe('CoreLedger', () => {
  it('integrates cores held per class; a snapshot tells what each class got since', () => {
    const l = new CoreLedger(3);
    l.advance(0);
    l.change(2, 1);
    l.change(0, 1);
    l.advance(10);
    const snap = l.snapshot();
    l.change(2, -1);
    l.change(1, 1);
    l.advance(15);
    l.advance(12); // time never runs back
    expect(l.since(snap)).toEqual([{ cls: 0, coreMs: 5 }, { cls: 1, coreMs: 5 }]);
    expect(l.onCores(2)).toBe(0);
  });
});

describe('heldCoreMs', () => {
  it('start to answer, less the waits after it started and the time blocked on its own calls; undefined if it never started', () => {
    expect(heldCoreMs(machine({ startedMs: 5, answeredMs: 30, doneMs: 31, blockedMs: 4, waits: [
      { fromMs: 0, toMs: 5, after: 'placed', ran: [] },
      { fromMs: 10, toMs: 16, after: 'preempted', ran: [] },
      { fromMs: 29, toMs: 40, after: 'unblocked', ran: [] },
    ] }))).toBe(30 - 5 - 6 - 1 - 4);
    expect(heldCoreMs(machine({ startedMs: 2, answeredMs: null, doneMs: 9 }))).toBe(7);
    expect(heldCoreMs(machine({ startedMs: null }))).toBeUndefined();
  });
});
