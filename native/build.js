#!/usr/bin/env node
// Builds Fare's one native helper, `build/fare-sandbox`, from `native/fare-sandbox.c` with the
// machine's C compiler (`cc`, else `gcc`, else `clang`). Run by `npm install`/`npm ci` (the package's
// install script) and, when the binary is missing or older than its source, by Fare itself on first
// use. Writes to a temporary name and renames, so concurrent builds never leave a half-written
// binary. Prints one line; exits 0 even without a compiler (Fare then says at start-up that it runs
// without the sandbox), unless `--strict` is given.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native', 'fare-sandbox.c');
const out = join(root, 'build', 'fare-sandbox');
const strict = process.argv.includes('--strict');

function fail(why) {
  process.stdout.write(`fare: the sandbox helper was not built (${why}); Fare will run functions without it\n`);
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') fail('it needs Linux');
if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs && !process.argv.includes('--force')) process.exit(0);
const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
if (cc === undefined) fail('no C compiler: install gcc or clang, then run `node native/build.js`');
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', tmp, src], { encoding: 'utf8' });
if (r.status !== 0) {
  rmSync(tmp, { force: true });
  fail(`${cc} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(0, 5).join(' | ')}`);
}
renameSync(tmp, out);
process.stdout.write(`fare: built ${out}\n`);
