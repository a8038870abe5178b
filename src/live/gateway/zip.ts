// The zip reader for code uploads, over yauzl: yauzl parses the archive (end record, central
// directory, extra fields, CP437 or UTF-8 names, the Unicode path field, stored sizes, where each
// entry's data starts and that it lies inside the file); Fare checks what it needs up front (entry
// count, paths, the unzipped total, no encryption, only STORED and DEFLATE, no ZIP64, no duplicates,
// symbolic links only inside the tree) before any entry is inflated. Each entry is inflated on demand
// by `read()` with node:zlib, bounded by its declared size, and checked against that size and its
// CRC-32 (yauzl checks no CRC). A symbolic link (Unix mode S_IFLNK; its data is the target) is kept
// when its target stays inside the code (`linkProblem` in the store) and refused otherwise, naming it.
// No ZIP64 and no multi-disk archives: Lambda's own limits (250 MB unzipped) fit without them.

import { crc32, inflateRawSync } from 'node:zlib';
import { fromBufferPromise, getFileNameLowLevel, type Entry, type ZipFile } from 'yauzl';
import { linkProblem, MAX_LINK_TARGET, type CodeFile } from '../store/index.ts';

export { crc32 };

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

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const ZIP64_EXTRA = 0x0001;
const EOCD = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const ZIP64_LOCATOR = 0x07064b50;

const bad = (message: string): ZipError => new ZipError('FARE_E_BAD_ZIP', message);

