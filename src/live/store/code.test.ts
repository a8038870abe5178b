import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { linkProblem, stageCode, type CodeFile } from './code.ts';
import { tempDir, type TempDir } from './testing.ts';

let dir: TempDir;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  dir.remove();
});

const file = (path: string, text = 'x'): CodeFile => ({ path, isDir: false, mode: 0o644, read: () => Buffer.from(text) });
const link = (path: string, target: string): CodeFile => ({ path, isDir: false, mode: 0o777, symlink: target, read: () => Buffer.from(target) });

describe('stageCode and symbolic links', () => {
  it('writes a link that stays inside the tree as a link, after the files', async () => {
    const staged = await stageCode(dir.path, [link('a/alias.js', '../lib/real.js'), file('lib/real.js', 'real')]);
    expect(lstatSync(join(staged, 'a/alias.js')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(staged, 'a/alias.js'))).toBe('../lib/real.js');
    expect(readFileSync(join(staged, 'a/alias.js'), 'utf8')).toBe('real');
  });

  it('refuses a link that leaves the tree before writing anything', async () => {
    await expect(stageCode(dir.path, [file('index.js'), link('up', '../../..')])).rejects.toMatchObject({ code: 'FARE_E_CODE_PATH', message: expect.stringMatching(/"up" is a symbolic link to "..\/..\/..", which climbs out/) as unknown });
    expect(existsSync(join(dir.path, 'code/.staging')) ? readdirSync(join(dir.path, 'code/.staging')) : []).toEqual([]);
  });

  it('refuses an entry that would be written through a link', async () => {
    await expect(stageCode(dir.path, [file('real/x.js'), link('sub', 'real'), file('sub/y.js')])).rejects.toMatchObject({ message: expect.stringMatching(/"sub\/y.js" lies inside the symbolic link "sub"/) as unknown });
  });

  it('accepts links to files, folders (given or implied) and the root; nothing else', () => {
    expect(linkProblem([file('a/b/c.js'), link('x', 'a/b/c.js'), link('y', 'a/b'), link('a/z', '..'), link('a/b/w', '../../a')])).toBeUndefined();
    expect(linkProblem([file('a.js'), link('x', './a.js/')])).toBeUndefined();
    expect(linkProblem([file('a.js'), link('x', 'b.js')])).toMatch(/not in the zip/);
    expect(linkProblem([file('a.js'), link('x', '')])).toMatch(/empty, overlong or odd target/);
    expect(linkProblem([file('a.js'), link('x', 'C:/a.js')])).toMatch(/absolute path/);
    expect(linkProblem([file('a.js'), { ...link('x/', 'a.js'), isDir: true }])).toMatch(/marked as a folder/);
  });
});
