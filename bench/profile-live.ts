// `npm run bench:profile`: where `fare up`'s CPU goes on the warm path. Starts `fare up` under V8's
// CPU profiler (bench/profiled.mjs; only the measured calls are profiled, not start-up or the
// warm-up), deploys an empty Node.js function, and makes `--calls` invocations through the Lambda
// Invoke API, `--concurrency` at a time (default 1: sequential, the warm latency's path). Writes, in
// bench/results/: profile-live-latest.txt (self and inclusive time per function, µs per invocation),
// profile-live-latest.svg (a flame graph: open it in a browser, hover a bar) and
// profile-live-latest.cpuprofile (not kept in git; open it in Chrome's DevTools or speedscope.app).
// The profiler costs time of its own (≈ 20 % at its 100 µs interval): compare profiles with profiles,
// latencies with `npm run bench:live:ab`. Samples are wall-clock time of the main thread: a `writev`
// that wakes another process includes the time that process ran before this one got a core back.
//
// Options: --calls 5000 --concurrency 1.

import { existsSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { invokeOnce, percentile } from '../src/cli/loadgen.ts';
import { fareWithEmpty } from './fare-bench.ts';
import { flameSvg, tables, tablesText, type CpuProfile } from './flame.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { calls: { type: 'string', default: '5000' }, concurrency: { type: 'string', default: '1' } } });
const calls = Number(values.calls), concurrency = Number(values.concurrency);
if (!Number.isInteger(calls) || calls < 100 || !Number.isInteger(concurrency) || concurrency < 1) {
  process.stderr.write('--calls must be a whole number ≥ 100 and --concurrency one ≥ 1\n');
  process.exit(2);
}

const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const out = join(dir, 'profile-live-latest.cpuprofile');
rmSync(`${out}.done`, { force: true });
// Read by profiled.mjs in the `fare up` it starts (fareWithEmpty passes this process's environment on).
process.env.PROFILED_MAIN = join(root, 'bin', 'fare.js');
process.env.PROFILED_OUT = out;
const bench = await fareWithEmpty({ bin: join(root, 'bench', 'profiled.mjs'), warmup: 500 });
const lat: number[] = [];
try {
  const child = bench.fare.child;
  child.kill('SIGUSR2'); // start the profiler
  await new Promise((r) => setTimeout(r, 200));
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < calls) lat.push((await invokeOnce(bench.t, 'empty', '{}')).ms);
  }));
  child.kill('SIGUSR2'); // stop it and write the profile
  for (let i = 0; i < 200 && !existsSync(`${out}.done`); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(`${out}.done`)) throw new Error('fare up did not write its profile within 10 s');
} finally {
  await bench.stop();
}
rmSync(`${out}.done`, { force: true });

const profile = JSON.parse(readFileSync(out, 'utf8')) as CpuProfile;
const t = tables(profile, 45, calls);
const head = `fare up, ${calls} warm invocations of an empty Node.js function, ${concurrency} at a time (profiled: p50 ${percentile(lat, 0.5).toFixed(3)} ms, p99 ${percentile(lat, 0.99).toFixed(3)} ms). ${(t.totalUs / 1000).toFixed(0)} ms sampled; µs per invocation.\n\n`;
writeFileSync(join(dir, 'profile-live-latest.txt'), head + tablesText(t, 'µs/inv'));
writeFileSync(join(dir, 'profile-live-latest.svg'), flameSvg(profile, `fare up: ${calls} warm invocations, ${concurrency} at a time`));
process.stdout.write(`${head}${tablesText({ ...t, self: t.self.slice(0, 20), inclusive: t.inclusive.slice(0, 25) }, 'µs/inv')}\nwrote bench/results/profile-live-latest.{txt,svg,cpuprofile}\n`);
