// A small zip reader for code uploads: the central directory is read and checked up front (paths,
// sizes, entry count, no encryption, only STORED and DEFLATE, symbolic links only inside the tree),
// then each entry is inflated on demand with node:zlib and checked against its declared size and
// CRC-32. A symbolic link (Unix mode S_IFLNK; its data is the target) is kept when its target stays
// inside the code (`linkProblem` in the store) and refused otherwise, naming the entry.
// No ZIP64 and no multi-disk archives: Lambda's own limits (250 MB unzipped) fit without them.

import { inflateRawSync } from 'node:zlib';
import { linkProblem, MAX_LINK_TARGET, type CodeFile } from '../store/index.ts';

export type ZipErrorCode = 'FARE_E_BAD_ZIP' | 'FARE_E_ZIP_UNSAFE_PATH' | 'FARE_E_ZIP_TOO_LARGE';

export class ZipError extends Error {
  readonly code: ZipErrorCode;
  constructor(code: ZipErrorCode, message: string) {
    super(message);
    this.name = 'ZipError';
    this.code = code;
  }
}

export interface ZipLimits {
  readonly maxEntries: number;
  /** Sum of the entries' uncompressed sizes. */
  readonly maxUnzippedBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 20_000, maxUnzippedBytes: 250 * 1024 * 1024 };

export interface ZipEntry extends CodeFile {
  readonly size: number;
  readonly compressedSize: number;
  readonly method: 0 | 8;
}

const EOCD_SIG = 0x06054b50;
const CDH_SIG = 0x02014b50;
const LFH_SIG = 0x04034b50;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const bad = (message: string): ZipError => new ZipError('FARE_E_BAD_ZIP', message);

/** A path that stays inside the code directory: relative, `/`-separated, no `.`/`..`/empty segments. */
export function checkEntryPath(name: string): string {
  const path = name.replace(/\\/g, '/');
  const unsafe = (why: string): ZipError =>
    new ZipError('FARE_E_ZIP_UNSAFE_PATH', `zip entry ${JSON.stringify(name)} ${why}: rebuild the zip with paths relative to its root (for example \`cd build && zip -r ../code.zip .\`)`);
  if (path.includes('\0')) throw unsafe('contains a NUL character');
  if (path.startsWith('/')) throw unsafe('is an absolute path');
  if (/^[A-Za-z]:/.test(path)) throw unsafe('starts with a drive letter');
  const segs = path.split('/');
  for (const [i, s] of segs.entries()) {
    if (s === '..') throw unsafe('climbs out of the archive with ".."');
    if (s === '.' || (s === '' && i !== segs.length - 1)) throw unsafe('has an empty or "." path segment');
  }
  if (path === '') throw unsafe('has an empty name');
  return path;
}

