import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InstancePriority, type PriorityTarget } from './priority.ts';

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
