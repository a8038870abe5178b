// The worker on a thread of its own (`fare up --worker-thread`), started alone: a start that fails
// rejects with the thread's error (and nothing is thrown later), a started one answers a scrape with
// a fresh census and stops on request. The whole of `fare up --worker-thread` (calls, preemption,
// kill -9, graceful stop) is tested end to end in test/up.test.ts, fare-killed and graceful-stop.

import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { machineAddress, shardAddress, type Message } from '../../core/protocol.ts';
import { Metrics } from '../metrics.ts';
import { startWorkerThread, type ThreadInit } from './on-thread.ts';

const init = (cores: number): ThreadInit => ({
  cores, prices: DEFAULT_PRICE_TABLE, machine: 'priority', within: 'las', classAware: true, strictPriorities: false, canRaise: false,
  stemCells: false, region: 'us-east-1', swapping: false,
});

describe('startWorkerThread', () => {
  it('rejects with the error its thread hit while starting, and throws nothing afterwards', async () => {
    const uncaught: unknown[] = [];
    const note = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', note);
    try {
      const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
      await expect(startWorkerThread(init(0), () => {}, metrics, () => {})).rejects.toThrow(/cores must be a whole number ≥ 1, got 0/);
      await new Promise((r) => setTimeout(r, 300));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', note);
    }
  }, 30_000);

  it('reports its start-up, brings its census to each scrape, carries protocol messages both ways, and stops', async () => {
    const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
    const out: Message[] = [];
    const warnings: string[] = [];
    const t = await startWorkerThread(init(1), (m) => out.push(m), metrics, (w) => warnings.push(w));
    try {
      expect(t.report.join('\n')).toMatch(/runtime spawns: /);
      expect(t.report.join('\n')).toMatch(/memory: /);
      // The machine answers a shard's poll (a message that needs no instance): it crosses both ways.
      t.send({ kind: 'poll', from: shardAddress(0), to: machineAddress(0), poll: 7, job: 1 });
      await expect.poll(() => out.find((m) => m.kind === 'poll-answer'), { timeout: 5000 }).toMatchObject({ kind: 'poll-answer', poll: 7, from: machineAddress(0), to: shardAddress(0), jobs: 0 });
      // A scrape asks the thread for its census first (none of its instances: no rows, but no wait either).
      const t0 = performance.now();
      expect(await metrics.text()).toMatch(/# TYPE fare_instances gauge/);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      await t.stop();
    }
    expect(warnings).toEqual([]);
    // Stopped: a scrape no longer waits for it.
    const t1 = performance.now();
    await metrics.text();
    expect(performance.now() - t1).toBeLessThan(500);
  }, 30_000);
});
