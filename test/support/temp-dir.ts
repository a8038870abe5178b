// Temporary directories for tests: made under the system's temporary directory, named by a prefix
// that says whose they are, and removed with all they hold once the test file is done (vitest's
// afterAll, registered by importing this module). Before, every CI run left hundreds behind in
// /tmp — 2 MB each for the CLI's tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A new empty directory (`<tmp>/<prefix>XXXXXX`), removed after the test file. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
