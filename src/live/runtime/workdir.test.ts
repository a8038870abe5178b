import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adoptWorkDir, prepareBase, prepareWorkDir, reapStaleWorkDirs } from './workdir.ts';
import { tempDir } from '../../../test/support/temp-dir.ts';

describe('instance directories', () => {
  it('are reaped when the Fare that made them is dead, and kept while it lives', () => {
    const base = join(tempDir('fare-wd-'), 'instances');
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
    const root = tempDir('fare-wd-');
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
