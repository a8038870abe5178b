import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptWorkDir, prepareBase, prepareWorkDir, reapStaleWorkDirs } from './workdir.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('instance directories', () => {
  it('are reaped when the Fare that made them is dead, and kept while it lives', () => {
    const base = join(mkdtempSync(join(tmpdir(), 'fare-wd-')), 'instances');
    dirs.push(base);
    prepareBase(base);
    const dead = join(base, 'fn-v1-p4194305-0123456789'); // above any pid_max: never alive
    const ours = join(base, `fn-v1-p${process.pid}-abcdef0123`);
    const other = join(base, '.uids');
    for (const d of [dead, ours, other]) mkdirSync(join(d, 'task'), { recursive: true });
    writeFileSync(join(dead, 'task', 'index.mjs'), 'x');
    expect(reapStaleWorkDirs(base)).toBe(1);
    expect([existsSync(dead), existsSync(ours), existsSync(other)]).toEqual([false, true, true]);
    expect(reapStaleWorkDirs(join(base, 'missing'))).toBe(0);
  });

  it("a stem cell's becomes an instance's: renamed, with the code copied in read-only (subfolders, executables, symlinks as they are)", () => {
    const root = mkdtempSync(join(tmpdir(), 'fare-wd-'));
    dirs.push(root);
    const base = join(root, 'instances');
    const code = join(root, 'code');
    mkdirSync(join(code, 'lib'), { recursive: true });
    writeFileSync(join(code, 'index.mjs'), 'export const handler = () => 1;\n');
    writeFileSync(join(code, 'lib', 'tool.sh'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync('lib/tool.sh', join(code, 'tool'));
    const stem = prepareWorkDir(base, `stem-nodejs-p${process.pid}-0123456789`, null, null, null);
    expect(statSync(stem.task).isDirectory()).toBe(true);
    const wd = adoptWorkDir(stem, `fn-v1-p${process.pid}-abcdef0123`, code);
    expect(existsSync(stem.dir)).toBe(false);
    expect(wd.dir).toBe(join(base, `fn-v1-p${process.pid}-abcdef0123`));
    expect(readFileSync(join(wd.task, 'index.mjs'), 'utf8')).toContain('handler');
    expect(statSync(join(wd.task, 'index.mjs')).mode & 0o777).toBe(0o444);
    expect(statSync(join(wd.task, 'lib', 'tool.sh')).mode & 0o777).toBe(0o555);
    expect(statSync(join(wd.task, 'lib')).mode & 0o777).toBe(0o555);
    expect(lstatSync(join(wd.task, 'tool')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(wd.task, 'tool'))).toBe('lib/tool.sh');
  });
});
