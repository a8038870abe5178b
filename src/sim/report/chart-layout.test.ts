import { describe, expect, it } from 'vitest';
import { colorMap, layoutPanels, legendRows, niceCeil, tickedRange, valueRange, withAlpha } from './chart-layout.ts';

describe('scales', () => {
  it('niceCeil rounds up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k', () => {
    expect([0.93, 1, 1.3, 7, 97, 0.0031].map(niceCeil)).toEqual([1, 1, 1.5, 8, 100, 0.004]);
  });

  it('valueRange starts linear axes at zero and log axes at whole decades', () => {
    expect(valueRange([3, 47], false)).toEqual({ min: 0, max: 50 });
    expect(valueRange([-3, 47], false)).toEqual({ min: -3, max: 50 });
    expect(valueRange([0, 3, 4700, NaN], true)).toEqual({ min: 1, max: 10000 });
    expect(valueRange([], false)).toEqual({ min: 0, max: 1 });
    expect(valueRange([5], false, { max: 100 })).toEqual({ min: 0, max: 100 });
  });

  it('tickedRange ends the axis on a tick', () => {
    expect(tickedRange(0, 5990, 1100)).toEqual({ min: 0, max: 6000, interval: 500 });
    expect(tickedRange(0.5, 0.95, 330)).toEqual({ min: 0.4, max: 1, interval: 0.2 });
    expect(tickedRange(3, 3, 300).min).toBeLessThan(3);
  });
});

describe('colours', () => {
  it('gives each name one colour by first appearance, honouring overrides', () => {
    const m = colorMap(['b', 'a', 'b', 'c'], { c: '#000000' });
    expect([...m.keys()]).toEqual(['b', 'a', 'c']);
    expect(m.get('b')).not.toBe(m.get('a'));
    expect(m.get('c')).toBe('#000000');
  });

  it('withAlpha converts hex to rgba', () => {
    expect(withAlpha('#4e79a7', 0.5)).toBe('rgba(78,121,167,0.5)');
    expect(withAlpha('red', 0.5)).toBe('red');
  });
});

describe('layoutPanels', () => {
  const base = {
    width: 1200,
    height: 830,
    panels: 5,
    columns: 3,
    hasSubtitle: false,
    hasPanelTitles: true,
    legendNames: ['Fare', 'Hermod', 'EDF'],
    yLabelWidth: 30,
    xLabelDrop: 14,
  };

  it('lays panels out row-major with equal sizes inside the canvas', () => {
    const l = layoutPanels(base);
    expect(l.rows).toBe(2);
    expect(l.grids).toHaveLength(5);
    const [a, b, , d] = l.grids;
    expect(b?.top).toBe(a?.top);
    expect(d?.left).toBe(a?.left);
    expect(new Set(l.grids.map((g) => g.width)).size).toBe(1);
    for (const g of l.grids) {
      expect(g.left + g.width).toBeLessThanOrEqual(1200);
      expect(g.top + g.height).toBeLessThanOrEqual(830);
    }
  });

  it('wraps a long legend onto more rows', () => {
    const names = Array.from({ length: 30 }, (_, i) => `price class number ${i}`);
    expect(legendRows(names, 1200)).toBeGreaterThan(2);
    expect(legendRows([], 1200)).toBe(0);
  });
});
