import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryOf, functionName } from './function-dir.ts';
import { tempDir } from '../../test/support/temp-dir.ts';

function folder(name: string, files: readonly string[]): string {
  const dir = join(tempDir('fare-fn-dir-'), name);
  mkdirSync(dir);
  for (const f of files) writeFileSync(join(dir, f), '');
  return dir;
}

describe('fare deploy DIR: what it takes from the folder', () => {
  it("names the function after the folder, checked as Fare checks names", () => {
    expect(functionName(folder('page-view', []), undefined)).toBe('page-view');
    expect(functionName(folder('x', []), 'given_name')).toBe('given_name');
    expect(() => functionName(folder('my fn', []), undefined)).toThrow(/the folder name "my fn" is not a function name .*: give one with --name/);
    expect(() => functionName(folder('x', []), '-bad')).toThrow(/--name -bad is not a function name/);
  });

  it('takes the runtime and handler from the one obvious entry file', () => {
    expect(entryOf(folder('a', ['index.mjs', 'package.json']), undefined, undefined)).toEqual({ runtime: 'nodejs', handler: 'index.handler', from: 'index.mjs' });
    expect(entryOf(folder('b', ['index.js']), undefined, undefined)).toMatchObject({ runtime: 'nodejs', handler: 'index.handler' });
    expect(entryOf(folder('c', ['app.py', 'test_app.py']), undefined, undefined)).toMatchObject({ runtime: 'python', handler: 'app.handler' });
    expect(entryOf(folder('d', ['lambda_function.py']), undefined, undefined)).toMatchObject({ runtime: 'python', handler: 'lambda_function.lambda_handler' });
    expect(entryOf(folder('e', ['bootstrap']), undefined, undefined)).toMatchObject({ runtime: 'provided', handler: 'bootstrap' });
  });

  it('uses what it is given, and the runtime of a given handler from its file', () => {
    expect(entryOf(folder('f', ['index.mjs']), 'nodejs', 'index.main')).toEqual({ runtime: 'nodejs', handler: 'index.main' });
    expect(entryOf(folder('g', ['src']), 'provided', undefined)).toEqual({ runtime: 'provided', handler: 'bootstrap' });
    expect(entryOf(folder('h', ['main.py']), undefined, 'main.run')).toMatchObject({ runtime: 'python', handler: 'main.run' });
    expect(entryOf(folder('i', ['index.mjs', 'app.py']), 'python', undefined)).toMatchObject({ runtime: 'python', handler: 'app.handler' });
  });

  it('asks for --runtime and --handler when the folder does not make them obvious', () => {
    expect(() => entryOf(folder('j', ['index.mjs', 'app.py']), undefined, undefined)).toThrow(/holds index\.mjs and app\.py: say which is the function with --runtime and --handler/);
    expect(() => entryOf(folder('k', ['main.go']), undefined, undefined)).toThrow(/has none of index\.mjs, .* bootstrap to take the runtime and handler from: give --runtime and --handler/);
    expect(() => entryOf(folder('l', ['x.py']), undefined, 'main.run')).toThrow(/--handler main\.run: no main\.py, \.mjs, \.js or \.cjs/);
  });
});
