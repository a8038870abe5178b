// The zip writer, over fflate's streaming `Zip` (synchronous: it calls back before `end()` returns),
// so `fare deploy DIR` can upload a directory as the zip that the Fare API and Lambda-style tooling
// expect, and the cluster can ship a code tree as one. fflate writes the headers, the data
// descriptors, the central directory and the CRC-32s; the data is deflated by node:zlib (through
// fflate's documented `process` hook; native, it keeps the previous writer's speed). Entries are
// written in the order given, with Unix modes (the executable bit of a `provided` bootstrap) and
// symbolic links as `zip -y` stores them, and a fixed date, so the same files give the same zip.
// No ZIP64: entries and the archive stay under 4 GiB, far above Fare's upload limit.

import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { Zip, ZipPassThrough } from 'fflate';

export interface ZipInput {
  /** Path inside the archive, `/`-separated, no leading slash. */
  readonly path: string;
  /** The file's bytes; for a symbolic link, its target. */
  readonly data: Buffer;
  /** Unix permission bits (the executable bit matters for a `provided` bootstrap). */
  readonly mode?: number;
  /** A symbolic link (whose target is `data`), stored as zip -y does. */
  readonly symlink?: boolean;
}

const UNIX = 3;
const DEFLATE = 8;
/** 1980-01-01 00:00, the first DOS date (fflate writes local time, so this is the same in every zone). */
const FIXED_DATE = new Date(1980, 0, 1);

/**
 * One entry, DEFLATEd by node:zlib. Every entry is DEFLATE, even where it does not shrink: fflate's
 * streaming writer sizes entries in data descriptors, which every reader allows after DEFLATE data
 * (it ends itself) but some refuse after STORED data.
 */
class ZlibDeflate extends ZipPassThrough {
  constructor(path: string) {
    super(path);
    this.compression = DEFLATE;
  }

  protected override process(chunk: Uint8Array, final: boolean): void {
    if (!final) throw new Error('ZlibDeflate takes one chunk, the whole file');
    this.ondata(null, deflateRawSync(chunk), final);
  }
}

export function writeZip(entries: readonly ZipInput[]): Buffer {
  const chunks: Uint8Array[] = [];
  const failures: Error[] = [];
  let done = false;
  const zip = new Zip((err, chunk, final) => {
    if (err !== null) failures.push(err);
    else chunks.push(chunk);
    if (final) done = true;
  });
  for (const e of entries) {
    const file = new ZlibDeflate(e.path);
    file.os = UNIX;
    file.attrs = ((e.symlink === true ? 0o120777 : (e.mode ?? 0o644) | 0o100000) << 16) >>> 0;
    file.mtime = FIXED_DATE;
    zip.add(file);
    file.push(e.data, true);
  }
  zip.end();
  if (failures[0] !== undefined) throw failures[0];
  if (!done) throw new Error('fflate did not finish the zip synchronously');
  return Buffer.concat(chunks);
}

/**
 * Every file under `dir` (sorted, so the same tree gives the same zip), with its mode; symbolic links
 * as links (Fare keeps those that stay inside the code and refuses the others, naming them).
 */
export function zipDirectory(dir: string): Buffer {
  const entries: ZipInput[] = [];
  const walk = (d: string): void => {
    for (const ent of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(d, ent.name);
      const path = relative(dir, full).split(sep).join('/');
      if (ent.isSymbolicLink()) entries.push({ path, data: Buffer.from(readlinkSync(full), 'utf8'), symlink: true });
      else if (ent.isDirectory()) walk(full);
      else if (ent.isFile()) entries.push({ path, data: readFileSync(full), mode: statSync(full).mode & 0o777 });
    }
  };
  walk(dir);
  return writeZip(entries);
}
