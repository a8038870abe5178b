// Reports how its instance was born and what it can reach: for test/stem-cells.test.ts (a probe, not an attack).
import { readFileSync } from 'node:fs';

// The environment the process was started with (a stem cell's has FARE_STEM=1; the function's own
// environment replaced it before this code was loaded).
const initial = readFileSync('/proc/self/environ', 'latin1').split('\0');

const tryRead = (p) => {
  try {
    readFileSync(p);
    return 'read';
  } catch (e) {
    return e.code;
  }
};

export const handler = async (event, context) => ({
  stem: initial.includes('FARE_STEM=1'),
  stemVarLeft: 'FARE_STEM' in process.env,
  uid: process.getuid(),
  gid: process.getgid(),
  groups: process.getgroups(),
  cgroup: readFileSync('/proc/self/cgroup', 'utf8'),
  greeting: process.env.GREETING ?? null,
  name: context.functionName,
  cwd: process.cwd(),
  taskRoot: process.env.LAMBDA_TASK_ROOT,
  reads: Object.fromEntries((event.read ?? []).map((p) => [p, tryRead(p)])),
});
