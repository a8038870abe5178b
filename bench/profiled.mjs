// Runs a Node program (`PROFILED_MAIN`, with this process's arguments) under V8's CPU profiler,
// driven by signals so that a benchmark profiles only what it measures: the first SIGUSR2 starts the
// profiler, the next stops it and writes the profile to `PROFILED_OUT` (then `PROFILED_OUT.done`).
// Node refuses `--cpu-prof` in NODE_OPTIONS, and `--cpu-prof` would also profile start-up and
// shutdown: bench/profile-live.ts starts `fare up` through this file instead.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const main = process.env.PROFILED_MAIN;
const out = process.env.PROFILED_OUT;
if (main === undefined || out === undefined) {
  process.stderr.write('profiled.mjs: set PROFILED_MAIN (the script to run) and PROFILED_OUT (where the .cpuprofile goes)\n');
  process.exit(2);
}
const session = new Session();
session.connect();
await session.post('Profiler.enable');
// 100 µs between samples: a warm invocation is ≈ 1 ms, so ≈ 10 samples each.
await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.PROFILED_INTERVAL_US ?? 100) });
let running = false;
process.on('SIGUSR2', () => {
  void (async () => {
    if (!running) {
      running = true;
      await session.post('Profiler.start');
      return;
    }
    running = false;
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(out, JSON.stringify(profile));
    writeFileSync(`${out}.done`, '');
  })();
});
// The program sees its own path as argv[1], as if run directly.
process.argv[1] = main;
await import(main);
