#!/usr/bin/env node
// The `fare` command. Runs the compiled output in dist/ (built by `npm ci` / `npm run build`). In a
// checkout whose src/ changed since that build, it runs the TypeScript sources through tsx instead
// (slower), with a line saying so: never the old code.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let entry = join(root, 'dist', 'cli', 'main.js');
if (existsSync(join(root, 'src', 'cli', 'main.ts'))) {
  const { staleness } = await import('./build-state.js');
  const why = staleness(root);
  if (why !== null) {
    let tsx = null;
    try {
      tsx = await import('tsx/esm/api');
    } catch {
      // no dev dependencies: run dist/ if there is one
    }
    if (tsx !== null) {
      process.stderr.write(`fare: running src/ through tsx, slower (${why}: npm run build)\n`);
      tsx.register();
      entry = join(root, 'src', 'cli', 'main.ts');
    } else if (existsSync(entry)) {
      process.stderr.write(`fare: dist/ may be older than src/ (${why}) and tsx is not installed to run src/: npm install && npm run build\n`);
    } else {
      process.stderr.write('fare: not built, and tsx is not installed to run src/: run npm install (it builds dist/) (FARE_E_NOT_BUILT)\n');
      process.exit(2);
    }
  }
}
await (await import(pathToFileURL(entry).href)).run();
