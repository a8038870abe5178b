// Stem cells on a real `fare up` (src/live/runtime/stem-cells.ts): a function's first call is served
// by a runtime started ahead, answers as a launched one does, and the instance born of it keeps every
// isolation property an instance has — its own uid, its own cgroups (named as any instance's), no way
// into another tenant's code — and a stem cell serves one function of one tenant only.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities } from '../src/live/runtime/capabilities.ts';
import { ADMIN_KEY, api, startFare, stopFare } from '../support/fare-process.ts';
import { instanceIds, run, skipReason, startBench, zipOf, type Bench, type Tenant } from './security/harness.ts';

const skip = skipReason('the stem cell tests');
/** The probe functions: security/functions/stem-probe (Node.js) and stem-probe-py. */
const probe = (runtime: 'nodejs' | 'python'): string => zipOf(runtime === 'nodejs' ? 'stem-probe' : 'stem-probe-py').toString('base64');

async function deploy(b: Bench, t: Tenant, name: string, runtime: 'nodejs' | 'python', env: Record<string, string> = {}): Promise<void> {
  const cfg = { runtime, handler: runtime === 'nodejs' ? 'index.handler' : 'handler.handler', zipBase64: probe(runtime) };
  const r = await api(b.fare.url, 'PUT', `/v1/functions/${name}`, { class: 'standard', timeoutMs: 30_000, env: { GREETING: `hello from ${name}`, ...env }, ...cfg }, t.key);
  if (r.status >= 300) throw new Error(`deploying ${t.id}/${name}: ${r.status} ${JSON.stringify(r.json)}`);
}

/** Ready stem cells of `runtime` now, from the metrics. */
async function readyCells(url: string, runtime: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
  const m = new RegExp(`^fare_stem_cells\\{machine="0",runtime="${runtime}",state="ready"\\} (\\d+)$`, 'm').exec(await res.text());
  return Number(m?.[1] ?? 0);
}

/** Waits (polling, no time limit of its own: the test's) until a stem cell of `runtime` is ready. */
async function untilReady(url: string, runtime: string): Promise<void> {
  while ((await readyCells(url, runtime)) === 0) await new Promise((r) => setTimeout(r, 20));
}

interface Probe {
  readonly stem: boolean;
  readonly stemVarLeft: boolean;
  readonly uid: number;
  readonly gid: number;
  readonly groups: number[];
  readonly cgroup: string;
  readonly greeting: string | null;
  readonly name: string;
  readonly cwd: string;
  readonly taskRoot: string;
  readonly reads: Record<string, string>;
}

/** The instance ids in a /proc/self/cgroup (Fare's groups but the functions' shared cpuset). */
/** The names of a process's own groups (from its /proc/self/cgroup) in the v1 hierarchies, or in the v2 one (`0::`). */
const namesIn = (cgroup: string, v2: boolean): string[] =>
  [...new Set(cgroup.split('\n').filter((l) => l.includes('/fare/') && l.startsWith('0::') === v2).map((l) => l.slice(l.lastIndexOf('/') + 1)).filter((n) => !n.startsWith('functions-p')))];
/** Its v1 groups' names: the instance's id. */
const groupIds = (cgroup: string): string[] => namesIn(cgroup, false);
/**
 * Its v2 group's name: the stem cell's id, which it keeps (the kernel refuses to rename a v2 group,
 * and moving the processes to a new one cost the cold start an RCU grace period); none without a v2 group.
 */
const v2Group = (cgroup: string): string | undefined => {
  const names = namesIn(cgroup, true);
  expect(names.length).toBeLessThanOrEqual(1);
  return names[0];
};

