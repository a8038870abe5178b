#!/usr/bin/env node
// The `fare` command. In a checkout it runs the TypeScript sources through tsx;
// in a built package (no src/) it runs the compiled output in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'cli', 'main.ts');
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await (await import(pathToFileURL(src).href)).run();
} else {
  await (await import(pathToFileURL(join(root, "dist", "cli", "main.js")).href)).run();
}
