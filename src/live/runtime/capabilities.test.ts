import { describe, expect, it } from 'vitest';
import { capabilities, type Capabilities, describeCapabilities } from './capabilities.ts';
import { chooseMechanisms } from './cgroups.ts';

const base: Capabilities = {
  root: true,
  runAs: { uid: 65534, gid: 65534 },
  setpriv: '/usr/bin/setpriv',
  cgroups: { v1: {}, v2: null },
  mechanisms: { freezer: 'signals', cpu: 'proc', memory: 'proc' },
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
    for (const topic of ['cgroups:', 'preemption:', 'cpu accounting:', 'memory accounting:', 'priorities:', 'isolation:', 'runtimes:']) {
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
      'isolation: functions run as uid 65534/gid 65534 (setpriv after joining cgroups)',
      'runtimes: nodejs /usr/bin/node; python unavailable (no python3 the function user can run); provided always',
    ]);
  });

  it('prefers cgroup v1 controllers, then v2 interface files, then signals and /proc', () => {
    expect(chooseMechanisms({ v1: { freezer: '/f', cpuacct: '/c', memory: '/m' }, v2: { dir: '/u', freeze: true, cpuStat: true, memory: true } })).toEqual({
      freezer: 'cgroup-v1',
      cpu: 'cgroup-v1',
      memory: 'cgroup-v1',
    });
    expect(chooseMechanisms({ v1: { memory: '/m' }, v2: { dir: '/u', freeze: true, cpuStat: true, memory: false } })).toEqual({
      freezer: 'cgroup-v2',
      cpu: 'cgroup-v2',
      memory: 'cgroup-v1',
    });
    expect(chooseMechanisms({ v1: {}, v2: { dir: '/u', freeze: false, cpuStat: false, memory: false } })).toEqual({
      freezer: 'signals',
      cpu: 'proc',
      memory: 'proc',
    });
  });
});
