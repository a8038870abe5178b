// Function code on disk: `<data>/code/<tenant>/<name>/<version>/`, unpacked, private to Fare's user
// (directories 0700, files 0600, 0700 if executable): instances get their own copy (runtime/workdir.ts).
// An upload is written to `<data>/code/.staging/<uuid>/` first and renamed into place only when the
// database row that points at it is written, so a crash never leaves a row pointing at half a tree.
// The zip as uploaded is kept beside it, content-addressed: `<data>/zips/<sha256 hex>.zip` (what
// GetFunction's code location answers, so its hash is the function's CodeSha256), staged the same way.

import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { StoreError } from './errors.ts';
import { fsyncPath } from './master-key.ts';

/** One entry of an uploaded archive; `read` is called once, when the file is written. */
export interface CodeFile {
  /** Relative path with `/` separators. */
  readonly path: string;
  readonly isDir: boolean;
  /** Unix permission bits to give the file (the executable bit matters for `bootstrap`). */
  readonly mode: number;
  readonly read: () => Buffer;
  /** A symbolic link to this target (relative, inside the tree: `linkProblem`), not a file. */
  readonly symlink?: string;
}

/** Longest symbolic link target accepted. */
export const MAX_LINK_TARGET = 1024;

export const CODE_DIR = 'code';
const STAGING = '.staging';
/** Uploaded zips as uploaded, `<sha256 hex>.zip`, relative to the data directory. */
export const ZIP_DIR = 'zips';
const HEX64 = /^[0-9a-f]{64}$/;

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

/**
 * Why the symbolic links among `files` cannot be kept, or undefined if they can. A link is kept
 * when it stays inside the tree whatever the file system does: its target is relative, and resolving
 * it from the link's folder, segment by segment, never climbs above the root with `..` and never
 * passes through a link (so no chain of links, and no `..` taken from inside a linked folder); and it
 * names an entry of the tree (a file, a folder or the root). No entry may lie inside a link either
 * (writing it would follow the link). The message names the entry and says what to do.
 */
export function linkProblem(files: Iterable<Pick<CodeFile, 'path' | 'isDir' | 'symlink'>>): string | undefined {
  const list = [...files];
  const strip = (p: string): string => p.replace(/\/$/, '');
  const links = new Set(list.filter((f) => f.symlink !== undefined).map((f) => strip(f.path)));
  if (links.size === 0) return undefined;
  const present = new Set<string>(['']);
  for (const f of list) {
    const segs = strip(f.path).split('/');
    for (let i = 1; i <= segs.length; i++) present.add(segs.slice(0, i).join('/'));
  }
  const fix = 'zip the files it points to instead (`zip -r` without -y), or make it a relative link to a file or folder of the zip';
  for (const f of list) {
    const segs = strip(f.path).split('/');
    for (let i = 1; i < segs.length; i++) {
      const above = segs.slice(0, i).join('/');
      if (links.has(above)) return `zip entry ${JSON.stringify(f.path)} lies inside the symbolic link ${JSON.stringify(above)}: put it in a real folder`;
    }
    const target = f.symlink;
    if (target === undefined) continue;
    const name = JSON.stringify(f.path);
    if (f.isDir || f.path.endsWith('/')) return `zip entry ${name} is a symbolic link marked as a folder: ${fix}`;
    if (target === '' || target.length > MAX_LINK_TARGET || target.includes('\0') || target.includes('\\')) return `zip entry ${name} is a symbolic link with an empty, overlong or odd target: ${fix}`;
    if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) return `zip entry ${name} is a symbolic link to the absolute path ${JSON.stringify(target)}, outside the code: ${fix}`;
    const at = segs.slice(0, -1);
    for (const s of target.split('/')) {
      if (s === '' || s === '.') continue;
      if (s === '..') {
        if (at.length === 0) return `zip entry ${name} is a symbolic link to ${JSON.stringify(target)}, which climbs out of the code with "..": ${fix}`;
        at.pop();
        continue;
      }
      at.push(s);
      if (links.has(at.join('/'))) return `zip entry ${name} is a symbolic link to ${JSON.stringify(target)}, which goes through the symbolic link ${JSON.stringify(at.join('/'))}: links to links are not kept; ${fix}`;
    }
    if (!present.has(at.join('/'))) return `zip entry ${name} is a symbolic link to ${JSON.stringify(target)}, which is not in the zip: ${fix}`;
  }
  return undefined;
}

