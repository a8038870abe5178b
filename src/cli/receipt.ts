// `fare receipt ID`: an execution's scheduling receipt as text — its class and why, price and cost,
// when the gateway sent it, the shard that queued it, the machine that ran it with each wait (and
// which classes held its cores meanwhile), preemption and swap — and the tenant's check of it.

import type { Receipt, ReceiptVerdict } from '../core/receipt.ts';

export interface ReceiptAnswer {
  readonly receipt: Receipt;
  readonly verdict: ReceiptVerdict;
  readonly attempts: number;
}

const ms = (x: number | null): string => (x === null ? '—' : `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US')} ms`);
const plus = (x: number | null): string => (x === null ? 'not heard' : `+${ms(x)}`);

/** The receipt as lines of text, ending with the check's verdict. */
export function formatReceipt(a: ReceiptAnswer): string {
  const r = a.receipt;
  const name = (c: number): string => r.classes[c] ?? `class ${c}`;
  const why = r.class.why === 'own'
    ? 'its function\'s own class'
    : r.class.why === 'inherited'
      ? `inherited from its caller${r.class.caller !== undefined ? ` ${r.class.caller}` : ''} (its own: ${r.class.ownName})`
      : `lowered by its owner's budget (its own: ${r.class.ownName})`;
  const lines = [
    `Receipt of ${r.requestId} (${r.type}, attempt ${r.attempt}${a.attempts > 1 ? `; ${a.attempts} kept` : ''}): ${r.tenant}/${r.function} version ${r.functionVersion}, ${r.status}`,
    `Class    ${r.class.name}: ${why}; ${r.price.cpuPerSecond} µ¢ per CPU-second, ${r.price.memoryPerGBSecond} µ¢ per GB-second`,
    `Cost     ${r.cpuMs.toFixed(2)} CPU-ms, ${r.memGBs.toPrecision(3)} GB·s (peak ${Math.round(r.maxMemMB)} MB${r.coldStart ? ', cold start' : ''}): ${r.costMicroCents.toFixed(4)} µ¢`,
    `Gateway  ${r.gateway} accepted it at ${new Date(r.acceptedAt).toISOString()}${r.sentAt !== r.acceptedAt ? `, sent it at ${new Date(r.sentAt).toISOString()}` : ''}; started ${plus(r.startedMs)}, answered ${plus(r.answeredMs)}, done ${plus(r.doneMs)}`,
  ];
  const m = r.machine;
  if (m === null) {
    lines.push('Machine  its report was not received (the machine was lost, or the attempt failed before it ran)');
  } else {
    lines.push(`Shard    ${m.shard} placed it${m.placement !== null ? ` by ${m.placement}` : ''} after ${ms(m.shardWaitMs)} in its queue`);
    lines.push(`Machine  ${m.machine} (${m.cores} core${m.cores === 1 ? '' : 's'}) at ${new Date(m.placedAt).toISOString()}: started ${plus(m.startedMs)}, answered ${plus(m.answeredMs)}, done ${plus(m.doneMs)}${m.blockedMs > 0 ? `; ${ms(m.blockedMs)} waiting for its own calls` : ''}${(m.ioWaitMs ?? 0) > 0 ? `; ${ms(m.ioWaitMs ?? 0)} waiting on I/O, its core given up` : ''}`);
    for (const w of m.waits) {
      const ran = w.ran.length === 0 ? 'nothing' : w.ran.map((t) => `${name(t.cls)} ${t.coreMs.toFixed(2)} core-ms`).join(', ');
      lines.push(`  waited   ${ms(w.fromMs)} to ${ms(w.toMs)} (${w.after}); its cores ran: ${ran}`);
    }
    for (const p of m.preemptions) lines.push(`  preempted at ${ms(p.atMs)} for ${ms(p.forMs)}${p.byClass !== null ? ` by ${name(p.byClass)}` : ''}`);
    for (const s of m.swaps) lines.push(`  swapped ${s.dir} ${Math.round(s.mb)} MB at ${ms(s.atMs)}`);
    if (m.swapsLeftOut > 0) lines.push(`  … and ${m.swapsLeftOut} more swaps`);
  }
  const v = a.verdict;
  if (v.ok) {
    lines.push(`Check    OK: while it waited on machine ${m?.machine ?? '?'} (${ms(v.waitedOnMachineMs)}) no class below ${r.class.name} held a core there, and none preempted it`);
  } else {
    lines.push(`Check    FAILED:`);
    for (const f of v.findings) lines.push(`  ${f.message}`);
  }
  lines.push('         (what a receipt proves and what it cannot: docs/receipts.md)');
  return lines.join('\n');
}
