// End-to-end: the warm path of `fare up` makes no new hidden class per invocation. On Node 20 an
// object literal that starts with a spread and adds properties (`{ ...input, at, month }`) gets a
// hidden class (V8 "map") of its own each time it is built: ~0.4 µs more per object, every inline
// cache that meets one goes megamorphic, and the garbage maps kept nearly half of what each
// scavenge kept alive (src/live/README.md). V8 logs each map it makes (`--log-maps`): a map made from a
// prototype map, uncached ("prototype"), is the sign. Such a site on the path of every call shows as
// one (or more) per call; the rest of Fare makes a few hundred in all.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { invokeOnce } from '../src/cli/loadgen.ts';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const work = mkdtempSync(join(tmpdir(), 'fare-maps-'));
let fare: FareProcess | undefined;
afterAll(async () => {
  if (fare !== undefined) await stopFare(fare);
  if (process.env.KEEP_MAPS_LOG === undefined) rmSync(work, { recursive: true, force: true });
  else process.stdout.write(`kept ${work}\n`);
});

describe('the warm path keeps its hidden classes', () => {
  it('makes no V8 map per invocation (sync and Event calls of a function that logs)', async () => {
    const log = join(work, 'v8.log');
    fare = await startFare(join(work, 'data'), ['--no-examples'], undefined, undefined, undefined, ['--log-maps', `--logfile=${log}`, '--no-logfile-per-isolate']);
    const dir = mkdtempSync(join(work, 'fn-'));
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async (e) => { console.log("n", e.n); return { n: e.n }; };\n');
    const put = await api(fare.url, 'PUT', '/v1/functions/echo', { runtime: 'nodejs', handler: 'index.handler', class: 'high', zipBase64: zipDirectory(dir).toString('base64') });
    expect(put.status).toBeLessThan(300);
    const t = { url: fare.url, key: ADMIN_KEY };
    const calls = 600;
    for (let n = 0; n < calls; n++) {
      if (n % 4 === 3) {
        const r = await fetch(`${fare.url}/2015-03-31/functions/echo/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'X-Amz-Invocation-Type': 'Event' }, body: JSON.stringify({ n }) });
        expect(r.status).toBe(202);
      } else {
        const r = await invokeOnce(t, 'echo', JSON.stringify({ n }));
        expect(r.body).toBe(JSON.stringify({ n }));
      }
    }
    await new Promise((r) => setTimeout(r, 500)); // the last Events run
    await stopFare(fare);
    fare = undefined;
    const text = existsSync(log) ? readFileSync(log, 'latin1') : '';
    const maps = text.match(/^map,/gm)?.length ?? 0;
    if (maps === 0) {
      process.stdout.write(`SKIPPED: this Node's V8 (${process.versions.v8}) logged no map events under --log-maps; nothing to check\n`);
      return;
    }
    const made = text.split('\n').filter((l) => l.startsWith('map,Transition,') && l.split(',')[8] === 'prototype');
    const byName = new Map<string, number>();
    for (const l of made) byName.set(l.split(',')[9] ?? '', (byName.get(l.split(',')[9] ?? '') ?? 0) + 1);
    const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ');
    process.stdout.write(`maps made uncached over ${calls} calls: ${made.length} (${top})\n`);
    // Before the fix: 11 per sync call (at, month, costMicroCents, status, durationMs, text, …).
    expect(made.length / calls, `properties whose maps were made uncached, most first: ${top}`).toBeLessThan(0.5);
  });
});
