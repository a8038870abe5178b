// The data directory's claim: taken, refused while its holder lives, taken over once it is gone.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claimDataDir } from './data-dir-claim.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const fresh = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fare-claim-'));
  dirs.push(d);
  return d;
};
const startOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
};

describe('claimDataDir', () => {
  it('claims a directory (creating it) for this process, and claims it again in the same process', () => {
    const dir = join(fresh(), 'data');
    claimDataDir(dir, 'fare up');
    const claim = JSON.parse(readFileSync(join(dir, 'fare.pid'), 'utf8')) as { pid: number; command: string };
    expect(claim).toMatchObject({ pid: process.pid, command: 'fare up' });
    expect(() => claimDataDir(dir, 'fare up')).not.toThrow();
  });

  it('refuses a directory another live process holds, naming it', async () => {
    const dir = fresh();
    const other = spawn('sleep', ['30']);
    try {
      await new Promise((r) => other.once('spawn', r));
      const pid = other.pid as number;
      writeFileSync(join(dir, 'fare.pid'), JSON.stringify({ pid, started: startOf(pid), command: 'fare cluster up', since: '2026-12-07T10:00:00.000Z' }));
      expect(() => claimDataDir(dir, 'fare up')).toThrow(new RegExp(`the data directory ${dir} is in use by another fare cluster up \\(pid ${pid}, since 2026-12-07T10:00:00.000Z\\): stop it, or give another --data-dir \\(FARE_E_DATA_DIR_IN_USE\\)`));
      // Nothing of this attempt is left behind, and the holder's claim stands.
      expect(JSON.parse(readFileSync(join(dir, 'fare.pid'), 'utf8'))).toMatchObject({ pid });
      expect(existsSync(join(dir, `fare.pid.${process.pid}.tmp`))).toBe(false);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('takes over a claim whose process is gone (kill -9), or whose pid is another process now', async () => {
    const gone = fresh();
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(gone, 'fare.pid'), JSON.stringify({ pid: dead.pid, started: '1', command: 'fare up' }));
    claimDataDir(gone, 'fare up');
    expect(JSON.parse(readFileSync(join(gone, 'fare.pid'), 'utf8'))).toMatchObject({ pid: process.pid });
    // A pid in use again, by a process started later than the claim's.
    const reused = fresh();
    const other = spawn('sleep', ['30']);
    try {
      await new Promise((r) => other.once('spawn', r));
      writeFileSync(join(reused, 'fare.pid'), JSON.stringify({ pid: other.pid, started: '12345', command: 'fare up' }));
      claimDataDir(reused, 'fare up');
      expect(JSON.parse(readFileSync(join(reused, 'fare.pid'), 'utf8'))).toMatchObject({ pid: process.pid });
    } finally {
      other.kill('SIGKILL');
    }
    // A claim cut short (an empty or garbled file) is taken over too.
    const garbled = fresh();
    writeFileSync(join(garbled, 'fare.pid'), '{"pid":');
    claimDataDir(garbled, 'fare up');
    expect(JSON.parse(readFileSync(join(garbled, 'fare.pid'), 'utf8'))).toMatchObject({ pid: process.pid });
  });
});
