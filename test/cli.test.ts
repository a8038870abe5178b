// End-to-end: the `fare` command as a user runs it, in real child processes.
// fig4/fig5 --quick produce their files; the same seed gives byte-identical output; bad input is
// refused with a clear message and exit code 2.

import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './support/temp-dir.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'fare.js');

async function fare(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const tmp = (): string => tempDir('fare-cli-');

function filesOf(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

describe('fare sim fig4 --quick', () => {
  it('writes the CSV, charts and summary, byte-identical for the same seed', async () => {
    const [a, b] = [tmp(), tmp()];
    const [ra, rb] = await Promise.all([fare('sim', 'fig4', '--quick', '--out', a), fare('sim', 'fig4', '--quick', '--out', b)]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const fa = filesOf(a);
    const fb = filesOf(b);
    expect([...fa.keys()]).toEqual(expect.arrayContaining(['fig4.csv', 'summary.md', 'fig4-p99-latency.svg', 'fig4-p99-latency.png', 'fig4-utilization.svg', 'fig4-utilization.png']));
    for (const [name, content] of fa) expect(content.equals(fb.get(name) as Buffer), `${name} differs between two runs`).toBe(true);

    const csv = (fa.get('fig4.csv') as Buffer).toString('utf8').trim().split('\n');
    const header = (csv[0] as string).split(',');
    for (const col of ['policy', 'load', 'class', 'price', 'jobs', 'completed', 'p50_ms', 'p90_ms', 'p99_ms', 'p999_ms', 'mean_slowdown', 'p99_slowdown', 'util_mean', 'p999_slowdown', 'mean_wait_ms', 'p99_wait_ms', 'p999_wait_ms']) {
      expect(header).toContain(col);
    }
    const rows = csv.slice(1).map((l): Record<string, string> => Object.fromEntries(l.split(',').map((v, i) => [header[i] as string, v])));
    expect(new Set(rows.map((r) => r.policy))).toEqual(new Set(['fare', 'hermod', 'edf']));
    const loads = [...new Set(rows.map((r) => Number(r.load)))];
    expect(Math.min(...loads)).toBeLessThanOrEqual(0.5);
    expect(Math.max(...loads)).toBeGreaterThanOrEqual(1.2);
    expect(rows).toHaveLength(3 * loads.length * 4);
    // The qualitative result: under overload, Fare's top class stays near its runtime; Hermod's does not.
    const p99 = (policy: string, cls: string) => Number(rows.find((r) => r.policy === policy && r.class === cls && Number(r.load) === 1.2)?.p99_slowdown);
    expect(p99('fare', 'high')).toBeLessThan(2);
    expect(p99('hermod', 'high')).toBeGreaterThan(5 * p99('fare', 'high'));
    expect((fa.get('fig4-p99-latency.png') as Buffer).subarray(1, 4).toString()).toBe('PNG');
    expect((fa.get('summary.md') as Buffer).toString()).toMatch(/Does the paper's claim hold\?/);
  });

  it('gives different results for a different seed', async () => {
    const [a, b] = [tmp(), tmp()];
    await Promise.all([fare('sim', 'fig5', '--quick', '--out', a, '--seed', '1'), fare('sim', 'fig5', '--quick', '--out', b, '--seed', '2')]);
    expect(readFileSync(join(a, 'fig5.csv')).equals(readFileSync(join(b, 'fig5.csv')))).toBe(false);
  });
});

describe('fare sim fig5 --quick', () => {
  it('writes memory per machine over time, swaps per class and machine, and a summary, byte-identical for the same seed', async () => {
    const [out, again] = [tmp(), tmp()];
    const [r, r2] = await Promise.all([fare('sim', 'fig5', '--quick', '--out', out), fare('sim', 'fig5', '--quick', '--out', again)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    const [fa, fb] = [filesOf(out), filesOf(again)];
    for (const [name, content] of fa) expect(content.equals(fb.get(name) as Buffer), `${name} differs between two runs`).toBe(true);
    const names = readdirSync(out);
    expect(names).toEqual(expect.arrayContaining(['fig5.csv', 'fig5-memory.csv', 'fig5-swaps.csv', 'summary.md', 'fig5-memory-over-time.png', 'fig5-swap-per-class.png', 'fig5-swap-per-machine.png',
      'fig5-swapped-over-time.png', 'fig5-swap-traffic.png']));
    const swaps = readFileSync(join(out, 'fig5-swaps.csv'), 'utf8').trim().split('\n');
    expect(swaps[0]).toBe('load,time_ms,machine,job,class,dir,mb,device_ms');
    expect(swaps.length).toBeGreaterThan(10);
    // Class-based swapping: the lowest class carries most of the swapped memory.
    const mb = new Map<string, number>();
    for (const line of swaps.slice(1)) {
      const [, , , , cls, dir, size] = line.split(',');
      if (dir === 'out') mb.set(cls as string, (mb.get(cls as string) ?? 0) + Number(size));
    }
    const total = [...mb.values()].reduce((a, b) => a + b, 0);
    expect((mb.get('low') ?? 0) / total).toBeGreaterThan(0.5);
    // Swapping takes time: a swap-out is written at the device's rate (0.6 s/GiB by default), after what was queued before it.
    for (const line of swaps.slice(1, 200)) {
      const [, , , , , dir, size, device] = line.split(',');
      // (Both written with 6 significant digits.)
      if (dir === 'out') expect(Number(device)).toBeGreaterThanOrEqual((Number(size) / 1024) * 600 * (1 - 1e-5));
    }
    // Resident memory never above the machine's 32 GB; what the jobs held beyond it is reported apart.
    const mem = readFileSync(join(out, 'fig5-memory.csv'), 'utf8').trim().split('\n');
    expect(mem[0]).toBe('load,time_s,machine,used_mb,held_mb');
    expect(Math.max(...mem.slice(1).map((l) => Number(l.split(',')[3])))).toBeLessThanOrEqual(32 * 1024);
    // The summary says what held and what did not, against the paper's model run on the same jobs.
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toMatch(/What held and what did not/);
    expect(summary).toMatch(/Swapping does not keep up|The swap devices kept up/);
    expect(summary).toMatch(/Against the paper's model/);
  });
});

describe('fare sim run CONFIG', () => {
  it('runs a trace replay described in a config file', async () => {
    const out = tmp();
    const r = await fare('sim', 'run', 'examples/sim/azure2021-replay.json', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['azure2021-replay.csv', 'summary.md', 'config.json']));
  });

  it.each([
    [{ policies: ['fare', 'sjf'] }, /policies\[1\]\.kind is "sjf": it must be one of fare, hermod, fifo, edf/],
    [{ cluster: { machines: 0 } }, /cluster\.machines is 0: it must be a whole number ≥ 1/],
    [{ clusters: {} }, /unknown field "clusters"/],
    [{ cluster: { intake: 'hash' } }, /cluster\.intake is "hash": it must be "round-robin" .* or "by-function"/],
    [{ loads: [] }, /loads is \[\]: give a list of offered utilizations/],
    [{ workload: { kind: 'synthetic', jobs: -5 } }, /jobs/],
  ])('refuses %j with a message that says what to do', async (cfg, message) => {
    const dir = tmp();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(cfg));
    const r = await fare('sim', 'run', file, '--out', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/FARE_E_/);
  });

  it('refuses a file that is not JSON, and a missing file', async () => {
    const dir = tmp();
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ "name": ');
    const bad = await fare('sim', 'run', file);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not valid JSON/);
    const missing = await fare('sim', 'run', join(dir, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config file/);
  });
});

describe('fare sim experiment NAME (the paper\'s open questions)', () => {
  it('lists the experiments, refuses an unknown one, and answers class-order byte-identically for the same seed', async () => {
    const list = await fare('sim', 'experiment');
    expect(list.code).toBe(0);
    for (const name of ['class-order', 'swap-paging', 'swap-bound', 'shards']) expect(list.stdout).toContain(name);
    const bad = await fare('sim', 'experiment', 'fig9');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown experiment "fig9": the experiments are class-order, swap-paging, swap-bound, shards/);

    const [a, b] = [tmp(), tmp()];
    const [ra, rb] = await Promise.all([fare('sim', 'experiment', 'class-order', '--quick', '--out', a), fare('sim', 'experiment', 'class-order', '--quick', '--out', b)]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const fa = filesOf(a), fb = filesOf(b);
    expect([...fa.keys()]).toEqual(expect.arrayContaining(['class-order.csv', 'class-order-top.png', 'class-order-low.svg', 'summary.md']));
    for (const [name, content] of fa) expect(content.equals(fb.get(name) as Buffer), `${name} differs between two runs`).toBe(true);
    const csv = (fa.get('class-order.csv') as Buffer).toString('utf8').trim().split('\n');
    const header = (csv[0] as string).split(',');
    const rows = csv.slice(1).map((l) => Object.fromEntries((l.match(/("[^"]*"|[^,]+|(?<=,)(?=,|$))/g) ?? []).map((v, i) => [header[i] as string, v.replace(/^"|"$/g, '')])));
    const p99 = (variant: string, load: number, cls: string): number => Number(rows.find((r) => r.variant === variant && Number(r.load) === load && r.class === cls)?.p99_slowdown);
    // When the shards are the bottleneck, strict class order keeps the top class's tail where the paper's rule lets it grow.
    expect(p99('strict', 0.9, 'high')).toBeLessThan(1.5);
    expect(p99('price × waited', 0.9, 'high')).toBeGreaterThan(2 * p99('strict', 0.9, 'high'));
    // Below the shards' capacity the rule cannot matter.
    expect(p99('price × waited', 0.5, 'high')).toBeCloseTo(p99('strict', 0.5, 'high'), 5);
    const summary = (fa.get('summary.md') as Buffer).toString();
    expect(summary).toMatch(/At load 0\.9 the top class's p99 slowdown is [\d.]+ under price × waited and [\d.]+ under strict order/);
  });
});

describe('fare command line', () => {
  it('explains unknown commands and options', async () => {
    expect((await fare('sim', 'fig9')).stderr).toMatch(/unknown simulator command "fig9": use fig4, fig5, experiment, run or replay/);
    expect((await fare('sim', 'fig4', '--fast')).stderr).toMatch(/--fast/);
    expect((await fare('frobnicate')).code).toBe(2);
    const help = await fare('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/fare sim fig4/);
  });

  it('fare worker checks --within-class before it connects anywhere', async () => {
    const bad = await fare('worker', '--id', '0', '--within-class', 'random');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--within-class random is not known: use fcfs, las, sef, ps/);
    const blind = await fare('worker', '--id', '0', '--within-class', 'las', '--policy', 'hermod');
    expect(blind.stderr).toMatch(/it goes with --policy fare, not hermod/);
  });
});

describe('fare demo', () => {
  it('stops the fare up it started when it is told to stop (SIGTERM)', async () => {
    const demo = spawn(process.execPath, [bin, 'demo', '--seconds', '60'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    demo.stderr.on('data', (c: Buffer) => (said += c.toString('utf8')));
    // Once it measures, its fare up is running.
    for (let i = 0; i < 600 && !said.includes('of page views alone'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(said).toContain('of page views alone');
    const ups = (): number[] => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').some((a) => a.includes('fare-demo-fare-')) && Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]) === demo.pid;
      } catch {
        return false;
      }
    }).map(Number);
    const up = ups();
    expect(up).toHaveLength(1);
    const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
    demo.kill('SIGTERM');
    expect(await exited).toBe(143);
    for (let i = 0; i < 100 && existsSync(`/proc/${String(up[0])}`); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(`/proc/${String(up[0])}`)).toBe(false);
  }, 90_000);
});
