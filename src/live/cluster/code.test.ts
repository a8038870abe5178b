// What a gateway or worker unpacks from the code object store: a root `bootstrap` executable, as the
// gateway that took the upload made it for a `provided` function (the object may be the upload itself).

import { describe, expect, it } from 'vitest';
import { readZip } from '../gateway/zip.ts';
import { writeZip } from '../gateway/testing.ts';
import { unpackable } from './code.ts';

describe('unpackable', () => {
  it('makes a root bootstrap executable and leaves every other entry as it is', async () => {
    const entries = await readZip(writeZip([{ name: 'bootstrap', data: '#!/bin/sh\n' }, { name: 'lib/bootstrap', data: 'x' }, { name: 'run.sh', data: 'x', mode: 0o100755 }, { name: 'data.txt', data: 'x' }]));
    const modes = Object.fromEntries(unpackable(entries).map((e) => [e.path, e.mode & 0o777]));
    expect(modes).toEqual({ bootstrap: 0o755, 'lib/bootstrap': 0o644, 'run.sh': 0o755, 'data.txt': 0o644 });
  });
});
