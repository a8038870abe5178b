// A swap file for tests that need swap (root): made, switched on, and removed again.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface SwapFile {
  readonly path: string;
  remove(): void;
}

/** Why no swap file can be made here, or undefined. */
export function whyNoSwapFile(): string | undefined {
  if (process.platform !== 'linux') return 'swap needs Linux';
  if (process.getuid?.() !== 0) return 'making a swap file needs root';
  for (const cmd of ['mkswap', 'swapon', 'swapoff', 'fallocate']) if (spawnSync('which', [cmd]).status !== 0) return `${cmd} is missing`;
  return undefined;
}

/** Makes and switches on a swap file of `mb` MB under /var/tmp; throws saying why it could not. */
export function makeSwapFile(mb: number): SwapFile {
  const dir = mkdtempSync('/var/tmp/fare-swap-');
  const path = join(dir, 'swapfile');
  const run = (cmd: string, args: string[]): void => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
    }
  };
  run('fallocate', ['-l', `${mb}M`, path]);
  run('chmod', ['600', path]);
  run('mkswap', [path]);
  run('swapon', [path]);
  return {
    path,
    remove: () => {
      spawnSync('swapoff', [path]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