describe.skipIf(skip !== null)('stem cells', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench();
    await deploy(b, b.victim, 'victim-probe', 'nodejs', { SECRET: 'victim-secret-stem' });
    await deploy(b, b.mallory, 'mallory-probe', 'nodejs');
    await deploy(b, b.mallory, 'mallory-probe-py', 'python');
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('fare up says it keeps them', () => {
    expect(b.fare.output()).toMatch(/stem cells: nodejs, python — /);
  });

  it("serves a Node.js function's first call, which answers as the function, with its own environment only", async () => {
    await untilReady(b.fare.url, 'nodejs');
    const r = (await run(b, b.victim, 'victim-probe', {})) as unknown as Probe;
    expect(r).toMatchObject({ stem: true, stemVarLeft: false, greeting: 'hello from victim-probe', name: 'victim-probe' });
    // Its directory, groups and Runtime API were renamed to the instance's: its id names the function.
    const [id] = groupIds(r.cgroup);
    expect(id).toMatch(/^victim-probe-v\d+-p\d+-[0-9a-f]+$/);
    expect(instanceIds(b.fare, 'victim-probe')).toEqual([id]);
    expect(r.cwd).toBe(join(capabilities().instancesDir, id ?? '', 'task'));
    expect(r.taskRoot).toBe(r.cwd);
    const v2 = v2Group(r.cgroup);
    if (v2 !== undefined) expect(v2).toMatch(/^stem-nodejs-p\d+-[0-9a-f]+$/);
    // The second call is the same instance, warm.
    const again = (await run(b, b.victim, 'victim-probe', {})) as unknown as Probe;
    expect(groupIds(again.cgroup)).toEqual([id]);
    expect(v2Group(again.cgroup)).toBe(v2);
  });

  it("an instance born of a stem cell runs as its own uid, in its own groups, and cannot read another tenant's code or instance", async () => {
    const victim = (await run(b, b.victim, 'victim-probe', {})) as unknown as Probe;
    const [victimId] = groupIds(victim.cgroup);
    const victimV2 = v2Group(victim.cgroup);
    await untilReady(b.fare.url, 'nodejs');
    await untilReady(b.fare.url, 'python');
    const targets = [
      join(b.dataDir, 'code', 'victim', 'victim-probe', '1', 'index.mjs'),
      join(capabilities().instancesDir, victimId ?? '', 'task', 'index.mjs'),
    ];
    const caps = capabilities();
    for (const name of ['mallory-probe', 'mallory-probe-py']) {
      const m = (await run(b, b.mallory, name, { read: targets })) as unknown as Probe;
      expect(m.stem).toBe(true);
      expect(m.uid).toBeGreaterThanOrEqual(caps.uidRange.first);
      expect(m.uid).not.toBe(victim.uid);
      expect(m.gid).toBe(m.uid);
      expect(m.groups.filter((g) => g !== m.gid)).toEqual([]); // no supplementary groups (Python lists none, Node its gid)
      const [own] = groupIds(m.cgroup);
      expect(own).toMatch(new RegExp(`^${name}-v\\d+-p\\d+-[0-9a-f]+$`));
      expect(own).not.toBe(victimId);
      if (victimV2 !== undefined) expect(v2Group(m.cgroup)).not.toBe(victimV2);
      for (const t of targets) expect([t, m.reads[t]]).toEqual([t, 'EACCES']);
    }
    // The victim's own instance reads its code (the files are there, only the others are kept out).
    const self = (await run(b, b.victim, 'victim-probe', { read: [join(victim.taskRoot, 'index.mjs')] })) as unknown as Probe;
    expect(Object.values(self.reads)).toEqual(['read']);
  });

  it('a stem cell serves one function of one tenant: each first call gets a runtime of its own', async () => {
    const seen = new Map<string, number>();
    const v2s = new Set<string>();
    for (const [t, name] of [[b.victim, 'victim-probe'], [b.mallory, 'mallory-probe'], [b.mallory, 'mallory-probe-py']] as const) {
      const r = (await run(b, t, name, {})) as unknown as Probe;
      const [id] = groupIds(r.cgroup);
      seen.set(id ?? '', r.uid);
      const v2 = v2Group(r.cgroup);
      if (v2 !== undefined) v2s.add(v2);
    }
    expect(seen.size).toBe(3);
    expect(v2s.size === 0 || v2s.size === 3).toBe(true);
    expect(new Set(seen.values()).size).toBe(3);
    // And none of them serves as a stem cell any more: the ones ready now have not served anyone.
    await untilReady(b.fare.url, 'nodejs');
    await deploy(b, b.mallory, 'mallory-probe-2', 'nodejs');
    const fresh = (await run(b, b.mallory, 'mallory-probe-2', {})) as unknown as Probe;
    expect(fresh.stem).toBe(true);
    expect([...seen.values()]).not.toContain(fresh.uid);
  });

  it('under a flood of cold starts (Hermod: every call of the flood its own instance), SIGTERM stops fare up at once and leaves no runtime behind', async () => {
    // A runtime may ask for a function before the launcher has said which process it is: a cell
    // taken then had no process to hand over, so its instance launched its own and the cell, out of
    // the set, ran on with its Runtime API open — and fare up never exited.
    const f = await startFare(`${b.dataDir}-flood`, ['--policy', 'hermod']);
    const pid = f.child.pid as number;
    let exited = false;
    try {
      const until = Date.now() + 6000;
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (Date.now() < until) {
          const r = await fetch(`${f.url}/2015-03-31/functions/image-resize/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` }, body: '{"width":512}' });
          await r.arrayBuffer();
        }
      }));
      const t0 = Date.now();
      exited = await Promise.race([stopFare(f).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
      console.log(`fare up stopped ${exited ? `in ${Date.now() - t0} ms` : 'not within 20 s'} after a flood of cold starts`);
    } finally {
      if (!exited) f.child.kill('SIGKILL');
    }
    expect(exited).toBe(true);
    // Nothing of its instances or cells runs on (their ids carry its pid).
    const left: string[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
        if (cmd.includes(`-p${pid}-`)) left.push(`${d}: ${cmd.replaceAll('\0', ' ').slice(0, 120)}`);
      } catch {
        // gone
      }
    }
    expect(left).toEqual([]);
  }, 60_000);

  it('--no-stem-cells turns them off, and says so', async () => {
    const dir = `${b.dataDir}-nostem`;
    const off = await startFare(dir, ['--no-examples', '--no-stem-cells']);
    try {
      expect(off.output()).toContain('stem cells: off (--no-stem-cells)');
      const r = await api(off.url, 'PUT', '/v1/functions/plain', { class: 'standard', runtime: 'nodejs', handler: 'index.handler', zipBase64: probe('nodejs'), env: { GREETING: 'hi' } });
      expect(r.status).toBeLessThan(300);
      const res = await fetch(`${off.url}/2015-03-31/functions/plain/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` }, body: '{}' });
      const p = (await res.json()) as Probe;
      expect(p).toMatchObject({ stem: false, greeting: 'hi' });
    } finally {
      await stopFare(off);
    }
  });
});
