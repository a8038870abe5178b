// What the dashboard shows at one moment, for one viewer: the platform's aggregates (per-class
// latency and throughput, queues per shard and class, machines' instances, idle lists), which reveal
// no tenant's data and are shown to every viewer, and the tenant-owned parts (spend against budget,
// recent invocations with their receipts), which an administrator sees for every tenant and a tenant
// for itself only. Built from the process's `Metrics` (`parts()`), the dashboard's `ClassSeries`
// and the store.

import { checkReceipt } from '../../../core/receipt.ts';
import type { PriceTable } from '../../../core/classes.ts';
import type { Metrics } from '../../metrics.ts';
import type { LogEntry, Store } from '../../store/index.ts';
import { monthOf } from '../../store/index.ts';
import type { Principal } from '../auth.ts';
import type { DASHBOARD_SNAPSHOT } from '../rest-dashboard.ts';
import type { z } from '../schema.ts';
import type { ClassSeries } from './series.ts';

/** Seconds summed in the per-class table (the charts show the whole series). */
export const RECENT_SECONDS = 60;
/** Recent invocations shown. */
export const RECENT_INVOCATIONS = 20;

/** Why a panel has no numbers: said on the page instead of showing zeros. */
export const NOT_REPORTED = 'not reported by this process (cluster gateway): scrape the shards and workers with Prometheus';

export interface DashboardSources {
  readonly store: Store;
  readonly prices: PriceTable;
  readonly metrics?: Metrics;
  readonly series?: ClassSeries;
}

/** A snapshot, as `GET /v1/dashboard` answers it (its schema: `DASHBOARD_SNAPSHOT`). */
export type Snapshot = z.input<typeof DASHBOARD_SNAPSHOT>;
export type RecentRow = Snapshot['recent']['entries'][number];

export function buildSnapshot(src: DashboardSources, viewer: Principal, nowMs: number, intervalMs: number): Snapshot {
  return {
    at: new Date(nowMs).toISOString(),
    viewer: { tenant: viewer.tenant, admin: viewer.admin },
    intervalMs,
    ...platformParts(src, nowMs),
    spend: spendPart(src.store, viewer, nowMs),
    recent: { entries: recentEntries(src.store, viewer, RECENT_INVOCATIONS).map(recentRow) },
  };
}

/** The aggregates every viewer sees: they are by class, shard and machine, never by tenant. */
export function platformParts(src: DashboardSources, nowMs: number): Pick<Snapshot, 'latency' | 'queues' | 'machines' | 'idle'> {
  const names = src.prices.classes.map((c) => c.name);
  const series = src.series;
  const latency: Snapshot['latency'] = series === undefined
    ? { reported: false, note: 'this gateway keeps no metrics', fromMs: nowMs, seconds: 0, recentSeconds: RECENT_SECONDS, classes: [] }
    : (() => {
      const w = series.window(nowMs);
      const recent = series.recent(nowMs, RECENT_SECONDS);
      const answered = series.answered();
      return {
        reported: true, fromMs: w.fromMs, seconds: w.seconds, recentSeconds: RECENT_SECONDS,
        classes: src.prices.classes.map((c, i) => ({
          name: c.name, price: c.price, answered: answered[i] ?? 0,
          recent: recent[i] ?? { count: 0, perSecond: 0, p50Ms: null, p99Ms: null },
          series: w.classes[i] ?? { count: [], p50Ms: [], p99Ms: [] },
        })),
      };
    })();
  const parts = src.metrics?.parts();
  const shards = parts?.shards ?? [];
  const workers = parts?.workers ?? [];
  const none = (what: string): { reported: false; note: string } => ({ reported: false, note: src.metrics === undefined ? 'this gateway keeps no metrics' : `${what} ${NOT_REPORTED}` });
  const queues: Snapshot['queues'] = shards.length === 0
    ? { ...none('queues:'), classes: names, shards: [] }
    : { reported: true, classes: names, shards: shards.map((s) => ({ id: s.id, queued: [...s.queued] })) };
  const idle: Snapshot['idle'] = shards.length === 0
    ? { ...none('idle lists:'), shards: [] }
    : { reported: true, shards: shards.map((s) => ({ id: s.id, keepsIdleList: s.idle !== null, entries: (s.idle ?? []).map((e) => ({ machine: e.machine, freeBytes: e.freeMB * 1024 * 1024, jobs: e.jobs })) })) };
  const machines: Snapshot['machines'] = workers.length === 0
    ? { ...none('machines:'), workers: [] }
    : {
      reported: true,
      workers: workers.map((w) => ({
        machine: w.machine,
        instances: names.map((cls) => {
          const row = { cls, running: 0, frozen: 0, idle: 0, swapped: 0, residentBytes: 0, swappedBytes: 0 };
          for (const r of w.instances) {
            if (r.cls !== cls) continue;
            row[r.state] += r.count;
            row.residentBytes += r.residentBytes;
            row.swappedBytes += r.swappedBytes;
          }
          return row;
        }),
      })),
    };
  return { latency, queues, machines, idle };
}

/** Spend this month against budget: every tenant's for an administrator, the viewer's own otherwise. */
export function spendPart(store: Store, viewer: Principal, nowMs: number): Snapshot['spend'] {
  const month = monthOf(nowMs);
  const tenants = viewer.admin ? store.tenants.list() : [store.tenants.get(viewer.tenant)].filter((t) => t !== undefined);
  return {
    month,
    tenants: tenants.map((t) => {
      const spent = store.billing.tenantMonth(t.id, month).costMicroCents;
      const budget = t.budgetMicroCents;
      return { tenant: t.id, spentMicroCents: spent, budgetMicroCents: budget, fraction: budget === null || budget <= 0 ? null : spent / budget };
    }),
  };
}

/**
 * The newest executions, newest first: of every tenant's functions for an administrator, of the
 * viewer's own functions otherwise (an invocation is its function owner's data).
 */
export function recentEntries(store: Store, viewer: Principal, limit: number): readonly LogEntry[] {
  return store.logs.recent(viewer.admin ? { limit } : { tenant: viewer.tenant, limit });
}

function recentRow(e: LogEntry): RecentRow {
  const r = e.receipt;
  let receipt: RecentRow['receipt'] = null;
  if (r !== undefined) {
    const verdict = checkReceipt(r);
    receipt = { waitedMs: r.startedMs, latencyMs: r.answeredMs ?? r.doneMs, preemptions: r.machine?.preemptions.length ?? 0, ioWaitMs: r.machine?.ioWaitMs ?? 0, ok: verdict.ok, findings: verdict.findings.map((f) => f.kind) };
  }
  return {
    requestId: e.requestId,
    time: new Date(e.at).toISOString(),
    tenant: e.tenant,
    function: e.function,
    cls: e.cls,
    type: e.type,
    attempt: e.attempt,
    status: e.status,
    ...(e.errorType !== undefined ? { errorType: e.errorType } : {}),
    durationMs: e.durationMs,
    costMicroCents: e.costMicroCents,
    receipt,
    receiptUrl: `/v1/invocations/${encodeURIComponent(e.requestId)}/receipt`,
  };
}
