// What `fare deploy DIR` takes from the folder when it is not told: the function's name (the folder's)
// and, for a new function, its runtime and handler when one file makes them obvious.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from './args.ts';

/** Fare's function names (the gateway's FUNCTION_NAME check): 1–64 letters, digits, "-" or "_", not starting with "-". */
export const FUNCTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

/** The function's name: `--name`, else the folder's, either checked as Fare checks names. */
export function functionName(dir: string, given: string | undefined): string {
  if (given !== undefined) {
    if (!FUNCTION_NAME.test(given)) throw new UsageError(`--name ${given} is not a function name: use 1–64 letters, digits, "-" or "_", not starting with "-"`);
    return given;
  }
  const name = basename(resolve(dir));
  if (!FUNCTION_NAME.test(name)) throw new UsageError(`the folder name "${name}" is not a function name (1–64 letters, digits, "-" or "_", not starting with "-"): give one with --name`);
  return name;
}

/** A file that makes the runtime and handler obvious, in the order they are looked for. */
const ENTRY_FILES: readonly { readonly file: string; readonly runtime: string; readonly handler: string }[] = [
  { file: 'index.mjs', runtime: 'nodejs', handler: 'index.handler' },
  { file: 'index.js', runtime: 'nodejs', handler: 'index.handler' },
  { file: 'index.cjs', runtime: 'nodejs', handler: 'index.handler' },
  { file: 'app.py', runtime: 'python', handler: 'app.handler' },
  { file: 'lambda_function.py', runtime: 'python', handler: 'lambda_function.lambda_handler' },
  { file: 'bootstrap', runtime: 'provided', handler: 'bootstrap' },
];

export interface Entry {
  readonly runtime: string;
  readonly handler: string;
  /** The file they were taken from, when taken from one (else both were given). */
  readonly from?: string;
}

/** The runtime's handler file for `handler` (`src/app.main` → src/app.py or src/app.{mjs,js,cjs}). */
function runtimeOfHandler(dir: string, handler: string): string | undefined {
  const module = handler.slice(0, handler.lastIndexOf('.'));
  if (existsSync(join(dir, `${module}.py`))) return 'python';
  if (['.mjs', '.js', '.cjs'].some((x) => existsSync(join(dir, `${module}${x}`)))) return 'nodejs';
  return undefined;
}

/** The runtime and handler of a new function: as given, else from the folder's one obvious entry file. */
export function entryOf(dir: string, runtime: string | undefined, handler: string | undefined): Entry {
  if (runtime !== undefined && (handler !== undefined || runtime === 'provided')) return { runtime, handler: handler ?? 'bootstrap' };
  if (handler !== undefined) {
    const r = runtimeOfHandler(dir, handler);
    if (r === undefined) throw new UsageError(`--handler ${handler}: no ${handler.slice(0, handler.lastIndexOf('.')) || handler}.py, .mjs, .js or .cjs in ${dir}: give --runtime too`);
    return { runtime: r, handler, from: `${handler.slice(0, handler.lastIndexOf('.'))}${r === 'python' ? '.py' : '.*js'}` };
  }
  const found = ENTRY_FILES.filter((e) => (runtime === undefined || e.runtime === runtime) && existsSync(join(dir, e.file)));
  const first = found[0];
  if (first === undefined) {
    const looked = ENTRY_FILES.filter((e) => runtime === undefined || e.runtime === runtime).map((e) => e.file).join(', ');
    throw new UsageError(`${dir} has none of ${looked} to take the runtime and handler from: give --runtime and --handler (see fare deploy --help)`);
  }
  const runtimes = new Set(found.map((e) => e.runtime));
  if (found.length > 1 && (runtimes.size > 1 || found.some((e) => e.handler !== first.handler))) {
    throw new UsageError(`${dir} holds ${found.map((e) => e.file).join(' and ')}: say which is the function with --runtime and --handler`);
  }
  return { runtime: first.runtime, handler: first.handler, from: first.file };
}

/** The folder to deploy, refused with one line when it is not one. */
export function checkDir(dir: string): void {
  let s;
  try {
    s = statSync(dir);
  } catch {
    throw new UsageError(`${dir} does not exist: give the folder holding the function's code (fare init ${dir} makes one)`);
  }
  if (!s.isDirectory()) throw new UsageError(`${dir} is a file, not a folder: give the folder holding the function's code`);
  if (readdirSync(dir).length === 0) throw new UsageError(`${dir} is empty: put the function's code in it (fare init ${dir} makes one)`);
}
