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

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof ZipError) return e.code;
    throw e;
  }
  return undefined;
};

describe('readZip', () => {
  it('reads an archive written by another implementation: STORED, DEFLATE, directories, exec bits', () => {
    const entries = readZip(PYTHON_ZIP);
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

  it('round-trips what the test writer writes', () => {
    const big = Buffer.alloc(100_000, 'abc');
    const entries = readZip(writeZip([{ name: 'a.txt', data: 'hello', method: 0 }, { name: 'd/big.bin', data: big }]));
    expect(entries.map((e) => e.path)).toEqual(['a.txt', 'd/big.bin']);
    expect(entries[1]?.read().equals(big)).toBe(true);
  });

  it('rejects what is not a zip', () => {
    expect(codeOf(() => readZip(Buffer.from('hello')))).toBe('FARE_E_BAD_ZIP');
    expect(codeOf(() => readZip(Buffer.alloc(1000, 1)))).toBe('FARE_E_BAD_ZIP');
    expect(codeOf(() => readZip(PYTHON_ZIP.subarray(0, PYTHON_ZIP.length - 40)))).toBe('FARE_E_BAD_ZIP');
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
  ])('rejects the unsafe path %j before anything is read', (name) => {
    expect(codeOf(() => readZip(writeZip([{ name: 'ok.js', data: 'x' }, { name, data: 'x' }])))).toBe('FARE_E_ZIP_UNSAFE_PATH');
  });

  it('accepts backslash separators from Windows tools, as forward slashes', () => {
    expect(checkEntryPath('dir\\file.js')).toBe('dir/file.js');
  });

  it('keeps a symbolic link that stays inside the code, with its target', () => {
    const entries = readZip(
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
  ])('refuses a symbolic link with %s, naming it and saying what to do', (_, links, message) => {
    const specs = [{ name: 'index.js', data: 'x' }, ...links.map((l) => ({ name: l.name, data: l.data, ...('file' in l ? {} : { mode: 0o120777 }) }))];
    let error: unknown;
    try {
      readZip(writeZip(specs));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ZipError);
    expect(error).toMatchObject({ code: 'FARE_E_ZIP_UNSAFE_PATH', message: expect.stringMatching(message) as unknown });
    expect((error as Error).message).toMatch(/zip the files it points to instead|put it in a real folder|make it a relative link/);
  });

  it('rejects encryption, unknown methods and duplicates', () => {
    expect(codeOf(() => readZip(writeZip([{ name: 'a.js', data: 'x', flags: 1 }])))).toBe('FARE_E_BAD_ZIP');
    expect(codeOf(() => readZip(writeZip([{ name: 'a.js', data: 'x', method: 12 }])))).toBe('FARE_E_BAD_ZIP');
    expect(codeOf(() => readZip(writeZip([{ name: 'a.js', data: 'x' }, { name: 'a.js', data: 'y' }])))).toBe('FARE_E_BAD_ZIP');
  });

  it('rejects corrupt data when an entry is read: bad CRC, or more bytes than declared', () => {
    const [crcBad] = readZip(writeZip([{ name: 'a.js', data: 'hello', crc: 1 }]));
    expect(codeOf(() => crcBad?.read())).toBe('FARE_E_BAD_ZIP');
    const [bomb] = readZip(writeZip([{ name: 'a.bin', data: Buffer.alloc(1_000_000), size: 10 }]));
    expect(() => bomb?.read()).toThrow(/does not inflate|inflates to/);
  });

  it('enforces the unzipped-size and entry-count limits from the directory, before inflating', () => {
    const zip = writeZip([{ name: 'a.bin', data: Buffer.alloc(600) }, { name: 'b.bin', data: Buffer.alloc(600) }]);
    expect(codeOf(() => readZip(zip, { maxEntries: 10, maxUnzippedBytes: 1000 }))).toBe('FARE_E_ZIP_TOO_LARGE');
    expect(codeOf(() => readZip(zip, { maxEntries: 1, maxUnzippedBytes: 1e9 }))).toBe('FARE_E_ZIP_TOO_LARGE');
    expect(readZip(zip, { maxEntries: 2, maxUnzippedBytes: 1200 })).toHaveLength(2);
  });
});
