// An instance's directory: a private copy of the function's code (the task root, read-only to the
// function), a copy of the language runtime, and a writable scratch directory for HOME and TMPDIR.
//
//   <base>/                        0711, owned by the worker (others may pass, not list)
//     <instance-id>/               0750 root:<the instance's gid> in the sandbox (only it may enter),
//                                  0711 otherwise
//       task/                      copy of FunctionSpec.codeDir; dirs 0555, files 0444 (0555 if executable)
//       runtime/                   the runtime's bootstrap (runtimes/node or runtimes/python), read-only
//       tmp/                       0700, owned by the function's user: HOME, TMPDIR; in the sandbox it is
//                                  bound over /tmp, /var/tmp, /dev/shm, … and the rest is read-only
//
// Modes are set explicitly (chmod), not left to the umask: Fare runs with umask 077.
//
// Why a copy rather than the code directory itself: the function user must be able to read it even
// when the store keeps code under a private path, a new version can replace the store's directory
// while old instances still run, and nothing the function does can reach the original. The cost is
// one copy per cold start (small for typical code; measured in the cold start time).

import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { alive, type RunAs } from './proc.ts';

export interface WorkDir {
  readonly dir: string;
  readonly task: string;
  readonly runtime: string;
  readonly tmp: string;
}

/** Makes a tree read-only for everyone but keeps it readable (and executables executable). */
function makeReadOnly(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const name of readdirSync(path)) makeReadOnly(join(path, name));
    chmodSync(path, 0o555);
  } else {
    chmodSync(path, (st.mode & 0o111) !== 0 ? 0o555 : 0o444);
  }
}

/** Gives the owner write permission back so the tree can be removed when not root. */
function makeRemovable(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  chmodSync(path, 0o755);
  for (const name of readdirSync(path)) makeRemovable(join(path, name));
}

/**
 * Creates the instances directory and any missing parent 0711 (others may pass, not list), whatever
 * the umask: function users must reach their own directory below it.
 */
export function prepareBase(base: string): void {
  const missing: string[] = [];
  for (let d = resolve(base); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    chmodSync(d, 0o711);
  }
}

/**
 * Creates the instance directory. `codeDir` is the function's code (null: a stem cell's, whose task
 * directory stays empty until `adoptWorkDir`); `runtimeSrc` is the runtime folder to copy (null for `provided`);
 * `owner` is the function's user (null: this process's user); `private_` (the sandbox, where the
 * user is the instance's own) closes the directory to every other user.
 */
export function prepareWorkDir(base: string, id: string, codeDir: string | null, runtimeSrc: string | null, owner: RunAs | null, private_ = false): WorkDir {
  prepareBase(base);
  const dir = join(base, id);
  mkdirSync(dir, { mode: 0o700 });
  if (private_ && owner !== null) {
    chownSync(dir, process.getuid?.() ?? 0, owner.gid);
    chmodSync(dir, 0o750);
  } else {
    chmodSync(dir, 0o711);
  }
  const wd: WorkDir = { dir, task: join(dir, 'task'), runtime: join(dir, 'runtime'), tmp: join(dir, 'tmp') };
  try {
    if (codeDir !== null) cpSync(codeDir, wd.task, { recursive: true, dereference: false, verbatimSymlinks: true });
    else mkdirSync(wd.task);
    makeReadOnly(wd.task);
    mkdirSync(wd.runtime, { mode: 0o755 });
    if (runtimeSrc !== null) cpSync(runtimeSrc, wd.runtime, { recursive: true });
    makeReadOnly(wd.runtime);
    mkdirSync(wd.tmp, { mode: 0o700 });
    chmodSync(wd.tmp, 0o700);
    if (owner !== null) chownSync(wd.tmp, owner.uid, owner.gid);
  } catch (e) {
    removeWorkDir(wd);
    throw e;
  }
  return wd;
}

/**
 * A stem cell's directory becomes an instance's (stem-cell.ts): renamed to the instance's id (its
 * runtime, already running, keeps its working directory and its private /tmp: they are the same
 * directories), and the function's code copied into its empty task directory, read-only. The
 * runtime sees the code appear in place; the directory stays closed to every other instance.
 */
export function adoptWorkDir(wd: WorkDir, id: string, codeDir: string): WorkDir {
  const dir = join(dirname(wd.dir), id);
  renameSync(wd.dir, dir);
  const moved: WorkDir = { dir, task: join(dir, 'task'), runtime: join(dir, 'runtime'), tmp: join(dir, 'tmp') };
  copyTree(codeDir, moved.task);
  makeReadOnly(moved.task);
  return moved;
}

/**
 * Copies the tree at `src` into the existing directory `dst`, as cpSync with verbatim symlinks does
 * (modes kept), in a sixth of its time for a function's few files (0.09 against 0.56 ms for one
 * file here): it is on a stem cell's cold start.
 */
function copyTree(src: string, dst: string): void {
  for (const e of readdirSync(src, { withFileTypes: true })) {
    const from = join(src, e.name);
    const to = join(dst, e.name);
    if (e.isDirectory()) {
      mkdirSync(to);
      copyTree(from, to);
    } else if (e.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (e.isFile()) copyFileSync(from, to);
  }
}

/**
 * Instance directories left by a Fare process that died (kill -9, a crash; its instances died with
 * it): every `<base>/<instance-id>` whose owner (the `-p<pid>-` in its name) is no longer alive is
 * removed. Returns how many.
 */
export function reapStaleWorkDirs(base: string): number {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    const m = /-p(\d+)-[0-9a-f]+$/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const dir = join(base, name);
    removeWorkDir({ dir, task: join(dir, 'task'), runtime: join(dir, 'runtime'), tmp: join(dir, 'tmp') });
    n++;
  }
  return n;
}

export function removeWorkDir(wd: WorkDir): void {
  if (process.getuid?.() !== 0) makeRemovable(wd.dir);
  rmSync(wd.dir, { recursive: true, force: true });
}
