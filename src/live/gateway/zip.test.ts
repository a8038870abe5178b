import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { writeZip } from './testing.ts';
import { checkEntryPath, crc32, readZip, ZipError } from './zip.ts';

/** Made with Python's zipfile (an independent writer): lib/ (dir), index.js (DEFLATE), lib/util.js (STORED), bootstrap (0755). */
const PYTHON_ZIP = Buffer.from(
  'UEsDBBQAAAAAAAAAIQAAAAAAAAAAAAAAAAAEAAAAbGliL1BLAwQUAAAACAAAACEACRGhzUQAAAC9AAAACAAAAGluZGV4LmpzS60o' +
    'yC8qKdbLSMxLyUktUrBVSCyuzEtW0EjVVLC1U9CoVshIzcnJt1JI1ctLzE1VsLdXUC/PL8pJUVeo1bTmSh1Q7QBQSwMEFAAAAAAA' +
    'AAAhAPQu2PYVAAAAFQAAAAsAAABsaWIvdXRpbC5qc21vZHVsZS5leHBvcnRzID0gNDI7ClBLAwQUAAAACAAAACEALzra6RQAAAAS' +
    'AAAACQAAAGJvb3RzdHJhcFNW1E/KzNMvzuBKTc7IV8jI5AIAUEsBAhQDFAAAAAAAAAAhAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAQ' +
    'AO1BAAAAAGxpYi9QSwECFAMUAAAACAAAACEACRGhzUQAAAC9AAAACAAAAAAAAAAAAAAApIEiAAAAaW5kZXguanNQSwECFAMUAAAA' +
    'AAAAACEA9C7Y9hUAAAAVAAAACwAAAAAAAAAAAAAApIGMAAAAbGliL3V0aWwuanNQSwECFAMUAAAACAAAACEALzra6RQAAAASAAAA' +
    'CQAAAAAAAAAAAAAA7YHKAAAAYm9vdHN0cmFwUEsFBgAAAAAEAAQA2AAAAAUBAAAAAA==',
  'base64',
);

const codeOf = async (f: () => unknown): Promise<string | undefined> => {
  try {
    await f();
  } catch (e) {
    if (e instanceof ZipError) return e.code;
    throw e;
  }
  return undefined;
};

