// A small ZIP writer (deflate via node:zlib, CRC-32 by table) so `fare deploy DIR` can upload a
// directory as the zip that the Fare API and Lambda-style tooling expect. No ZIP64: entries and the
// archive stay under 4 GiB, far above Fare's upload limit.

import { deflateRawSync } from 'node:zlib';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { crc32 } from './zip.ts';

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

export function writeZip(entries: readonly ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.path, 'utf8');
    const deflated = deflateRawSync(e.data);
    const useDeflate = deflated.length < e.data.length;
    const body = useDeflate ? deflated : e.data;
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(useDeflate ? 8 : 0, 8);
    local.writeUInt32LE(0, 10); // time/date: fixed, so the same files give the same zip
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(useDeflate ? 8 : 0, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.symlink === true ? 0o120777 : (e.mode ?? 0o644) | 0o100000) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
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
