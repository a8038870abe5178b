import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { capabilities, type Capabilities, describeCapabilities, describeSched, isolatesTenants, probeSched } from './capabilities.ts';
import { schedSetter, type SchedSetter } from './priority.ts';
import { processState, schedPolicy } from './proc.ts';
import { waitFor } from './testing.ts';
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
  sched: { mechanism: 'none', chrt: null, idle: false, fifo: false, why: 'koffi did not load or bind it: Cannot find module', fifoError: '' },
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
      'priorities: none (sched_setscheduler through koffi unavailable: koffi did not load or bind it: Cannot find module; chrt not found)',
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

describe('priorities: the mechanism and what it can set', () => {
  const none = base.sched;

  it('names sched_setscheduler through koffi when it is used, else chrt and why, else nothing and why', () => {
    expect(describeSched({ ...none, mechanism: 'sched_setscheduler', chrt: '/usr/bin/chrt', idle: true, fifo: true, why: '' })).toBe(
      'priorities: sched_setscheduler(2) through koffi, on every thread: SCHED_IDLE yes, SCHED_FIFO yes',
    );
    expect(describeSched({ ...none, mechanism: 'sched_setscheduler', idle: true, fifo: false, why: '', fifoError: 'errno 1 (EPERM): needs root or CAP_SYS_NICE' })).toBe(
      'priorities: sched_setscheduler(2) through koffi, on every thread: SCHED_IDLE yes, SCHED_FIFO no (errno 1 (EPERM): needs root or CAP_SYS_NICE; strict mode unavailable)',
    );
    expect(describeSched({ ...none, mechanism: 'chrt', chrt: '/usr/bin/chrt', idle: true, fifo: false, why: 'not Linux' })).toBe(
      'priorities: chrt -a -p per process (sched_setscheduler through koffi unavailable: not Linux): SCHED_IDLE yes, SCHED_FIFO no (strict mode unavailable)',
    );
  });

  it('probes the setter on a child process, reads each policy back, and leaves Fare\'s own threads and no child behind', async () => {
    const calls: number[] = [];
    // A setter that says it succeeded but changed nothing is found out by the read-back.
    const liar: SchedSetter = (tid) => {
      calls.push(tid);
      return '';
    };
    const own = (): (number | null)[] => readdirSync(`/proc/${process.pid}/task`).map((t) => schedPolicy(Number(t)));
    const before = own();
    const r = probeSched(liar);
    expect(r).toMatchObject({ mechanism: 'sched_setscheduler', idle: false, fifo: false, why: '' });
    expect(calls).toHaveLength(2);
    const [child] = calls;
    expect(child).not.toBe(process.pid);
    expect(readdirSync(`/proc/${process.pid}/task`).map(Number)).not.toContain(child);
    expect(own()).toEqual(before);
    // Killed after the probe (a zombie until Node reaps it, then gone).
    expect(child).toBeGreaterThan(1);
    await waitFor(() => {
      const st = processState(child ?? 0);
      return st === null || st.state === 'Z' || st.state === 'X';
    }, 5000, 'the probe child killed');
  });

  const real = schedSetter();
  if (real === null) process.stderr.write('SKIPPED probing sched_setscheduler through koffi: koffi did not load here\n');
  it.skipIf(real === null)('with koffi, this machine\'s probe uses sched_setscheduler: SCHED_IDLE always, SCHED_FIFO as root', () => {
    const r = probeSched(real);
    expect(r.mechanism).toBe('sched_setscheduler');
    expect(r.idle).toBe(true);
    if (process.getuid?.() === 0) expect(r).toMatchObject({ fifo: true, fifoError: '' });
    else expect(r.fifo ? '' : r.fifoError).toMatch(/^$|errno 1/);
    expect(describeSched(r)).toMatch(/^priorities: sched_setscheduler\(2\) through koffi/);
    expect(capabilities().sched.mechanism).toBe('sched_setscheduler');
  });
});
