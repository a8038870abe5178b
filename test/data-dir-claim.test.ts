// End-to-end: one `fare up` per data directory. A second on the same directory is refused, saying
// which process holds it, and changes nothing there; once the first is killed (kill -9, its claim
// left behind), a new one starts on it; a clean stop leaves no claim.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const work = mkdtempSync(join(tmpdir(), 'fare-claim-e2e-'));
const started: FareProcess[] = [];
afterAll(async () => {
  for (const f of started) await stopFare(f, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('fare up on a data directory in use', () => {
  it('is refused while the first runs, starts once it was killed, and a clean stop leaves no claim', async () => {
    const dir = join(work, 'data');
    const first = await startFare(dir, ['--no-examples']);
    started.push(first);
    const second = await promisify(execFile)(process.execPath, [BIN, 'up', '--port', '0', '--data-dir', dir, '--no-examples']).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`fare: the data directory ${dir} is in use by another fare up \\(pid ${first.child.pid}, since .*\\): stop it, or give another --data-dir \\(FARE_E_DATA_DIR_IN_USE\\)`));
    // The first one serves on.
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    await stopFare(first, 'SIGKILL');
    expect(existsSync(join(dir, 'fare.pid'))).toBe(true); // left by the killed one
    const third = await startFare(dir, ['--no-examples']);
    started.push(third);
    expect((await fetch(`${third.url}/healthz`)).status).toBe(200);
    await stopFare(third);
    expect(existsSync(join(dir, 'fare.pid'))).toBe(false);
  }, 60_000);
});