/** Parses and checks the archive's directory; entry contents are inflated when `read()` is called. */
export function readZip(buf: Buffer, limits: ZipLimits = DEFAULT_ZIP_LIMITS): ZipEntry[] {
  if (buf.length < 22) throw bad(`the upload is ${buf.length} bytes, too short to be a zip archive: send the zip file itself`);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('the upload is not a zip archive (no end-of-central-directory record): send a .zip file');
  const disk = buf.readUInt16LE(eocd + 4);
  const cdDisk = buf.readUInt16LE(eocd + 6);
  const onDisk = buf.readUInt16LE(eocd + 8);
  const total = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) throw bad('ZIP64 archives are not supported: keep the code under 4 GB and 65,535 files, and zip it without ZIP64');
  if (disk !== 0 || cdDisk !== 0 || onDisk !== total) throw bad('multi-part (spanned) zip archives are not supported: send a single-file zip');
  if (total > limits.maxEntries) throw new ZipError('FARE_E_ZIP_TOO_LARGE', `the zip has ${total} entries; at most ${limits.maxEntries} are accepted`);
  if (cdOffset + cdSize > eocd) throw bad('the zip central directory lies outside the file: the archive is truncated or corrupt');

  const entries: ZipEntry[] = [];
  const seen = new Set<string>();
  let unzipped = 0;
  let p = cdOffset;
  for (let n = 0; n < total; n++) {
    if (p + 46 > cdOffset + cdSize || buf.readUInt32LE(p) !== CDH_SIG) throw bad(`zip central directory entry ${n} is corrupt`);
    const madeBy = buf.readUInt16LE(p + 4);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const external = buf.readUInt32LE(p + 38);
    const localOffset = buf.readUInt32LE(p + 42);
    const nameEnd = p + 46 + nameLen;
    if (nameEnd > cdOffset + cdSize) throw bad(`zip central directory entry ${n} is truncated`);
    const rawName = buf.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, nameEnd);
    p = nameEnd + extraLen + commentLen;

    if (flags & 0x1) throw bad(`zip entry ${JSON.stringify(rawName)} is encrypted: upload an unencrypted zip`);
    if (method !== 0 && method !== 8) throw bad(`zip entry ${JSON.stringify(rawName)} uses compression method ${method}: only STORED (0) and DEFLATE (8) are supported; use plain \`zip\``);
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) throw bad(`zip entry ${JSON.stringify(rawName)} needs ZIP64, which is not supported`);
    const path = checkEntryPath(rawName);
    const unixMode = madeBy >> 8 === 3 ? external >>> 16 : 0;
    const isLink = (unixMode & S_IFMT) === S_IFLNK;
    if (isLink && size > MAX_LINK_TARGET) throw new ZipError('FARE_E_ZIP_UNSAFE_PATH', `zip entry ${JSON.stringify(rawName)} is a symbolic link with a target of ${size} bytes: at most ${MAX_LINK_TARGET} are accepted`);
    const isDir = path.endsWith('/') || (unixMode & S_IFMT) === S_IFDIR;
    const key = path.replace(/\/$/, '');
    if (seen.has(key)) throw bad(`zip entry ${JSON.stringify(rawName)} appears twice: keep one`);
    seen.add(key);
    unzipped += size;
    if (unzipped > limits.maxUnzippedBytes) {
      throw new ZipError('FARE_E_ZIP_TOO_LARGE', `the code unzips to more than ${limits.maxUnzippedBytes} bytes: make it smaller (leave out dev dependencies and tests)`);
    }
    if (localOffset + 30 > cdOffset) throw bad(`zip entry ${JSON.stringify(rawName)} points outside the archive`);

    const read = (): Buffer => {
      if (buf.readUInt32LE(localOffset) !== LFH_SIG) throw bad(`zip entry ${JSON.stringify(rawName)} has no local header where the directory says`);
      const start = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
      const end = start + compressedSize;
      if (end > cdOffset) throw bad(`zip entry ${JSON.stringify(rawName)} runs past the end of the archive's data`);
      const raw = buf.subarray(start, end);
      let data: Buffer;
      if (method === 0) {
        if (compressedSize !== size) throw bad(`stored zip entry ${JSON.stringify(rawName)} has different stored and declared sizes`);
        data = Buffer.from(raw);
      } else {
        try {
          data = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
        } catch (e) {
          throw bad(`zip entry ${JSON.stringify(rawName)} does not inflate (${(e as Error).message}): the archive is corrupt or its sizes are wrong`);
        }
      }
      if (data.length !== size) throw bad(`zip entry ${JSON.stringify(rawName)} inflates to ${data.length} bytes, not the ${size} declared`);
      if (crc32(data) !== crc) throw bad(`zip entry ${JSON.stringify(rawName)} fails its CRC-32 check: the archive is corrupt`);
      return data;
    };
    const mode = isDir ? 0o755 : (unixMode & 0o111) !== 0 ? 0o755 : 0o644;
    if (isLink) {
      const target = read();
      const text = target.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(target)) throw new ZipError('FARE_E_ZIP_UNSAFE_PATH', `zip entry ${JSON.stringify(rawName)} is a symbolic link whose target is not UTF-8: make it a relative link to a file or folder of the zip`);
      entries.push({ path, isDir, mode: 0o777, size, compressedSize, method, read, symlink: text });
    } else {
      entries.push({ path, isDir, mode, size, compressedSize, method, read });
    }
  }
  const problem = linkProblem(entries);
  if (problem !== undefined) throw new ZipError('FARE_E_ZIP_UNSAFE_PATH', problem);
  return entries;
}
