import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareBase, reapStaleWorkDirs } from './workdir.ts';

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
});
