import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatCpuList, functionCpus, openFunctionCpuset, parseCpuList } from './cpus.ts';

describe('CPU lists', () => {
  it('reads and writes the kernel form', () => {
    expect(parseCpuList('0-3,6,8-9\n')).toEqual([0, 1, 2, 3, 6, 8, 9]);
    expect(parseCpuList('1')).toEqual([1]);
    expect(formatCpuList([9, 8, 0, 1, 2, 3, 6])).toBe('0-3,6,8-9');
    expect(formatCpuList([1])).toBe('1');
    expect(() => parseCpuList('0-x')).toThrow(/not a CPU list/);
  });

  it('gives functions the last cores CPUs, or all of them unpinned', () => {
    expect(functionCpus(1, [0, 1])).toEqual([1]);
    expect(functionCpus(3, [0, 2, 4, 6])).toEqual([2, 4, 6]);
    expect(functionCpus(2, [0, 1])).toBeNull();
    expect(functionCpus(4, [0, 1])).toBeNull();
  });
});

describe('the functions\' cpuset', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is made under fare/ with its CPUs and the root\'s memory nodes, and a dead Fare\'s empty one is removed (on a plain directory)', () => {
    root = mkdtempSync(join(tmpdir(), 'fare-cpuset-'));
    writeFileSync(join(root, 'cpuset.cpus'), '0-1\n');
    writeFileSync(join(root, 'cpuset.mems'), '0\n');
    mkdirSync(join(root, 'fare'));
    // A Fare that died (no such pid) left its group.
    mkdirSync(join(root, 'fare', 'functions-p999999999'));
    const r = openFunctionCpuset([1], root);
    if (!r.ok) throw new Error(r.why);
    const dir = join(root, 'fare', `functions-p${process.pid}`);
    expect(r.set.procsFile).toBe(join(dir, 'cgroup.procs'));
    expect(readFileSync(join(dir, 'cpuset.cpus'), 'utf8')).toBe('1');
    expect(readFileSync(join(dir, 'cpuset.mems'), 'utf8')).toBe('0');
    expect(existsSync(join(root, 'fare', 'functions-p999999999'))).toBe(false);
    // (Closing is an rmdir, which only a cgroup file system allows over its control files: below.)
  });

  const real = '/sys/fs/cgroup/cpuset';
  const why = !existsSync(join(real, 'cpuset.cpus')) ? 'no cgroup v1 cpuset at /sys/fs/cgroup/cpuset' : process.getuid?.() !== 0 ? 'not root' : null;
  if (why !== null) process.stderr.write(`SKIPPED the real cpuset test: ${why}\n`);
  it.skipIf(why !== null)('on the real cpuset: a process that joins runs on its CPUs only, and closing removes the group', async () => {
    const { spawn } = await import('node:child_process');
    const cpus = parseCpuList(readFileSync(join(real, 'cpuset.cpus'), 'utf8'));
    const mine = [cpus[cpus.length - 1] as number];
    const r = openFunctionCpuset(mine, real);
    if (!r.ok) throw new Error(r.why);
    const child = spawn('/bin/sh', ['-c', `echo $$ > ${r.set.procsFile} && exec grep Cpus_allowed_list /proc/self/status`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((done) => child.once('exit', done));
    expect(out.trim()).toBe(`Cpus_allowed_list:\t${formatCpuList(mine)}`);
    r.set.close();
    expect(existsSync(dirname(r.set.procsFile))).toBe(false);
  });

  it('says why where there is none', () => {
    expect(openFunctionCpuset([1], null)).toEqual({ ok: false, why: 'no cgroup v1 cpuset controller is mounted' });
    root = mkdtempSync(join(tmpdir(), 'fare-cpuset-'));
    const r = openFunctionCpuset([1], join(root, 'missing'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.why).toMatch(/cannot be set up \(ENOENT; needs root\)/);
  });
});
