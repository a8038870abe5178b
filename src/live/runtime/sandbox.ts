// The instance sandbox: where Fare's helper (`build/fare-sandbox`, from `native/fare-sandbox.c`) is,
// whether it works on this machine, and the command line that starts one instance inside it — its
// own uid and gid, PID, mount and IPC namespaces, a read-only file system but for its private
// scratch directory bound over the world-writable places, and a /proc that shows only its own
// processes. See native/fare-sandbox.c for what the helper does, in order.

import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunAs } from './proc.ts';

/** Places every user may write on a usual Linux host: each is covered by the instance's own scratch directory. */
export const SHARED_WRITABLE = ['/tmp', '/var/tmp', '/dev/shm', '/run/lock', '/dev/mqueue'] as const;

/** Tasks (processes and threads) one instance may have: Lambda's limit per execution environment. */
export const DEFAULT_MAX_TASKS = 1024;

export interface SandboxSupport {
  /** The helper, when it is built and works here; null otherwise (then `why` says what is missing). */
  readonly helper: string | null;
  readonly why: string;
}

function packageRoot(): string | null {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    if (existsSync(join(d, 'native', 'fare-sandbox.c'))) return d;
    if (dirname(d) === d) return null;
  }
}

/**
 * Finds the helper, building it first when it is missing or older than its source (an install
 * with `--ignore-scripts`, or a source change), then checks it can create namespaces here.
 */
export function probeSandbox(root: boolean): SandboxSupport {
  if (process.platform !== 'linux') return { helper: null, why: 'namespaces need Linux' };
  if (!root) return { helper: null, why: 'not root: instances cannot get their own uids and namespaces' };
  const pkg = packageRoot();
  if (pkg === null) return { helper: null, why: "native/fare-sandbox.c was not found above this module" };
  const src = join(pkg, 'native', 'fare-sandbox.c');
  const bin = join(pkg, 'build', 'fare-sandbox');
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    const r = spawnSync(process.execPath, [join(pkg, 'native', 'build.js')], { encoding: 'utf8', timeout: 60_000 });
    if (!existsSync(bin)) return { helper: null, why: (r.stdout || r.stderr || 'native/build.js failed').trim().replace(/^fare: /, '') };
  }
  // One start with every feature on, exactly as an instance uses them.
  const t = spawnSync(bin, ['--pid-ns', '--ipc-ns', '--mount-ns', '--proc', '--readonly', '--uid', '65534', '--gid', '65534', '--', '/bin/sh', '-c', 'test "$(id -u)" = 65534'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (t.status !== 0) {
    const why = (t.stderr || '').trim().split('\n')[0] ?? '';
    return { helper: null, why: `the sandbox helper could not start an instance here (${why || `exit ${String(t.status ?? t.signal)}`})` };
  }
  return { helper: bin, why: '' };
}

export interface SandboxLaunch {
  readonly helper: string;
  /** The instance's user and group. */
  readonly owner: RunAs;
  /** `cgroup.procs` files the helper joins before anything else. */
  readonly procs: readonly string[];
  /** The instance's private scratch directory, bound over each of `SHARED_WRITABLE`. */
  readonly scratch: string;
  /** The working directory of the runtime. */
  readonly cwd: string;
  readonly cmd: readonly string[];
  /** A nice value (0–19) for everything it starts (a stem cell boots at 19); none: Fare's own. */
  readonly nice?: number;
  /** The pid of the process that spawns the helper (Fare's launcher; default this process): it dies with that one. */
  readonly parent?: number;
}

/** The helper's command line for one instance. */
export function sandboxArgv(x: SandboxLaunch): string[] {
  return [
    x.helper,
    '--parent', String(x.parent ?? process.pid),
    ...x.procs.flatMap((p) => ['--cgroup', p]),
    '--uid', String(x.owner.uid),
    '--gid', String(x.owner.gid),
    ...(x.nice !== undefined ? ['--nice', String(x.nice)] : []),
    '--pid-ns', '--ipc-ns', '--mount-ns', '--proc', '--readonly',
    ...SHARED_WRITABLE.flatMap((d) => ['--bind', `${x.scratch}:${d}`]),
    '--chdir', x.cwd,
    '--',
    ...x.cmd,
  ];
}
