// The data directory's master key (`master.key`, 32 random bytes, hex, mode 0600), created on first
// start. It encrypts the credential secrets that SigV4 verification needs in the clear, and keys
// derived from it sign the invocation contexts functions pass along call chains.

import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './errors.ts';

export const MASTER_KEY_FILE = 'master.key';

/** A master key as its file holds it: 64 hex digits. */
const KEY_TEXT = /^[0-9a-f]{64}$/;

/** Reads `<dataDir>/master.key`, creating it (0600, fsynced) if absent. */
export function loadOrCreateMasterKey(dataDir: string): Buffer {
  const path = join(dataDir, MASTER_KEY_FILE);
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncPath(dataDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (process.platform !== 'win32') {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new StoreError(
        'FARE_E_MASTER_KEY',
        `${path} is readable by other users (mode ${mode.toString(8)}): run \`chmod 600 ${path}\` and start again`,
      );
    }
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!KEY_TEXT.test(text)) {
    throw new StoreError(
      'FARE_E_MASTER_KEY',
      `${path} does not hold a 64-hex-digit key: restore it from a backup (without it the stored secrets cannot be read), or start with an empty data directory`,
    );
  }
  return Buffer.from(text, 'hex');
}

/**
 * Puts a key shared by several data directories (a cluster's gateways: `--master-key-file`) into
 * `dataDir` (created if missing), or checks that the key already there is the same one.
 */
export function installMasterKey(file: string, dataDir: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new StoreError('FARE_E_MASTER_KEY', `--master-key-file ${file}: ${(e as Error).message}`);
  }
  if (!KEY_TEXT.test(text)) throw new StoreError('FARE_E_MASTER_KEY', `--master-key-file ${file} does not hold a 64-hex-digit key: give a copy of a gateway's master.key`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const here = join(dataDir, MASTER_KEY_FILE);
  if (existsSync(here)) {
    if (readFileSync(here, 'utf8').trim() !== text) throw new StoreError('FARE_E_MASTER_KEY', `${here} is not the key in --master-key-file ${file}: this data directory belongs to another cluster; give an empty --data-dir`);
    return;
  }
  writeFileSync(here, `${text}\n`, { mode: 0o600, flag: 'wx' });
}

/** Flushes a file or a directory (its entries) to the disk. */
export function fsyncPath(path: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A key for one purpose, derived from the master key, so no two uses share key material. */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  return createHmac('sha256', master).update(`fare/${purpose}`).digest();
}

/** AES-256-GCM; `context` is authenticated (the access key id), so a ciphertext cannot be moved. */
export function sealSecret(master: Buffer, plaintext: string, context: string): string {
  const key = deriveKey(master, 'credential-secret');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
}

export function openSecret(master: Buffer, sealed: string, context: string): string {
  const [v, iv, tag, ct] = sealed.split(':');
  if (v !== 'v1' || iv === undefined || tag === undefined || ct === undefined) {
    throw new StoreError('FARE_E_MASTER_KEY', `the stored secret of ${context} is not in a known format`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(master, 'credential-secret'), Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new StoreError(
      'FARE_E_MASTER_KEY',
      `the stored secret of ${context} does not decrypt with this master.key: the key file was replaced; restore the original master.key`,
    );
  }
}
