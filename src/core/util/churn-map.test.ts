import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChurnMap, ChurnSet, MIN_DELETES } from './churn-map.ts';

type Op = { k: 'set'; key: number; v: number } | { k: 'delete'; key: number } | { k: 'clear' };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('set' as const), key: fc.integer({ min: 0, max: 40 }), v: fc.integer() }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
);

describe('ChurnMap and ChurnSet', () => {
  it('behave as a Map and a Set, insertion order included, across many renewals', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const m = new ChurnMap<number, number>(), real = new Map<number, number>();
        const s = new ChurnSet<number>(), realSet = new Set<number>();
        for (const o of ops) {
          if (o.k === 'set') {
            m.set(o.key, o.v);
            real.set(o.key, o.v);
            s.add(o.key);
            realSet.add(o.key);
          } else if (o.k === 'delete') {
            expect(m.delete(o.key)).toBe(real.delete(o.key));
            expect(s.delete(o.key)).toBe(realSet.delete(o.key));
          } else {
            m.clear();
            real.clear();
            s.clear();
            realSet.clear();
          }
          expect(m.size).toBe(real.size);
          expect(s.size).toBe(realSet.size);
        }
        expect([...m]).toEqual([...real]);
        expect([...m.keys()]).toEqual([...real.keys()]);
        expect([...m.values()]).toEqual([...real.values()]);
        expect([...s]).toEqual([...realSet]);
        for (let k = 0; k <= 40; k++) {
          expect(m.get(k)).toBe(real.get(k));
          expect(m.has(k)).toBe(real.has(k));
          expect(s.has(k)).toBe(realSet.has(k));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('lets a loop delete the entry it is at, whenever the collection is renewed', () => {
    const m = new ChurnMap<number, string>();
    for (let i = 0; i < 3 * MIN_DELETES; i++) m.set(i, `v${i}`);
    const seen: number[] = [];
    for (const [k] of m) {
      seen.push(k);
      if (k % 3 !== 0) m.delete(k);
    }
    expect(seen).toEqual(Array.from({ length: 3 * MIN_DELETES }, (_, i) => i));
    expect([...m.keys()]).toEqual(Array.from({ length: MIN_DELETES }, (_, i) => 3 * i));
  });

  it('keeps what comes and goes out of the scavenges that a V8 Map lets it survive (a real heap, promoted bytes)', () => {
    // set(i), delete(i − 1): one entry in flight at a time, as calls in flight. With a plain Map,
    // V8 (Node 20) keeps each outgrown hash table linked to the next, holding its entries: once one
    // is old, every later value survives the scavenges and is promoted.
    const dir = mkdtempSync(join(tmpdir(), 'churn-map-'));
    try {
      const script = join(dir, 'churn.ts');
      writeFileSync(script, `
import { ChurnMap } from ${JSON.stringify(join(import.meta.dirname, 'churn-map.ts'))};
const m = process.argv[2] === 'map' ? new Map<number, unknown>() : new ChurnMap<number, unknown>();
const keep: unknown[] = new Array(1024);
for (let i = 0; i < 4_000_000; i++) {
  m.set(i, { i, a: new Array(50).fill(i), s: 'x' + i });
  if (i > 0) m.delete(i - 1);
  // Quiet a while (garbage that escapes, so that it is allocated): the collection's table grows old meanwhile.
  if (i === 1000) for (let j = 0; j < 3_000_000; j++) keep[j & 1023] = { j };
}
`);
      const promoted = (mode: string): number => {
        const out = execFileSync(process.execPath, ['--trace-gc-nvp', '--import', 'tsx', script, mode], { encoding: 'utf8', maxBuffer: 64 << 20 });
        const per = [...out.matchAll(/gc=s .*? promoted=(\d+)/g)].map((x) => Number(x[1])).slice(-10);
        expect(per.length).toBeGreaterThan(5);
        return per.sort((a, b) => a - b)[per.length >> 1] as number;
      };
      const churn = promoted('churn');
      const map = promoted('map');
      process.stdout.write(`promoted per scavenge (median of the last 10): plain Map ${map} bytes, ChurnMap ${churn} bytes\n`);
      expect(churn).toBeLessThan(64 * 1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
