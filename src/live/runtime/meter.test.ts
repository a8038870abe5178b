import { describe, expect, it } from 'vitest';
import { InvocationMeter, LogTail } from './meter.ts';

describe('LogTail', () => {
  it('keeps everything under the bound', () => {
    const t = new LogTail(16);
    t.push(Buffer.from('hello '));
    t.push(Buffer.from('world'));
    expect(t.text()).toBe('hello world');
    expect(t.take()).toBe('hello world');
    expect(t.text()).toBe('');
  });

  it('keeps the last bytes and says how many were left out', () => {
    const t = new LogTail(8);
    t.push(Buffer.from('0123456'));
    t.push(Buffer.from('789ab'));
    expect(t.text()).toBe('[… 4 bytes of output omitted …]\n456789ab');
    expect(t.omitted).toBe(4);
    const big = new LogTail(4);
    big.push(Buffer.from('abcdefgh'));
    expect(big.text()).toBe('[… 4 bytes of output omitted …]\nefgh');
  });

  it('keeps the beginning and the end when asked for a head', () => {
    const t = new LogTail(10, 4);
    for (const c of ['ab', 'cdef', 'ghijkl', 'mnopqrstuv', 'wxyz']) t.push(Buffer.from(c));
    expect(t.omitted).toBe(26 - 10);
    expect(t.text()).toBe('abcd\n[… 16 bytes of output omitted …]\nuvwxyz');
    expect(t.take()).toContain('abcd');
    expect(t.omitted).toBe(0);
    t.push(Buffer.from('short'));
    expect(t.text()).toBe('short');
  });

  it('never splits a UTF-8 character at either cut', () => {
    const t = new LogTail(9, 4);
    t.push(Buffer.from('aé€éb'.repeat(3))); // 2-, 3- and 2-byte characters
    const text = t.text();
    expect(text).not.toContain('\uFFFD');
    expect(text.startsWith('aé')).toBe(true);
    expect(text.endsWith('éb')).toBe(true);
  });
});

describe('InvocationMeter', () => {
  it('integrates constant memory over the run and takes the CPU difference', () => {
    let cpu = 5e6;
    const m = new InvocationMeter({ cpuNs: () => cpu, memBytes: () => 1024 ** 3 }, 10, false);
    cpu += 7e6;
    const r = m.stop();
    expect(r.cpuMs).toBeCloseTo(7, 9);
    expect(r.maxMemMB).toBe(1024);
    expect(r.memGBs).toBeCloseTo(r.durationMs / 1000, 9);
    expect(m.stop()).toBe(r);
  });

  it('starts and ends at readings its caller took (consecutive invocations share one CPU reading), reading itself otherwise', () => {
    let cpu = 5e6;
    const reads = { cpu: 0, mem: 0 };
    const probe = { cpuNs: () => (reads.cpu++, cpu), memBytes: () => (reads.mem++, 2 * 1024 ** 2) };
    const first = new InvocationMeter(probe, 1000, false);
    expect(reads).toEqual({ cpu: 1, mem: 1 });
    cpu += 3e6;
    const shared = probe.cpuNs(); // the instance reads once where one invocation ends and the next begins
    const second = new InvocationMeter(probe, 1000, false, shared, 2 * 1024 ** 2);
    expect(first.stop(shared).cpuMs).toBeCloseTo(3, 9);
    expect(reads).toEqual({ cpu: 2, mem: 2 }); // the second's start read nothing; the first's answer read memory
    cpu += 4e6;
    expect(second.stop().cpuMs).toBeCloseTo(4, 9);
    expect(second.stop().maxMemMB).toBe(2);
    // A reading that failed (NaN) is not used: the meter reads for itself.
    const third = new InvocationMeter(probe, 1000, false, NaN, NaN);
    cpu += 1e6;
    expect(third.stop(NaN).cpuMs).toBeCloseTo(1, 9);
  });

  it('survives a probe that fails', () => {
    const m = new InvocationMeter({ cpuNs: () => { throw new Error('gone'); }, memBytes: () => NaN }, 10, true);
    expect(m.stop()).toMatchObject({ cpuMs: 0, maxMemMB: 0, memGBs: 0 });
  });
});

describe('InvocationMeter when the counter goes away', () => {
  it('keeps the CPU read before an instance is killed: a gone cgroup reads as nothing, not as 0', () => {
    let cpu = 5e6;
    let gone = false;
    const m = new InvocationMeter({ cpuNs: () => (gone ? NaN : cpu), memBytes: () => 0 }, 1000, false);
    cpu = 305e6;
    m.readCpu(); // a timeout: read, then kill
    gone = true;
    expect(m.stop().cpuMs).toBeCloseTo(300, 6);
  });
});
