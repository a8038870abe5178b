import { describe, expect, it } from 'vitest';
import { parseMeminfo, readMachineMemory } from './meminfo.ts';

describe('meminfo', () => {
  it('reads MemTotal and MemAvailable in MB', () => {
    expect(parseMeminfo('MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   12288000 kB\n')).toEqual({ totalMB: 24000, availableMB: 12000 });
    // Swapped-out pages still in the swap cache are free for the taking (no I/O).
    expect(parseMeminfo('MemTotal: 24576000 kB\nMemAvailable: 12288000 kB\nSwapCached: 1024000 kB\n')).toEqual({ totalMB: 24000, availableMB: 13000 });
  });

  it('is undefined when a field is missing (an old kernel without MemAvailable)', () => {
    expect(parseMeminfo('MemTotal: 1024 kB\nMemFree: 512 kB\n')).toBeUndefined();
    expect(readMachineMemory('/nonexistent/meminfo')).toBeUndefined();
  });

  it.skipIf(process.platform !== 'linux')('reads this machine', () => {
    const m = readMachineMemory();
    expect(m?.totalMB).toBeGreaterThan(0);
    expect(m?.availableMB).toBeLessThanOrEqual(m?.totalMB ?? 0);
  });
});
