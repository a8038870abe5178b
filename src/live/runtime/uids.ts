// The user ids instances run as: one uid (and the gid of the same number) per live instance, from a
// range reserved for Fare (default 100000–165535), so no instance can signal, trace or read the
// files and /proc entries of another. A uid is allocated when an instance starts — the lowest one
// free, so allocation is deterministic — and released only after every process of the instance has
// died and its directory is gone, so a new owner never inherits anything of the old one.
//
// Several Fare processes on one machine (workers, tests) share the range through claim files,
// `<dir>/<uid>`, created exclusively and holding the owner's pid. A claim whose owner died (kill -9)
// is taken over once no process runs with that uid any more.

import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FareRuntimeError } from './errors.ts';
import { alive } from './proc.ts';

export interface UidRange {
  readonly first: number;
  readonly count: number;
}

export const DEFAULT_UID_RANGE: UidRange = { first: 100_000, count: 65_536 };

/** The colon-separated fields of every line of the files that exist (account databases). */
function records(files: readonly string[]): { file: string; fields: string[] }[] {
  const out: { file: string; fields: string[] }[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) if (line !== '') out.push({ file, fields: line.split(':') });
  }
  return out;
}

/** Ids in the range that the machine's accounts already use (from /etc/passwd and /etc/group): never handed out. */
export function reservedIds(range: UidRange, files: readonly string[] = ['/etc/passwd', '/etc/group']): Set<number> {
  const out = new Set<number>();
  for (const { fields } of records(files)) {
    const id = Number(fields[2]);
    if (Number.isInteger(id) && id >= range.first && id < range.first + range.count) out.add(id);
  }
  return out;
}

/** Ranges that /etc/subuid or /etc/subgid delegate to users' own user namespaces, if they overlap ours. */
export function subordinateOverlaps(range: UidRange, files: readonly string[] = ['/etc/subuid', '/etc/subgid']): string[] {
  const out: string[] = [];
  for (const { file, fields: [user, start, n] } of records(files)) {
    const s = Number(start);
    const c = Number(n);
    if (!user || !Number.isInteger(s) || !Number.isInteger(c)) continue;
    if (s < range.first + range.count && range.first < s + c) out.push(`${file}: ${user} ${s}–${s + c - 1}`);
  }
  return out;
}

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

/** Whether any process on the machine runs as `uid` (the owner of /proc/<pid> is its effective uid). */
export function uidInUse(uid: number): boolean {
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      if (statSync(`/proc/${name}`).uid === uid) return true;
    } catch {
      // exited meanwhile
    }
  }
  return false;
}

export class UidPool {
  private readonly held = new Set<number>();

  constructor(
    private readonly dir: string,
    readonly range: UidRange = DEFAULT_UID_RANGE,
    private readonly reserved: ReadonlySet<number> = reservedIds(range),
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Claims the lowest free uid of the range; throws FARE_E_UIDS_EXHAUSTED when all are taken. */
  acquire(): number {
    const end = this.range.first + this.range.count;
    for (let uid = this.range.first; uid < end; uid++) {
      if (this.held.has(uid) || this.reserved.has(uid)) continue;
      if (this.claim(uid)) {
        this.held.add(uid);
        return uid;
      }
    }
    throw new FareRuntimeError(
      'FARE_E_UIDS_EXHAUSTED',
      `all ${this.range.count} instance uids from ${this.range.first} are in use: let idle instances be reaped, or give Fare a larger range`,
    );
  }

  /** Gives a uid back; call only when nothing of its instance is left. */
  release(uid: number): void {
    if (!this.held.delete(uid)) return;
    try {
      unlinkSync(join(this.dir, String(uid)));
    } catch {
      // already gone
    }
  }

  /** Uids this process holds. */
  get size(): number {
    return this.held.size;
  }

  private claim(uid: number): boolean {
    const path = join(this.dir, String(uid));
    if (this.create(path)) return true;
    // Taken: by a live Fare (skip), or left by a dead one (take over once nothing runs as uid).
    let owner: number;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      return this.create(path);
    }
    if (Number.isInteger(owner) && owner > 0) {
      if (owner === process.pid || alive(owner)) return false;
    } else if (!olderThan(path, 10_000)) {
      return false; // just created by another process, which is writing its pid
    }
    if (uidInUse(uid)) return false;
    try {
      // Atomic: of several processes taking over the same stale claim, one renames it away.
      renameSync(path, `${path}.stale-${process.pid}`);
      unlinkSync(`${path}.stale-${process.pid}`);
    } catch {
      return false;
    }
    return this.create(path);
  }

  private create(path: string): boolean {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }
}

/** One pool per instances directory (claims in `<dir>/.uids`), shared by every instance of this process. */
const pools = new Map<string, UidPool>();

/** The pool of the instances under `instancesDir` (made with `range` the first time it is asked for). */
export function instanceUidPool(instancesDir: string, range: UidRange): UidPool {
  let p = pools.get(instancesDir);
  if (p === undefined) pools.set(instancesDir, (p = new UidPool(join(instancesDir, '.uids'), range)));
  return p;
}
