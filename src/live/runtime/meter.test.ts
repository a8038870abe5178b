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

  it('keeps the last bytes and marks the cut', () => {
    const t = new LogTail(8);
    t.push(Buffer.from('0123456'));
    t.push(Buffer.from('789ab'));
    expect(t.text()).toBe('[…]456789ab');
    const big = new LogTail(4);
    big.push(Buffer.from('abcdefgh'));
    expect(big.text()).toBe('[…]efgh');
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

  it('survives a probe that fails', () => {
    const m = new InvocationMeter({ cpuNs: () => { throw new Error('gone'); }, memBytes: () => NaN }, 10, true);
    expect(m.stop()).toMatchObject({ cpuMs: 0, maxMemMB: 0, memGBs: 0 });
  });
});