describe('readZip', () => {
  it('reads an archive written by another implementation: STORED, DEFLATE, directories, exec bits', async () => {
    const entries = await readZip(PYTHON_ZIP);
    expect(entries.map((e) => [e.path, e.isDir, e.method, e.mode.toString(8)])).toEqual([
      ['lib/', true, 0, '755'],
      ['index.js', false, 8, '644'],
      ['lib/util.js', false, 0, '644'],
      ['bootstrap', false, 8, '755'],
    ]);
    expect(entries[1]?.read().toString()).toContain('exports.handler');
    expect(entries[2]?.read().toString()).toBe('module.exports = 42;\n');
    expect(entries[3]?.read().toString()).toBe('#!/bin/sh\necho hi\n');
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips what the test writer writes', async () => {
    const big = Buffer.alloc(100_000, 'abc');
    const entries = await readZip(writeZip([{ name: 'a.txt', data: 'hello', method: 0 }, { name: 'd/big.bin', data: big }]));
    expect(entries.map((e) => e.path)).toEqual(['a.txt', 'd/big.bin']);
    expect(entries[1]?.read().equals(big)).toBe(true);
  });

  it('rejects what is not a zip', async () => {
    expect(await codeOf(() => readZip(Buffer.from('hello')))).toBe('FARE_E_BAD_ZIP');
    expect(await codeOf(() => readZip(Buffer.alloc(1000, 1)))).toBe('FARE_E_BAD_ZIP');
    expect(await codeOf(() => readZip(PYTHON_ZIP.subarray(0, PYTHON_ZIP.length - 40)))).toBe('FARE_E_BAD_ZIP');
  });

  it.each([
    ['../evil.js'],
    ['a/../../evil.js'],
    ['/etc/passwd'],
    ['C:/Windows/evil.dll'],
    ['..\\evil.js'],
    ['a//b.js'],
    ['./a.js'],
    ['a/./b.js'],
    ['nul\0.js'],
  ])('rejects the unsafe path %j before anything is read', async (name) => {
    expect(await codeOf(() => readZip(writeZip([{ name: 'ok.js', data: 'x' }, { name, data: 'x' }])))).toBe('FARE_E_ZIP_UNSAFE_PATH');
  });

  it('accepts backslash separators from Windows tools, as forward slashes', () => {
    expect(checkEntryPath('dir\\file.js')).toBe('dir/file.js');
  });

  it('keeps a symbolic link that stays inside the code, with its target', async () => {
    const entries = await readZip(
      writeZip([
        { name: 'lib/', data: '' },
        { name: 'lib/real.js', data: 'x' },
        { name: 'lib/sub/', data: '' },
        { name: 'index.js', data: 'y' },
        { name: 'alias.js', data: 'lib/real.js', mode: 0o120777 },
        { name: 'lib/sub/up.js', data: '../real.js', mode: 0o120777 },
        { name: 'lib/sub/dir', data: '../../lib', mode: 0o120777, method: 0 },
        { name: 'lib/sub/root', data: '../..', mode: 0o120777 },
      ]),
    );
    expect(entries.filter((e) => e.symlink !== undefined).map((e) => [e.path, e.symlink])).toEqual([
      ['alias.js', 'lib/real.js'],
      ['lib/sub/up.js', '../real.js'],
      ['lib/sub/dir', '../../lib'],
      ['lib/sub/root', '../..'],
    ]);
  });

  it.each([
    ['an absolute target', [{ name: 'link', data: '/etc/passwd' }], /"link" is a symbolic link to the absolute path "\/etc\/passwd"/],
    ['a target above the root', [{ name: 'a/link', data: '../../etc/passwd' }], /"a\/link" is a symbolic link to "..\/..\/etc\/passwd", which climbs out of the code/],
    ['a target through another link', [{ name: 'up', data: '.' }, { name: 'a/link', data: '../up/../..' }], /"a\/link" is a symbolic link to "..\/up\/..\/..", which goes through the symbolic link "up"/],
    ['a link to a link', [{ name: 'one', data: 'index.js' }, { name: 'two', data: 'one' }], /"two" is a symbolic link to "one", which goes through the symbolic link "one"/],
    ['a target not in the zip', [{ name: 'link', data: 'missing.js' }], /"link" is a symbolic link to "missing.js", which is not in the zip/],
    ['an entry inside a link', [{ name: 'dir', data: '.' }, { name: 'dir/x.js', data: 'x', file: true }], /"dir\/x.js" lies inside the symbolic link "dir"/],
    ['a backslash in the target', [{ name: 'link', data: '..\\..\\x' }], /"link" is a symbolic link with an empty, overlong or odd target/],
  ])('refuses a symbolic link with %s, naming it and saying what to do', async (_, links, message) => {
    const specs = [{ name: 'index.js', data: 'x' }, ...links.map((l) => ({ name: l.name, data: l.data, ...('file' in l ? {} : { mode: 0o120777 }) }))];
    let error: unknown;
    try {
      await readZip(writeZip(specs));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ZipError);
    expect(error).toMatchObject({ code: 'FARE_E_ZIP_UNSAFE_PATH', message: expect.stringMatching(message) as unknown });
    expect((error as Error).message).toMatch(/zip the files it points to instead|put it in a real folder|make it a relative link/);
  });

  it('rejects encryption, unknown methods and duplicates', async () => {
    await expect(readZip(writeZip([{ name: 'a.js', data: 'x', flags: 1 }]))).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/"a.js" is encrypted: upload an unencrypted zip/) as unknown });
    await expect(readZip(writeZip([{ name: 'a.js', data: 'x', method: 12 }]))).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/compression method 12/) as unknown });
    await expect(readZip(writeZip([{ name: 'a.js', data: 'x' }, { name: 'a.js', data: 'y' }]))).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/"a.js" appears twice/) as unknown });
  });

  it('rejects corrupt data when an entry is read: bad CRC, or more bytes than declared', async () => {
    const [crcBad] = await readZip(writeZip([{ name: 'a.js', data: 'hello', crc: 1 }]));
    expect(await codeOf(() => crcBad?.read())).toBe('FARE_E_BAD_ZIP');
    const [bomb] = await readZip(writeZip([{ name: 'a.bin', data: Buffer.alloc(1_000_000), size: 10 }]));
    expect(() => bomb?.read()).toThrow(/does not inflate|inflates to/);
  });

  it('enforces the unzipped-size and entry-count limits from the directory, before inflating', async () => {
    const zip = writeZip([{ name: 'a.bin', data: Buffer.alloc(600) }, { name: 'b.bin', data: Buffer.alloc(600) }]);
    expect(await codeOf(() => readZip(zip, { maxEntries: 10, maxUnzippedBytes: 1000 }))).toBe('FARE_E_ZIP_TOO_LARGE');
    expect(await codeOf(() => readZip(zip, { maxEntries: 1, maxUnzippedBytes: 1e9 }))).toBe('FARE_E_ZIP_TOO_LARGE');
    expect(await readZip(zip, { maxEntries: 2, maxUnzippedBytes: 1200 })).toHaveLength(2);
  });

  // Edges where the reader (yauzl since issue 16) differs from the hand-written one, or is stricter.
  const central = (zip: Buffer): number => zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));

  it('refuses, before reading anything, a central directory that puts an entry\'s data past the end of the file', async () => {
    const zip = writeZip([{ name: 'index.js', data: 'exports.handler = 1;' }]);
    zip.writeUInt32LE(1_000_000, central(zip) + 20); // compressed size
    await expect(readZip(zip)).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/truncated or corrupt \(file data overflows file bounds/) as unknown });
  });

  it('refuses a stored entry whose directory sizes disagree up front, not when it is read', async () => {
    await expect(readZip(writeZip([{ name: 'a.js', data: 'hello', method: 0, size: 3 }]))).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/size mismatch for stored file: 5 != 3/) as unknown });
  });

  it('decodes names without the UTF-8 flag as CP437, as zip tools on Windows wrote them', async () => {
    const zip = writeZip([{ name: 'X.js', data: 'x' }]);
    const cd = central(zip);
    zip[30] = 0x81; // the local header's copy of the name, then the directory's
    zip[cd + 46] = 0x81;
    zip.writeUInt16LE(0, 6);
    zip.writeUInt16LE(0, cd + 8);
    expect((await readZip(zip)).map((e) => e.path)).toEqual(['\u00fc.js']); // ü.js
  });

  it('refuses bytes after the end record (which the old reader ignored)', async () => {
    const zip = writeZip([{ name: 'a.js', data: 'x' }]);
    await expect(readZip(Buffer.concat([zip, Buffer.from('trailing')]))).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/bytes after its end record/) as unknown });
  });

  it('refuses ZIP64, which yauzl could read, as Fare documents: an entry with a ZIP64 field, or a ZIP64 end record', async () => {
    const withField = Buffer.from(zipSync({ 'a.js': [Buffer.from('x'), { extra: { 1: new Uint8Array(8) } }] }));
    await expect(readZip(withField)).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/"a.js" needs ZIP64, which is not supported/) as unknown });
    const zip = writeZip([{ name: 'a.js', data: 'x' }]);
    const end = zip.length - 22;
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    const zip64 = Buffer.concat([zip.subarray(0, end), locator, zip.subarray(end)]);
    await expect(readZip(zip64)).rejects.toMatchObject({ code: 'FARE_E_BAD_ZIP', message: expect.stringMatching(/^ZIP64 archives are not supported/) as unknown });
  });
});