/**
 * Writes `files` to a fresh staging directory (files flushed to disk; symbolic links, once checked
 * by `linkProblem`, last) and returns its absolute path.
 */
export async function stageCode(dataDir: string, files: Iterable<CodeFile>): Promise<string> {
  const list = [...files];
  const problem = linkProblem(list);
  if (problem !== undefined) throw new StoreError('FARE_E_CODE_PATH', problem);
  const dir = join(dataDir, CODE_DIR, STAGING, randomUUID());
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    for (const f of list) {
      const target = safeJoin(dir, f.path);
      if (f.symlink !== undefined) continue;
      if (f.isDir) {
        await mkdir(target, { recursive: true, mode: 0o700 });
        continue;
      }
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await writeFile(target, f.read(), { mode: f.mode & 0o111 ? 0o700 : 0o600, flag: 'wx', flush: true });
    }
    for (const f of list) {
      if (f.symlink === undefined) continue;
      const at = safeJoin(dir, f.path);
      await mkdir(dirname(at), { recursive: true, mode: 0o755 });
      await symlink(f.symlink, at);
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
  fsyncPath(dirname(target));
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
 * Deletes version directories of a function that are neither in `keep` (the current one, those of
 * published versions) nor among the `keepLast`
 * newest versions (older instances may still be running the previous ones for a while).
 */
export function pruneVersions(dataDir: string, tenant: string, name: string, newest: number, keep: string | ReadonlySet<string>, keepLast = 3): void {
  const kept = typeof keep === 'string' ? new Set([keep]) : keep;
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
    if (kept.has(rel)) continue;
    rmSync(join(fnDir, e), { recursive: true, force: true });
  }
}

/** Where the upload whose hex SHA-256 is `sha` is kept (whether or not it is there); undefined for a hash that names no zip. */
export function zipPath(dataDir: string, sha: string): string | undefined {
  return HEX64.test(sha) ? join(dataDir, ZIP_DIR, `${sha}.zip`) : undefined;
}

/**
 * Writes an uploaded zip, as is, to a fresh staging file (flushed to disk; under the code's staging
 * directory, so an interrupted upload is cleared at start-up with the rest) and returns its path.
 */
export async function stageZip(dataDir: string, zip: Uint8Array): Promise<string> {
  const dir = join(dataDir, CODE_DIR, STAGING);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${randomUUID()}.zip`);
  try {
    await writeFile(file, zip, { mode: 0o600, flag: 'wx', flush: true });
  } catch (e) {
    await rm(file, { force: true });
    throw e;
  }
  return file;
}

/**
 * Moves a staged zip to `zips/<sha>.zip` and fsyncs the folder. Content-addressed: one already there
 * holds the same bytes, and is replaced atomically (a reader that has it open keeps reading its copy).
 */
export function commitZip(dataDir: string, staged: string, sha: string): void {
  const target = zipPath(dataDir, sha);
  if (target === undefined) throw new StoreError('FARE_E_CODE_PATH', `${JSON.stringify(sha)} is not a SHA-256 in hex: it cannot name a zip`);
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  renameSync(staged, target);
  fsyncPath(dirname(target));
}

export function removeZip(dataDir: string, sha: string): void {
  const target = zipPath(dataDir, sha);
  if (target !== undefined) rmSync(target, { force: true });
}

/** The hashes of the zips kept (other files of their folder are left alone). */
export function listZips(dataDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dataDir, ZIP_DIR));
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.zip') && HEX64.test(n.slice(0, -4))).map((n) => n.slice(0, -4));
}
