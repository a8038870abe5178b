// How an instance's process is started: which command runs which runtime, the Lambda environment it
// gets, and the launch itself — joining the instance's cgroups, entering its sandbox (own uid and
// namespaces) or at least dropping to the function's user, before any function code runs. The
// spawn itself is the launcher process's (launcher.ts), so that Fare's event loop never forks.

import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lambdaVersion, type FunctionSpec } from '../types.ts';
import { CREDENTIALS } from './runtime-api.ts';
import type { Capabilities } from './capabilities.ts';
import { FareRuntimeError, InitError } from './errors.ts';
import { type RuntimeProcess, type SpawnRequest, spawnDirect, spawnViaLauncher } from './launcher.ts';
import type { RunAs } from './proc.ts';
import { sandboxArgv } from './sandbox.ts';
import type { WorkDir } from './workdir.ts';

// Joins the cgroups named before `--` (writing its own pid into each cgroup.procs), then execs the
// rest: every process of the instance starts inside its groups.
const JOIN_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
/** Exit status of the join script when a cgroup could not be joined, and of the sandbox helper when it could not set up. */
export const JOIN_FAILED = 125;

let runtimesDirCache: string | null = null;

/** Fare's `runtimes/` folder: the nearest one above this module (works from src/ and from dist/). */
export function findRuntimesDir(): string {
  if (runtimesDirCache !== null) return runtimesDirCache;
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    if (existsSync(join(d, 'runtimes', 'node', 'bootstrap.mjs'))) return (runtimesDirCache = join(d, 'runtimes'));
    if (dirname(d) === d) throw new FareRuntimeError('FARE_E_RUNTIME_UNAVAILABLE', "Fare's runtimes/ folder was not found above this module: pass runtimesDir");
  }
}

/** The runtime folder to copy into the instance (null for `provided`) and the interpreter that runs it. */
export function runtimeFor(fn: FunctionSpec, caps: Capabilities, runtimesDir: string): { src: string | null; interp: string | null } {
  switch (fn.runtime) {
    case 'nodejs':
    case 'python': {
      const interp = fn.runtime === 'nodejs' ? caps.node : caps.python3;
      if (interp === null) {
        throw new InitError(
          { errorType: 'Runtime.Unavailable', errorMessage: `FARE_E_RUNTIME_UNAVAILABLE: no ${fn.runtime} interpreter the function user can execute on this machine` },
          '',
          0,
        );
      }
      return { src: join(runtimesDir, fn.runtime === 'nodejs' ? 'node' : 'python'), interp };
    }
    case 'provided':
      return { src: null, interp: null };
    default: {
      const never: never = fn.runtime;
      throw new Error(`unknown runtime ${String(never)}`);
    }
  }
}

/** The command line of the runtime inside a prepared instance directory. */
export function runtimeCommand(fn: FunctionSpec, interp: string | null, wd: WorkDir): string[] {
  if (fn.runtime === 'nodejs') return [interp ?? 'node', join(wd.runtime, 'bootstrap.mjs')];
  if (fn.runtime === 'python') return [interp ?? 'python3', join(wd.runtime, 'bootstrap.py')];
  const boot = join(wd.task, 'bootstrap');
  if (!existsSync(boot) || !statSync(boot).isFile()) {
    throw new InitError({ errorType: 'Runtime.InvalidEntrypoint', errorMessage: "Couldn't find valid bootstrap(s): [bootstrap] in the code directory" }, '', 0);
  }
  try {
    accessSync(boot, constants.X_OK);
  } catch {
    throw new InitError({ errorType: 'Runtime.InvalidEntrypoint', errorMessage: 'bootstrap is not executable: set its executable bit' }, '', 0);
  }
  return [boot];
}

export interface EnvInput {
  readonly fn: FunctionSpec;
  readonly instanceId: string;
  readonly apiAddress: string;
  /** Variables of the platform the function runs on (AWS_REGION, FARE_ENDPOINT, …): they win over the function's own. */
  readonly platform?: Readonly<Record<string, string>>;
  readonly wd: WorkDir;
  readonly interp: string | null;
  readonly memoryMB: number;
  /** In the sandbox the scratch directory is seen as /tmp. */
  readonly sandboxed?: boolean;
}

/**
 * The function's environment: its own variables, then Lambda's reserved ones (which win, as on
 * Lambda, where they cannot be set by the function's configuration).
 */
