#!/usr/bin/env node
// Compiles src/ to dist/ (`npm run build`; run by `npm ci`/`npm install` as the package's prepare
// script), so `fare` starts from JavaScript instead of through a TypeScript loader. Type checking is
// `npm run typecheck`'s job: this emits only (tsc --noCheck), also from sources that do not type-check
// yet. It compiles into a folder of its own (build/dist.PID.tmp) and then swaps it in for dist/, with the stamp that
// `bin/fare.js` checks (bin/build-state.js); until the swap, `fare` runs the sources. Prints one line.
// Without TypeScript (an install without dev dependencies) it says so and exits 0: `fare` then runs
// dist/ if it is there.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInputs, fingerprint, STAMP } from './build-state.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(root, 'src'))) process.exit(0); // a built package: nothing to compile

let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  process.stdout.write('fare: dist/ not built: TypeScript is not installed (a dev dependency); run npm install, then npm run build\n');
  process.exit(0);
}

const t0 = performance.now();
// Taken before compiling: a file edited meanwhile then differs from its record, and counts as changed.
const inputs = buildInputs(root);
const files = fingerprint(root, inputs);
// Compiled beside the sandbox helper in build/, which git and eslint ignore, and on the same file system as dist/.
const tmp = join(root, 'build', `dist.${process.pid}.tmp`);
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--noCheck', '--outDir', tmp], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`fare: tsc failed (exit ${r.status ?? r.signal}); dist/ left as it was\n`);
  process.exit(1);
}
// The dashboard's page (HTML, CSS and browser JavaScript, not compiled) goes beside its compiled module.
const page = join('live', 'gateway', 'dashboard');
for (const f of readdirSync(join(root, 'src', page))) {
  if (/^page\.(html|css|js)$/.test(f)) copyFileSync(join(root, 'src', page, f), join(tmp, page, f));
}
// The launcher process's script (plain JavaScript, run without a loader) goes beside launcher.js.
const launcher = join('live', 'runtime', 'launcher-process.mjs');
copyFileSync(join(root, 'src', launcher), join(tmp, launcher));
writeFileSync(join(tmp, STAMP), `${JSON.stringify({ builtAt: new Date().toISOString(), files })}\n`);
const old = join(root, 'build', `dist.${process.pid}.old`);
if (existsSync(dist)) renameSync(dist, old);
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
process.stdout.write(`fare: compiled ${inputs.filter((f) => f.endsWith('.ts')).length} modules to dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
