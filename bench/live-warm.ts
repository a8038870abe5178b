// The warm-invocation part of `npm run bench:live` alone, for A/B comparisons between builds:
// starts `fare up`, deploys an empty Node function, and prints one JSON line with p50/p99 of N
// sequential calls through the Lambda Invoke API, and where the CPU time of a call goes: `fare up`
// (user and system), the function's instance (its process tree) and this client, in µs per call,
// from /proc. Usage: node --import tsx bench/live-warm.ts [N]

import { readFileSync } from 'node:fs';
import { invokeOnce, percentile } from '../src/cli/loadgen.ts';
import { cpuTicks, fareWithEmpty, TICK_US } from './fare-bench.ts';

const calls = Number(process.argv[2] ?? 10_000);

/** A process's descendants (the instances `fare up` started, and theirs). */
function descendants(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return kids.flatMap((k) => [k, ...descendants(k)]);
}

const sum = (xs: [number, number][]): number => xs.reduce((a, [u, s]) => a + u + s, 0);
const bench = await fareWithEmpty();
const { fare, t } = bench;
try {
  const pid = fare.child.pid as number;
  const kids = descendants(pid);
  const fare0 = cpuTicks(pid), kids0 = kids.map(cpuTicks), self0 = process.cpuUsage();
  const lat: number[] = [];
  for (let i = 0; i < calls; i++) lat.push((await invokeOnce(t, 'empty', '{}')).ms);
  const fare1 = cpuTicks(pid), kids1 = kids.map(cpuTicks), self = process.cpuUsage(self0);
  const perCall = (ticks: number): number => Math.round((ticks * TICK_US) / calls);
  process.stdout.write(`${JSON.stringify({
    calls, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), p999Ms: percentile(lat, 0.999),
    cpuUsPerCall: {
      fareUser: perCall(fare1[0] - fare0[0]), fareSystem: perCall(fare1[1] - fare0[1]),
      instance: perCall(sum(kids1) - sum(kids0)), client: Math.round((self.user + self.system) / calls),
    },
  })}\n`);
} finally {
  await bench.stop();
}