export function runtimeEnv(x: EnvInput): NodeJS.ProcessEnv {
  const { fn, wd } = x;
  const d = new Date();
  const day = `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}`;
  const path = [...new Set([...(x.interp ? [dirname(x.interp)] : []), '/usr/local/bin', '/usr/bin', '/bin'])].join(':');
  return {
    ...fn.env,
    AWS_LAMBDA_RUNTIME_API: x.apiAddress,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: lambdaVersion(fn),
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(x.memoryMB),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[${lambdaVersion(fn)}]${x.instanceId}`,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    // The AWS SDKs take the running invocation's credentials from here (runtime-api.ts).
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://${x.apiAddress}/2018-06-01/runtime/${CREDENTIALS}`,
    ...x.platform,
    _HANDLER: fn.handler,
    LAMBDA_TASK_ROOT: wd.task,
    LAMBDA_RUNTIME_DIR: wd.runtime,
    TZ: ':UTC',
    HOME: x.sandboxed ? '/tmp' : wd.tmp,
    TMPDIR: x.sandboxed ? '/tmp' : wd.tmp,
    PATH: path,
    LANG: 'C.UTF-8',
    ...(fn.runtime === 'python' ? { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } : {}),
  };
}

export interface LaunchInput {
  readonly cmd: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The function's user (null: this process's user). */
  readonly owner: RunAs | null;
  readonly setpriv: string | null;
  /** `cgroup.procs` files of the instance's groups. */
  readonly procs: readonly string[];
  /** Start inside the sandbox (`owner` is then the instance's own user): the helper and the scratch directory. */
  readonly sandbox?: { readonly helper: string; readonly scratch: string; readonly nice?: number };
  /** Where the launcher's output socket goes if there is none yet (the instances directory; launcher.ts). */
  readonly socketDir: string;
}

/**
 * Starts the runtime in its own session and process group (pid = pgid), through the launcher
 * process (launcher.ts: Fare's event loop does not block for the fork), or directly where there is
 * none. In the sandbox: the helper does everything (see native/fare-sandbox.c); the pid is the
 * helper's, which exits as the runtime does. Otherwise, as root with setpriv:
 * `sh` joins the cgroups, `setpriv` drops to the function's user, then the runtime is exec'd — one
 * pid throughout. Without setpriv, Node drops privileges itself and the pid is written into the
 * groups just after spawn (racy: what runs before that write is accounted to the worker).
 */
export async function launch(x: LaunchInput): Promise<RuntimeProcess> {
  const make = requestFor(x);
  return (await spawnViaLauncher(make, x.socketDir)) ?? spawnDirect(make(process.pid));
}

/** The spawn request of a launch, for the pid of the runtime's parent (the sandbox helper checks it). */
function requestFor(x: LaunchInput): (parent: number) => SpawnRequest {
  const base = { cwd: x.cwd, env: x.env, detached: true };
  const sandbox = x.sandbox;
  if (sandbox !== undefined && x.owner !== null) {
    const owner = x.owner;
    return (parent) => {
      const argv = sandboxArgv({ helper: sandbox.helper, parent, owner, procs: x.procs, scratch: sandbox.scratch, cwd: x.cwd, cmd: x.cmd, ...(sandbox.nice !== undefined ? { nice: sandbox.nice } : {}) });
      return { ...base, file: argv[0] ?? '', args: argv.slice(1), join: [] };
    };
  }
  const viaSetpriv = x.owner !== null && x.setpriv !== null;
  const lateJoin = x.owner !== null && !viaSetpriv ? x.owner : null;
  const wrapped =
    viaSetpriv && x.owner !== null && x.setpriv !== null
      ? [x.setpriv, `--reuid=${x.owner.uid}`, `--regid=${x.owner.gid}`, '--clear-groups', '--', ...x.cmd]
      : [...x.cmd];
  const argv = x.procs.length > 0 && lateJoin === null ? ['/bin/sh', '-c', JOIN_SCRIPT, 'fare-join', ...x.procs, '--', ...wrapped] : wrapped;
  const req: SpawnRequest = {
    ...base,
    file: argv[0] ?? '',
    args: argv.slice(1),
    join: lateJoin !== null ? x.procs : [],
    ...(lateJoin !== null ? { user: { uid: lateJoin.uid, gid: lateJoin.gid } } : {}),
  };
  return () => req;
}
