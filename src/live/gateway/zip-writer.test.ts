import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readZip } from './zip.ts';
import { crc32 } from './zip.ts';
import { writeZip, zipDirectory } from './zip-writer.ts';

describe('writeZip', () => {
  it('writes archives that the gateway reads back byte for byte, modes included', () => {
    const big = Buffer.from('hello '.repeat(1000));
    const zip = writeZip([
      { path: 'index.mjs', data: Buffer.from('export const handler = async () => 1;\n') },
      { path: 'lib/big.txt', data: big },
      { path: 'bootstrap', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
    ]);
    const entries = readZip(zip, { maxEntries: 10, maxUnzippedBytes: 1 << 20 }).filter((e) => !e.isDir);
    expect(entries.map((e) => e.path).sort()).toEqual(['bootstrap', 'index.mjs', 'lib/big.txt']);
    expect(entries.find((e) => e.path === 'lib/big.txt')?.read().equals(big)).toBe(true);
    expect((entries.find((e) => e.path === 'bootstrap')?.mode ?? 0) & 0o111).not.toBe(0);
  });

  it('zips a directory with its symbolic links as links, which the gateway keeps when they stay inside', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-zipdir-'));
    try {
      mkdirSync(join(dir, 'lib'));
      writeFileSync(join(dir, 'lib', 'real.js'), 'x');
      symlinkSync('lib/real.js', join(dir, 'index.js'));
      const entries = readZip(zipDirectory(dir));
      expect(entries.map((e) => [e.path, e.symlink])).toEqual([['index.js', 'lib/real.js'], ['lib/real.js', undefined]]);
      symlinkSync('/etc/hostname', join(dir, 'outside'));
      expect(() => readZip(zipDirectory(dir))).toThrow(/"outside" is a symbolic link to the absolute path/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
