// Function code across machines. The gateway puts each code version into the JetStream object store
// once (one object per content hash, as a zip: the upload itself when the store kept it, so the other
// gateways can answer GetFunction's download with it; else a zip rebuilt from the code's files); a
// worker fetches it the first time it is to run that code, checks it, unpacks it into its cache and
// runs its own copy. Object store replicas are the NATS cluster's: code survives the loss of a
// server as the rest of the state does.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import { commitStaged, stageCode, type CodeFile } from '../store/code.ts';
import type { Store } from '../store/index.ts';
import { readZip, type ZipEntry } from '../gateway/zip.ts';
import { zipDirectory } from '../gateway/zip-writer.ts';
import type { FunctionSpec } from '../types.ts';

/** The object store bucket of a cluster whose subjects start with `prefix`. */
export const codeBucket = (prefix: string): string => `${prefix.replaceAll('.', '-')}-code`;

const HEX64 = /^[0-9a-f]{64}$/;

function shaOf(fn: FunctionSpec): string {
  const sha = fn.codeSha256;
  if (sha === undefined || !HEX64.test(sha)) throw Object.assign(new Error(`function ${fn.tenant}/${fn.name} has no code hash to ship its code by`), { code: 'FARE_E_CODE' });
  return sha;
}

/** The upload the store kept for this hash (`zips/<sha>.zip`), or undefined if it has none. */
export function keptUpload(store: Pick<Store, 'functions'>, sha: string): Buffer | undefined {
  const file = store.functions.zipFile(sha);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * A zip's entries as code to write, a root `bootstrap` executable: the zip in the object store may
 * be the upload itself, whose `bootstrap` the gateway made executable only when it unpacked it for a
 * `provided` function (rest-functions.ts deployZip); a zip rebuilt from the code has the bit already.
 */
export function unpackable(entries: readonly ZipEntry[]): CodeFile[] {
  return entries.map((e) => (e.path === 'bootstrap' && !e.isDir && e.symlink === undefined ? { ...e, mode: e.mode | 0o755 } : e));
}

/** The gateway's side: makes sure a function's code is in the object store before its job is sent. */
export class CodeShipper {
  /** Hashes known to be stored, and uploads under way (one per hash). */
  private readonly stored = new Set<string>();
  private readonly uploading = new Map<string, Promise<void>>();

  /** `upload`: the zip as uploaded, if this gateway kept it (shipped instead of a rebuilt one). */
  constructor(private readonly os: ObjectStore, private readonly upload: (sha: string) => Uint8Array | undefined = () => undefined) {}

  async ensure(fn: FunctionSpec): Promise<void> {
    const sha = shaOf(fn);
    if (this.stored.has(sha)) return;
    let p = this.uploading.get(sha);
    if (p === undefined) {
      p = (async () => {
        // Another gateway (or this one before a restart) may have put it already.
        if ((await this.os.info(sha)) === null) await this.os.putBlob({ name: sha, description: `${fn.tenant}/${fn.name} v${fn.version}` }, this.upload(sha) ?? zipDirectory(fn.codeDir));
        this.stored.add(sha);
      })().finally(() => this.uploading.delete(sha));
      this.uploading.set(sha, p);
    }
    await p;
  }
}

/** The worker's side: a cache of unpacked code under `<dir>/code/cache/<sha256>`. */
export class CodeCache {
  private readonly fetching = new Map<string, Promise<string>>();
  /** Code known to be unpacked here (no file system check per invocation). */
  private readonly here = new Set<string>();

  /** `timeoutMs`: a fetch that takes longer fails (the invocation with it), and the next one tries again. */
  constructor(private readonly os: ObjectStore, private readonly dir: string, private readonly timeoutMs = 10_000) {}

  /** The local directory of the function's code, fetched and unpacked on first use. */
  async resolve(fn: FunctionSpec): Promise<string> {
    const sha = shaOf(fn);
    const rel = join('code', 'cache', sha);
    const at = join(this.dir, rel);
    if (this.here.has(sha)) return at;
    if (existsSync(at)) {
      this.here.add(sha);
      return at;
    }
    let p = this.fetching.get(sha);
    if (p === undefined) {
      p = (async () => {
        // A fetch cut off by a NATS server or link failing must not hold the invocation for ever.
        let timer: NodeJS.Timeout | undefined;
        const zip = await Promise.race([
          this.os.getBlob(sha),
          new Promise<never>((_, fail) => {
            timer = setTimeout(() => fail(Object.assign(new Error(`fetching the code of ${fn.tenant}/${fn.name} (${sha}) from the object store took over ${this.timeoutMs} ms; the next invocation tries again`), { code: 'FARE_E_CODE' })), this.timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        if (zip === null) throw Object.assign(new Error(`the code of ${fn.tenant}/${fn.name} (${sha}) is not in the object store`), { code: 'FARE_E_CODE' });
        // The same checks as an upload's: paths stay inside, sizes are bounded, links stay in the code.
        const staged = await stageCode(this.dir, unpackable(await readZip(Buffer.from(zip))));
        commitStaged(this.dir, staged, rel);
        this.here.add(sha);
        return at;
      })().finally(() => this.fetching.delete(sha));
      this.fetching.set(sha, p);
    }
    return p;
  }
}
