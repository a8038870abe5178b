// Argument parsing shared by the subcommands, and the usage error they throw.

import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Errors at the edge: a stable code and a message that says what to do. */
export class UsageError extends Error {
  readonly code = 'FARE_E_USAGE';
}

export function parse(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

