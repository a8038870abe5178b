import { describe, expect, it } from 'vitest';
import { readZip } from './gateway/zip.ts';
import { crc32 } from './gateway/zip.ts';
import { writeZip } from './zip-writer.ts';

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

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
