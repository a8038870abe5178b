// The victim: a function of tenant `victim` that holds a secret in its environment, its memory and
// its /tmp, and reports what it can see of its own sandbox. `sleepMs` keeps an invocation running
// (so an attacker can aim at it); `ls` lists shared-looking places to look for planted files.

import { readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const instance = randomBytes(8).toString('hex');
// A secret in memory, for attackers that read process memory.
globalThis.victimSecret = `memory-${process.env['SECRET'] ?? ''}`;
writeFileSync('/tmp/victim-secret', process.env['SECRET'] ?? '');

const list = (d) => {
  try {
    return readdirSync(d);
  } catch (e) {
    return e.code;
  }
};

export const handler = async (event) => {
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  return {
    instance,
    uid: process.getuid(),
    ls: Object.fromEntries(['/tmp', '/var/tmp', '/dev/shm', '/run/lock'].map((d) => [d, list(d)])),
    secretSeen: process.env['SECRET'] !== undefined,
    runtimeApi: process.env['AWS_LAMBDA_RUNTIME_API'],
    echo: event.echo,
  };
};
