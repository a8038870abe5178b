// The warm-invocation part of `npm run bench:live` alone, for A/B comparisons between builds:
// starts `fare up`, deploys an empty Node function, and prints one JSON line with p50/p99 of N
// sequential calls through the Lambda Invoke API. Usage: node --import tsx bench/live-warm.ts [N]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invokeOnce, percentile, type Target } from '../src/live/loadgen.ts';
import { zipDirectory } from '../src/live/zip-writer.ts';
import { ADMIN_KEY, api, startFare, stopFare } from '../test/support/fare-process.ts';

const calls = Number(process.argv[2] ?? 10_000);
const dataDir = mkdtempSync(join(tmpdir(), 'fare-bench-'));
const fare = await startFare(dataDir, ['--no-examples']);
try {
  const dir = mkdtempSync(join(tmpdir(), 'fare-bench-fn-'));
  writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => null;\n');
  const r = await api(fare.url, 'PUT', '/v1/functions/empty', { runtime: 'nodejs', handler: 'index.handler', class: 'high', zipBase64: zipDirectory(dir).toString('base64') });
  rmSync(dir, { recursive: true, force: true });
  if (r.status >= 300) throw new Error(`deploy: ${JSON.stringify(r.json)}`);
  const t: Target = { url: fare.url, key: ADMIN_KEY };
  for (let i = 0; i < 200; i++) await invokeOnce(t, 'empty', '{}');
  const lat: number[] = [];
  for (let i = 0; i < calls; i++) lat.push((await invokeOnce(t, 'empty', '{}')).ms);
  process.stdout.write(`${JSON.stringify({ calls, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), p999Ms: percentile(lat, 0.999) })}\n`);
} finally {
  await stopFare(fare);
  rmSync(dataDir, { recursive: true, force: true });
}
