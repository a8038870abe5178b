// `fare cluster up --realtime`: every part (shard, worker, gateway) and the NATS server run under
// SCHED_RR above the functions, and no function gets real-time priority from them — a function's
// instance, started by a real-time worker, runs under SCHED_OTHER, so a tenant's code can never take
// a CPU from the parts (or from other tenants) by inheritance. Real processes, read from /proc.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partPriority } from '../src/core/kernel-priority.ts';
import { DEFAULT_PRICE_TABLE } from '../src/core/classes.ts';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp, type Cluster } from '../src/live/cluster/up.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';
import { threadScheduling } from '../src/live/runtime/priority.ts';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY } from '../support/fare-process.ts';

const nats = findNatsServer();
const skip = !nats.ok ? nats.why : process.getuid?.() !== 0 ? 'needs root (or CAP_SYS_NICE) to run the parts under SCHED_RR' : null;
if (skip !== null) process.stderr.write(`SKIPPED fare cluster up --realtime: ${skip}\n`);

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };
const PRIORITY = partPriority(DEFAULT_PRICE_TABLE.classes.length).priority;

/** Says the scheduling policy and real-time priority of every thread of the process it runs in. */
const PROBE = `const fs = require('node:fs');
exports.handler = async () => fs.readdirSync('/proc/self/task').map((t) => {
  const s = fs.readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { policy: Number(f[38]), rtPriority: Number(f[37]) };
});
`;

/** Policy (0 SCHED_OTHER, 2 SCHED_RR) and real-time priority of every thread of process `pid`. */
const threads = (pid: number): { policy: number; rtPriority: number }[] => readdirSync(`/proc/${pid}/task`).map((t) => threadScheduling(Number(t)));

describe.skipIf(skip !== null)('fare cluster up --realtime', () => {
  let dir = '';
  let cluster: Cluster;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-cluster-rt-'));
    cluster = await clusterUp({
      dataDir: dir, shards: 1, workers: 1, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1,
      insecureSingleTenant: !isolatesTenants(capabilities()), bin: BIN, env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY },
      stemCells: false, realtime: true,
    });
    const code = join(dir, 'probe');
    mkdirSync(code);
    writeFileSync(join(code, 'index.js'), PROBE);
    const put = await fetch(`${cluster.url}/v1/functions/probe?runtime=nodejs&handler=index.handler&class=high`, { method: 'PUT', headers: { ...AUTH, 'Content-Type': 'application/zip' }, body: zipDirectory(code) });
    expect(put.status, await put.text()).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every thread of the NATS server and of each part under SCHED_RR above the functions, and says so', () => {
    const pids = [...cluster.natsServers.map((s) => s.child.pid), ...cluster.parts.map((p) => p.child.pid)];
    expect(pids).toHaveLength(4);
    for (const pid of pids) {
      const ts = threads(pid as number);
      expect(ts.length).toBeGreaterThan(1);
      expect(ts.filter((t) => t.policy !== 2 || t.rtPriority !== PRIORITY), `process ${pid}`).toEqual([]);
    }
    for (const p of cluster.parts) expect(p.output(), p.name).toContain(`Scheduling: SCHED_RR ${PRIORITY} on `);
  });

  it('starts a function\'s instance under SCHED_OTHER: no function is real-time, whichever part started it', async () => {
    const r = await fetch(`${cluster.url}/2015-03-31/functions/probe/invocations`, { method: 'POST', headers: AUTH, body: '{}' });
    const text = await r.text();
    expect(r.status, text).toBe(200);
    const ts = JSON.parse(text) as { policy: number; rtPriority: number }[];
    expect(ts.length).toBeGreaterThan(1);
    // A top-class instance gets a nice value, never a real-time policy (without --strict-priorities).
    expect(ts.filter((t) => t.policy !== 0 || t.rtPriority !== 0)).toEqual([]);
  });
});
