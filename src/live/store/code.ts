// Function code on disk: `<data>/code/<tenant>/<name>/<version>/`, unpacked, private to Fare's user
// (directories 0700, files 0600, 0700 if executable): instances get their own copy (runtime/workdir.ts).
// An upload is written to `<data>/code/.staging/<uuid>/` first and renamed into place only when the
// database row that points at it is written, so a crash never leaves a row pointing at half a tree.

import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { StoreError } from './errors.ts';
import { fsyncDir } from './master-key.ts';

/** One entry of an uploaded archive; `read` is called once, when the file is written. */
export interface CodeFile {
  /** Relative path with `/` separators. */
  readonly path: string;
  readonly isDir: boolean;
  /** Unix permission bits to give the file (the executable bit matters for `bootstrap`). */
  readonly mode: number;
  readonly read: () => Buffer;
}

export const CODE_DIR = 'code';
const STAGING = '.staging';

const NAME_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

/** Path of a version's code relative to the data directory (what the database stores). */
export function versionCodePath(tenant: string, name: string, version: number): string {
  return join(functionCodePath(tenant, name), String(version));
}

export function functionCodePath(tenant: string, name: string): string {
  for (const s of [tenant, name]) {
    if (!NAME_SEGMENT.test(s)) throw new StoreError('FARE_E_CODE_PATH', `${JSON.stringify(s)} cannot name a code directory: use letters, digits, '-' and '_'`);
  }
  return join(CODE_DIR, tenant, name);
}

/** Rejects anything that could land outside `root`: absolute paths, `..`, empty or odd segments. */
export function safeJoin(root: string, path: string): string {
  const segs = path.split('/');
  if (path.length === 0 || path.includes('\\') || path.includes('\0') || path.startsWith('/') || /^[A-Za-z]:/.test(path)) {
    throw new StoreError('FARE_E_CODE_PATH', `archive entry ${JSON.stringify(path)} is not a relative path: rebuild the zip with paths relative to its root`);
  }
  for (const [i, s] of segs.entries()) {
    const trailing = i === segs.length - 1 && s === '';
    if (!trailing && (s === '' || s === '.' || s === '..')) {
      throw new StoreError('FARE_E_CODE_PATH', `archive entry ${JSON.stringify(path)} has a "${s}" segment: rebuild the zip without "..", "." or empty path segments`);
    }
  }
  const full = resolve(root, ...segs.filter((s) => s !== ''));
  if (!full.startsWith(resolve(root) + sep)) {
    throw new StoreError('FARE_E_CODE_PATH', `archive entry ${JSON.stringify(path)} points outside the code directory`);
  }
  return full;
}

/** Writes `files` to a fresh staging directory (files flushed to disk) and returns its absolute path. */
export async function stageCode(dataDir: string, files: Iterable<CodeFile>): Promise<string> {
  const dir = join(dataDir, CODE_DIR, STAGING, randomUUID());
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    for (const f of files) {
      const target = safeJoin(dir, f.path);
      if (f.isDir) {
        await mkdir(target, { recursive: true, mode: 0o700 });
        continue;
      }
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await writeFile(target, f.read(), { mode: f.mode & 0o111 ? 0o700 : 0o600, flag: 'wx', flush: true });
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** Moves a staged tree to `<dataDir>/<relPath>` (replacing a leftover there) and fsyncs the parent. */
export function commitStaged(dataDir: string, staged: string, relPath: string): void {
  const target = join(dataDir, relPath);
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  rmSync(target, { recursive: true, force: true });
  renameSync(staged, target);
  fsyncDir(dirname(target));
}

export function removeTree(dataDir: string, relPath: string): void {
  const target = resolve(dataDir, relPath);
  const root = resolve(dataDir, CODE_DIR);
  if (!target.startsWith(root + sep)) throw new StoreError('FARE_E_CODE_PATH', `refusing to remove ${target}: it is not under ${root}`);
  rmSync(target, { recursive: true, force: true });
}

/** Removes staging leftovers of uploads interrupted by a crash. */
export function clearStaging(dataDir: string): void {
  rmSync(join(dataDir, CODE_DIR, STAGING), { recursive: true, force: true });
}

/**
 * Deletes version directories of a function that are neither `keepRel` nor among the `keepLast`
 * newest versions (older instances may still be running the previous ones for a while).
 */
export function pruneVersions(dataDir: string, tenant: string, name: string, newest: number, keepRel: string, keepLast = 3): void {
  const fnDir = join(dataDir, functionCodePath(tenant, name));
  let entries: string[];
  try {
    entries = readdirSync(fnDir);
  } catch {
    return;
  }
  for (const e of entries) {
    const v = Number(e);
    if (!Number.isInteger(v) || v > newest - keepLast) continue;
    const rel = relative(dataDir, join(fnDir, e));
    if (rel === keepRel) continue;
    rmSync(join(fnDir, e), { recursive: true, force: true });
  }
}
