import { describe, expect, it } from 'vitest';
import { capabilities, type Capabilities, describeCapabilities, isolatesTenants } from './capabilities.ts';
import { chooseMechanisms } from './cgroups.ts';

const base: Capabilities = {
  root: true,
  runAs: { uid: 65534, gid: 65534 },
  sandbox: { helper: null, why: 'no C compiler' },
  uidRange: { first: 100000, count: 65536 },
  instancesDir: '/tmp/fare-instances',
  maxTasks: 1024,
  setpriv: '/usr/bin/setpriv',
  cgroups: { v1: {}, v2: null },
  mechanisms: { freezer: 'signals', cpu: 'proc', memory: 'proc', pids: 'none', kill: 'signals' },
  sched: { chrt: null, idle: false, fifo: false },
  node: '/usr/bin/node',
  python3: null,
  clockTicks: 100,
  curl: null,
};

describe('capabilities', () => {
  it('probes this machine once and describes every mechanism in one line', () => {
    const c = capabilities();
    expect(capabilities()).toBe(c);
    const lines = describeCapabilities(c);
    for (const topic of ['cgroups:', 'preemption:', 'cpu accounting:', 'memory accounting:', 'priorities:', 'isolation:', 'limits:', 'runtimes:']) {
      expect(lines.some((l) => l.startsWith(topic))).toBe(true);
    }
    expect(c.node).not.toBeNull();
  });

  it('says which fallback is used when nothing is writable', () => {
    expect(describeCapabilities(base)).toEqual([
      'cgroups: no writable v1 controller; no writable v2 group',
      'preemption: SIGSTOP/SIGCONT on the process group (no writable freezer cgroup)',
      'cpu accounting: /proc/<pid>/stat utime+stime over the process group (no cpu cgroup; 10 ms resolution)',
      'memory accounting: /proc/<pid>/status VmRSS of the runtime process (no memory cgroup), sampled every 10 ms',
      'priorities: none (chrt not found)',
      'isolation: NONE between tenants (no C compiler): every function runs as uid 65534/gid 65534 (setpriv after joining cgroups)',
      'limits: no pids controller writable: an instance may fork without bound; idle instances are not frozen (no freezer cgroup); killed pid by pid',
      'runtimes: nodejs /usr/bin/node; python unavailable (no python3 the function user can run); provided always',
    ]);
  });

  it('says whether tenants are isolated, and how, in one line', () => {
    expect(isolatesTenants(base)).toBe(false);
    const boxed = { ...base, sandbox: { helper: '/x/build/fare-sandbox', why: '' } };
    expect(isolatesTenants(boxed)).toBe(true);
    expect(describeCapabilities(boxed).find((l) => l.startsWith('isolation:'))).toMatch(/^isolation: each instance in its own sandbox — its own uid\/gid \(from 100000\), PID, mount and IPC namespaces/);
  });

  it('prefers the v2 freezer (fast), v1 accounting controllers, then signals and /proc', () => {
    expect(chooseMechanisms({ v1: { freezer: '/f', cpuacct: '/c', memory: '/m', pids: '/p' }, v2: { dir: '/u', freeze: true, cpuStat: true, memory: true, kill: true, pids: true } })).toEqual({
      freezer: 'cgroup-v2',
      cpu: 'cgroup-v1',
      memory: 'cgroup-v1',
      pids: 'cgroup-v1',
      kill: 'cgroup-v2',
    });
    expect(chooseMechanisms({ v1: { freezer: '/f', memory: '/m' }, v2: { dir: '/u', freeze: false, cpuStat: true, memory: false, pids: true } })).toEqual({
      freezer: 'cgroup-v1',
      cpu: 'cgroup-v2',
      memory: 'cgroup-v1',
      pids: 'cgroup-v2',
      kill: 'signals',
    });
    expect(chooseMechanisms({ v1: {}, v2: { dir: '/u', freeze: false, cpuStat: false, memory: false } })).toEqual({
      freezer: 'signals',
      cpu: 'proc',
      memory: 'proc',
      pids: 'none',
      kill: 'signals',
    });
  });
});
