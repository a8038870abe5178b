// End-to-end: bin/fare.js runs the compiled dist/ only while it was built from the sources in src/;
// once a source changes it runs src/ through tsx and says so in one line — never the old code.
// Played in a copy of bin/ with a src/ and a dist/ of one module each, so it runs in milliseconds.

import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = join(import.meta.dirname, '..');
const root = mkdtempSync(join(tmpdir(), 'fare-build-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const write = (path: string, text: string): void => {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
};

const fare = (): { stdout: string; stderr: string } => spawnSync(process.execPath, [join(root, 'bin', 'fare.js')], { encoding: 'utf8' });

describe('bin/fare.js and the build', () => {
  it('runs dist/ while it matches src/, and src/ through tsx with a notice once a source changed or went', () => {
    mkdirSync(join(root, 'bin'));
    for (const f of ['fare.js', 'build-state.js']) copyFileSync(join(repo, 'bin', f), join(root, 'bin', f));
    symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
    write('package.json', '{ "type": "module" }');
    write('tsconfig.json', '{}');
    write('tsconfig.build.json', '{}');
    write('src/cli/main.ts', "export async function run(): Promise<void> { process.stdout.write('src\\n'); }\n");
    write('src/cli/other.ts', 'export const x = 1;\n');
    write('dist/cli/main.js', "export async function run() { process.stdout.write('dist\\n'); }\n");
    expect(fare().stdout).toBe('src\n'); // no stamp: never built
    // What bin/build.js records after compiling.
    const stamp = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(join(root, 'bin', 'build-state.js')).href)}); process.stdout.write(JSON.stringify({ files: m.fingerprint(${JSON.stringify(root)}, m.buildInputs(${JSON.stringify(root)})) }));`], { encoding: 'utf8' });
    write('dist/.build.json', stamp.stdout);
    const files = (JSON.parse(stamp.stdout) as { files: Record<string, [number, number] | null> }).files;
    expect(Object.keys(files)).toEqual(['src/cli/main.ts', 'src/cli/other.ts', 'tsconfig.build.json', 'tsconfig.json']);

    const fresh = fare();
    expect(fresh.stdout).toBe('dist\n');
    expect(fresh.stderr).toBe('');

    utimesSync(join(root, 'src/cli/other.ts'), new Date(), new Date(Date.now() + 5000)); // an edit (git checkout, an editor)
    const edited = fare();
    expect(edited.stdout).toBe('src\n');
    expect(edited.stderr).toBe('fare: running src/ through tsx, slower (src/cli/other.ts changed since the build: npm run build)\n');

    rmSync(join(root, 'src/cli/other.ts'));
    expect(fare().stderr).toMatch(/src\/cli\/other\.ts is gone since the build/);
  });
});