/** yauzl's errors are plain `Error`s: say what they mean for an upload. */
function fromYauzl(e: unknown): ZipError {
  if (e instanceof ZipError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (msg.startsWith('End of central directory record signature not found')) return bad('the upload is not a zip archive (no end-of-central-directory record): send a .zip file');
  if (msg.startsWith('multi-disk')) return bad('multi-part (spanned) zip archives are not supported: send a single-file zip');
  if (msg.startsWith('Invalid comment length')) return bad('the zip has bytes after its end record (or a damaged archive comment): send the zip file itself, as `zip` wrote it');
  if (msg.includes('encryption')) return bad(`the zip uses encryption (${msg}): upload an unencrypted zip`);
  return bad(`the zip is truncated or corrupt (${msg}): rebuild it (for example \`zip -r code.zip .\`) and upload it again`);
}

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

/** One central-directory entry that passed the checks, before its data is located. */
interface Checked {
  readonly entry: Entry;
  readonly rawName: string;
  readonly path: string;
  readonly isDir: boolean;
  readonly isLink: boolean;
  readonly unixMode: number;
  readonly method: 0 | 8;
}

/** Reads the central directory through yauzl and checks every entry, inflating nothing. */
async function checkDirectory(zip: ZipFile, limits: ZipLimits): Promise<Checked[]> {
  if (zip.entryCount > 0xffff) throw bad('ZIP64 archives are not supported: keep the code under 4 GB and 65,535 files, and zip it without ZIP64');
  if (zip.entryCount > limits.maxEntries) throw new ZipError('FARE_E_ZIP_TOO_LARGE', `the zip has ${zip.entryCount} entries; at most ${limits.maxEntries} are accepted`);
  const checked: Checked[] = [];
  const seen = new Set<string>();
  let unzipped = 0;
  for await (const entry of zip.eachEntry()) {
    // decodeStrings is off, so yauzl's own path checks (terser, without Fare's codes) do not run:
    // the name is decoded as yauzl would (UTF-8 flag, Unicode path field, else CP437) and checked here.
    const rawName = getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
    const quoted = JSON.stringify(rawName);
    if (entry.isEncrypted()) throw bad(`zip entry ${quoted} is encrypted: upload an unencrypted zip`);
    const method = entry.compressionMethod;
    if (method !== 0 && method !== 8) throw bad(`zip entry ${quoted} uses compression method ${method}: only STORED (0) and DEFLATE (8) are supported; use plain \`zip\``);
    if (entry.extraFields.some((f) => f.id === ZIP64_EXTRA)) throw bad(`zip entry ${quoted} needs ZIP64, which is not supported`);
    const path = checkEntryPath(rawName);
    const unixMode = entry.versionMadeBy >> 8 === 3 ? entry.externalFileAttributes >>> 16 : 0;
    const isLink = (unixMode & S_IFMT) === S_IFLNK;
    const size = entry.uncompressedSize;
    if (isLink && size > MAX_LINK_TARGET) throw new ZipError('FARE_E_ZIP_UNSAFE_PATH', `zip entry ${quoted} is a symbolic link with a target of ${size} bytes: at most ${MAX_LINK_TARGET} are accepted`);
    const isDir = path.endsWith('/') || (unixMode & S_IFMT) === S_IFDIR;
    const key = path.replace(/\/$/, '');
    if (seen.has(key)) throw bad(`zip entry ${quoted} appears twice: keep one`);
    seen.add(key);
    unzipped += size;
    if (unzipped > limits.maxUnzippedBytes) {
      throw new ZipError('FARE_E_ZIP_TOO_LARGE', `the code unzips to more than ${limits.maxUnzippedBytes} bytes: make it smaller (leave out dev dependencies and tests)`);
    }
    checked.push({ entry, rawName, path, isDir, isLink, unixMode, method });
  }
  return checked;
}

/**
 * Checks the archive's directory (paths, sizes, entry count, links) and locates each entry's data;
 * entry contents are inflated and CRC-checked when `read()` is called.
 */
export async function readZip(buf: Buffer, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<ZipEntry[]> {
  if (buf.length < 22) throw bad(`the upload is ${buf.length} bytes, too short to be a zip archive: send the zip file itself`);
  // yauzl reads ZIP64 archives; Fare refuses them (see the top of this file). The end record is the
  // last signature that leaves room for it, as yauzl finds it; a ZIP64 locator sits just before it.
  const eocd = buf.lastIndexOf(EOCD, buf.length - 22);
  if (eocd >= 20 && buf.readUInt32LE(eocd - 20) === ZIP64_LOCATOR) throw bad('ZIP64 archives are not supported: keep the code under 4 GB and 65,535 files, and zip it without ZIP64');

  const entries: ZipEntry[] = [];
  let zip: ZipFile | undefined;
  try {
    zip = await fromBufferPromise(buf, { decodeStrings: false, validateEntrySizes: true, strictFileNames: false });
    for (const c of await checkDirectory(zip, limits)) {
      const { entry, rawName, path, isDir, isLink, unixMode, method } = c;
      const quoted = JSON.stringify(rawName);
      const { compressedSize, uncompressedSize: size, crc32: crc } = entry;
      // The local header's signature, and that the data lies inside the file.
      const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
      const read = (): Buffer => {
        const raw = buf.subarray(fileDataStart, fileDataStart + compressedSize);
        let data: Buffer;
        if (method === 0) {
          data = Buffer.from(raw); // yauzl checked that a stored entry's two sizes agree
        } else {
          try {
            data = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
          } catch (e) {
            throw bad(`zip entry ${quoted} does not inflate (${(e as Error).message}): the archive is corrupt or its sizes are wrong`);
          }
        }
        if (data.length !== size) throw bad(`zip entry ${quoted} inflates to ${data.length} bytes, not the ${size} declared`);
        if (crc32(data) !== crc) throw bad(`zip entry ${quoted} fails its CRC-32 check: the archive is corrupt`);
        return data;
      };
      const mode = isDir ? 0o755 : (unixMode & 0o111) !== 0 ? 0o755 : 0o644;
      if (isLink) {
        const target = read();
        const text = target.toString('utf8');
        if (!Buffer.from(text, 'utf8').equals(target)) throw new ZipError('FARE_E_ZIP_UNSAFE_PATH', `zip entry ${quoted} is a symbolic link whose target is not UTF-8: make it a relative link to a file or folder of the zip`);
        entries.push({ path, isDir, mode: 0o777, size, compressedSize, method, read, symlink: text });
      } else {
        entries.push({ path, isDir, mode, size, compressedSize, method, read });
      }
    }
  } catch (e) {
    throw fromYauzl(e);
  } finally {
    zip?.close();
  }
  const problem = linkProblem(entries);
  if (problem !== undefined) throw new ZipError('FARE_E_ZIP_UNSAFE_PATH', problem);
  return entries;
}
