import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readZip } from './zip.ts';
import { crc32 } from './zip.ts';
import { writeZip, zipDirectory } from './zip-writer.ts';

describe('writeZip', () => {
  it('writes archives that the gateway reads back byte for byte, modes included', async () => {
    const big = Buffer.from('hello '.repeat(1000));
    const zip = writeZip([
      { path: 'index.mjs', data: Buffer.from('export const handler = async () => 1;\n') },
      { path: 'lib/big.txt', data: big },
      { path: 'bootstrap', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
    ]);
    const entries = (await readZip(zip, { maxEntries: 10, maxUnzippedBytes: 1 << 20 })).filter((e) => !e.isDir);
    expect(entries.map((e) => e.path).sort()).toEqual(['bootstrap', 'index.mjs', 'lib/big.txt']);
    expect(entries.find((e) => e.path === 'lib/big.txt')?.read().equals(big)).toBe(true);
    expect((entries.find((e) => e.path === 'bootstrap')?.mode ?? 0) & 0o111).not.toBe(0);
  });

  it('zips a directory with its symbolic links as links, which the gateway keeps when they stay inside', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-zipdir-'));
    try {
      mkdirSync(join(dir, 'lib'));
      writeFileSync(join(dir, 'lib', 'real.js'), 'x');
      symlinkSync('lib/real.js', join(dir, 'index.js'));
      const entries = await readZip(zipDirectory(dir));
      expect(entries.map((e) => [e.path, e.symlink])).toEqual([['index.js', 'lib/real.js'], ['lib/real.js', undefined]]);
      symlinkSync('/etc/hostname', join(dir, 'outside'));
      await expect(readZip(zipDirectory(dir))).rejects.toThrow(/"outside" is a symbolic link to the absolute path/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('keeps the given order and every name, even ones that are special as object keys, and gives the same zip for the same files', async () => {
    const files = ['__proto__', 'b.js', '10', 'constructor', '2'].map((path) => ({ path, data: Buffer.from(path) }));
    const zip = writeZip(files);
    expect(writeZip(files).equals(zip)).toBe(true);
    const entries = await readZip(zip);
    expect(entries.map((e) => [e.path, e.read().toString()])).toEqual(files.map((f) => [f.path, f.path]));
  });
});
