import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InstancePriority, runRealtime, schedSetter, schedSetterUnavailable, threadScheduling, type PriorityTarget, type SchedSetter } from './priority.ts';

const target = (chrt: string | null, processes: readonly number[] | null): PriorityTarget & { asked: number } => {
  const t = {
    chrt,
    asked: 0,
    processes: () => {
      t.asked++;
      return processes;
    },
  };
  return t;
};

describe('InstancePriority', () => {
  it('says the instance has no running process, and sets nothing', async () => {
    for (const kind of ['idle', 'fifo', 'normal', 'nice'] as const) {
      expect(await new InstancePriority(target('true', null)).set(kind)).toEqual({ ok: false, detail: 'the instance has no running process' });
    }
  });

  it('needs chrt for scheduling policies, not for nice values', async () => {
    expect(await new InstancePriority(target(null, [process.pid])).set('idle')).toEqual({ ok: false, detail: 'chrt not found' });
    const own = getPriority(process.pid);
    const r = await new InstancePriority(target(null, [process.pid])).set('nice', own);
    expect(r.ok).toBe(true);
    expect(r.detail).toMatch(new RegExp(`^nice ${own} on \\d+ thread\\(s\\)$`));
  });

  it('runs chrt once per process, and not again for the policy it last set', async () => {
    const t = target('true', [process.pid, process.pid]);
    const p = new InstancePriority(t);
    expect(await p.set('fifo', 30)).toEqual({ ok: true, detail: 'SCHED_FIFO 30 on 2 process(es)' });
    expect(await p.set('fifo', 30)).toEqual({ ok: true, detail: 'unchanged' });
    expect(t.asked).toBe(1);
    expect(await p.set('idle')).toEqual({ ok: true, detail: 'SCHED_IDLE on 2 process(es)' });
    expect(await p.set('normal')).toEqual({ ok: true, detail: 'SCHED_OTHER on 2 process(es)' });
  });

  it('reports a failure, and tries again next time', async () => {
    const t = target('false', [process.pid]);
    const p = new InstancePriority(t);
    const r = await p.set('idle');
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(new RegExp(`^SCHED_IDLE failed on 1/1: ${process.pid}: `));
    await p.set('idle');
    expect(t.asked).toBe(2);
  });
});

describe('InstancePriority without chrt (sched_setscheduler in this process)', () => {
  it('sets the policy on every thread of every process, and reports the threads it could not', async () => {
    const calls: string[] = [];
    const sched: SchedSetter = (tid, kind, prio) => {
      calls.push(`${tid} ${kind} ${prio}`);
      return kind === 'idle' && calls.length === 1 ? 'errno 1' : '';
    };
    const threads = readdirSync(`/proc/${process.pid}/task`).length;
    const p = new InstancePriority({ chrt: 'false', sched, processes: () => [process.pid] });
    const failed = await p.set('idle');
    expect(failed.ok).toBe(false);
    expect(failed.detail).toMatch(new RegExp(`^SCHED_IDLE failed on 1/1: ${process.pid}: thread \\d+ errno 1$`));
    expect(calls).toHaveLength(threads);
    calls.length = 0;
    expect(await p.set('fifo', 12)).toEqual({ ok: true, detail: 'SCHED_FIFO 12 on 1 process(es)' });
    expect(calls).toHaveLength(threads);
    expect(calls.every((c) => c.endsWith(' fifo 12'))).toBe(true);
    expect(await p.set('fifo', 12)).toEqual({ ok: true, detail: 'unchanged' });
  });

  const real = schedSetter();
  if (real === null) process.stderr.write('SKIPPED sched_setscheduler through koffi: koffi did not load here\n');

  it('says why there is no setter, and nothing when there is one (for the capability line)', () => {
    if (real === null) expect(schedSetterUnavailable()).not.toBe('');
    else expect(schedSetterUnavailable()).toBe('');
  });
  it.skipIf(real === null)('really changes a process\'s policy, as chrt reports it', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const pid = child.pid as number;
      const p = new InstancePriority({ chrt: null, sched: real, processes: () => [pid] });
      const policy = (): string => execFileSync('chrt', ['-p', String(pid)], { encoding: 'utf8' });
      expect((await p.set('idle')).ok).toBe(true);
      expect(policy()).toContain('SCHED_IDLE');
      const fifo = await p.set('fifo', 3);
      // Root (or CAP_SYS_NICE) may set SCHED_FIFO; others are told why not.
      if (fifo.ok) expect(policy()).toMatch(/SCHED_FIFO[\s\S]*priority: 3/);
      else expect(fifo.detail).toMatch(/errno 1\b/);
      expect((await p.set('normal')).ok).toBe(true);
      expect(policy()).toContain('SCHED_OTHER');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('runRealtime (a part of the cluster under --realtime)', () => {
  const root = process.getuid?.() === 0;
  if (!root) process.stderr.write('SKIPPED runRealtime on a real process: needs root (or CAP_SYS_NICE) to set SCHED_RR\n');
  const chrt = ((): string | null => {
    try {
      return execFileSync('sh', ['-c', 'command -v chrt'], { encoding: 'utf8' }).trim() || null;
    } catch {
      return null;
    }
  })();

  /** A Node process that starts `sleep` when told, and says its pid. */
  const parent = async (): Promise<{ pid: number; startChild: () => Promise<number>; kill: () => void }> => {
    const script = "process.stdin.on('data', () => { const c = require('child_process').spawn('sleep', ['30'], { stdio: 'ignore' }); c.on('spawn', () => process.stdout.write(c.pid + '\\n')); });";
    const p = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((r) => p.once('spawn', r));
    const kids: number[] = [];
    return {
      pid: p.pid as number,
      startChild: () => new Promise((done) => {
        p.stdout.once('data', (d: Buffer) => {
          const pid = Number(d.toString().trim());
          kids.push(pid);
          done(pid);
        });
        p.stdin.write('go\n');
      }),
      kill: () => {
        for (const k of kids) {
          try {
            process.kill(k, 'SIGKILL');
          } catch { /* gone */ }
        }
        p.kill('SIGKILL');
      },
    };
  };
  const policies = (pid: number): number[] => readdirSync(`/proc/${pid}/task`).map((t) => threadScheduling(Number(t)).policy);

  it.skipIf(!root)('puts every thread under SCHED_RR, and what the process starts begins under SCHED_OTHER', async () => {
    const p = await parent();
    try {
      const r = await runRealtime(p.pid, 40, chrt);
      expect(r.ok).toBe(true);
      expect(r.detail).toMatch(/^SCHED_RR 40( on \d+ thread\(s\)| \(chrt\))$/);
      expect(new Set(policies(p.pid))).toEqual(new Set([2]));
      expect(threadScheduling(p.pid).rtPriority).toBe(40);
      // A function's instance started by a real-time worker must never be real-time itself.
      const kid = await p.startChild();
      expect(policies(kid)).toEqual([0]);
    } finally {
      p.kill();
    }
  });

  it.skipIf(!root)('without the reset (the NATS server), what it starts stays real-time', async () => {
    const p = await parent();
    try {
      expect((await runRealtime(p.pid, 40, chrt, false)).ok).toBe(true);
      expect(policies(await p.startChild())).toEqual([2]);
    } finally {
      p.kill();
    }
  });

  it('says what went wrong for a process that is not there', async () => {
    expect(await runRealtime(2 ** 22 + 17, 40, null)).toEqual({ ok: false, detail: `process ${2 ** 22 + 17} is not running` });
  });
});
