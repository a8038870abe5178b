// Helpers for this folder's tests: function specs for the fixtures, requests, killing a runtime, and
// waiting on a condition without sleeping for a guessed time.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FunctionSpec, InvokeRequest, RuntimeName } from '../types.ts';

export const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

export function fixture(dir: string, runtime: RuntimeName, handler: string, over: Partial<FunctionSpec> = {}): FunctionSpec {
  return {
    tenant: 'test',
    name: dir,
    runtime,
    handler,
    cls: 'standard',
    codeDir: join(FIXTURES, dir),
    version: 1,
    timeoutMs: 5000,
    env: { GREETING: 'hello' },
    ...over,
  };
}

export function request(fn: FunctionSpec, event: unknown, over: Partial<InvokeRequest> = {}): InvokeRequest {
  return { fn, requestId: randomUUID(), payload: Buffer.from(JSON.stringify(event)), cls: 0, ...over };
}

export const json = (b: Buffer): unknown => JSON.parse(b.toString('utf8'));

/** Resolves when `cond` holds, checking every few ms; fails after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** A promise that resolves when `text` has appeared in a stream of chunks fed to `feed`. */
export function outputWatch(text: string): { feed: (b: Buffer) => void; seen: Promise<void> } {
  let acc = '';
  let done: () => void = () => undefined;
  const seen = new Promise<void>((r) => (done = r));
  return {
    feed: (b) => {
      acc += b.toString('utf8');
      if (acc.includes(text)) done();
    },
    seen,
  };
}

/**
 * Kills with SIGKILL the runtime process among `pids` — its bootstrap.mjs, not the sandbox helper
 * (`helper`) that runs it — and returns its pid, or -1 (nothing killed) when there is none.
 */
export function killRuntime(pids: readonly number[], helper: string | null): number {
  for (const p of pids) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue; // gone
    }
    if (p > 1 && cmd.includes('bootstrap.mjs') && !cmd.startsWith(helper ?? '\0')) {
      process.kill(p, 'SIGKILL');
      return p;
    }
  }
  return -1;
}
