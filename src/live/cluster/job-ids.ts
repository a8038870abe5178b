// Job ids that never repeat, across a gateway's restarts too. Workers remember recent jobs by id (a
// job sent twice runs once, and its outcome is said again), so a restarted gateway that counted from 1
// again would be told the outcomes of its previous life's jobs. Each gateway number's ids are handed
// out in blocks reserved in the cluster's key-value bucket (`meta.jobs.<gateway>`: the next free
// block, advanced by compare-and-set), the next block reserved while half of the current one is left.

import type { KV } from '@nats-io/kv';
import { JOB_SEQUENCES } from '../gateway/scheduler-client.ts';

/** Ids per block (2^24: a restart wastes at most this many of a gateway's 2^43). */
export const BLOCK = 2 ** 24;
const BLOCKS = JOB_SEQUENCES / BLOCK;

export class JobIds {
  #seq: number;
  #end: number;
  /** The block reserved next, once known (-1: not yet). */
  #spare = -1;
  #reserving = false;

  private constructor(private readonly kv: KV, private readonly key: string, block: number, private readonly warn: (line: string) => void) {
    // Block 0's first id is 1 (id 0 of gateway 0 would be 0, which reads as "no job" in places).
    this.#seq = block === 0 ? 1 : block * BLOCK;
    this.#end = (block + 1) * BLOCK;
  }

  static async open(kv: KV, gateway: number, warn: (line: string) => void): Promise<JobIds> {
    const key = `meta.jobs.${gateway}`;
    return new JobIds(kv, key, await reserve(kv, key), warn);
  }

  /** The next sequence number (for SchedulerClient's `sequence`). */
  readonly next = (): number => {
    if (this.#seq >= this.#end) {
      if (this.#spare < 0) {
        // Half a block (8 million jobs) went by before the next one was reserved: JetStream has
        // not answered meanwhile. Go on in the block after the current one, as a reservation would
        // most likely give; say so.
        this.warn(`job ids: the next block of ids could not be reserved in time; going on with the following block unreserved`);
        this.#spare = this.#end / BLOCK;
      }
      this.#seq = this.#spare * BLOCK;
      this.#end = this.#seq + BLOCK;
      this.#spare = -1;
    }
    const s = this.#seq++;
    if (this.#spare < 0 && !this.#reserving && this.#end - this.#seq < BLOCK / 2) this.#reserveSpare();
    return s;
  };

  #reserveSpare(): void {
    this.#reserving = true;
    void reserve(this.kv, this.key).then(
      (b) => (this.#spare = b),
      (e: unknown) => this.warn(`job ids: reserving the next block failed (${(e as Error).message}); trying again at the next job`),
    ).finally(() => (this.#reserving = false));
  }
}

/** Takes the next free block of `key` (compare-and-set on its revision, retried on a race). */
async function reserve(kv: KV, key: string): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const cur = await kv.get(key);
    const block = cur === null || cur.operation !== 'PUT' ? 0 : Number(cur.string());
    if (!Number.isSafeInteger(block) || block < 0) throw new Error(`${key} holds ${JSON.stringify(cur?.string())}, not a block number`);
    if (block >= BLOCKS) throw new Error(`gateway ids of ${key} are used up (${BLOCKS} blocks of ${BLOCK}): give this gateway another --id`);
    try {
      if (cur === null) await kv.create(key, String(block + 1));
      else await kv.update(key, String(block + 1), cur.revision);
      return block;
    } catch {
      // Another start of the same gateway number took it first: read again.
    }
  }
  throw new Error(`could not reserve a block of job ids in ${key}: too many concurrent starts of this gateway number`);
}
