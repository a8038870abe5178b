import { describe, expect, it } from 'vitest';
import { LEGEND_MAX_TEXT, TITLE_FONT, colorMap, defaultColumns, layoutPanels, legendRows, niceCeil, tickLabelWidth, tickedRange, valueRange, withAlpha, wrapText } from './chart-layout.ts';
import { formatGrouped } from './number-format.ts';
import { measureText } from './text-metrics.ts';

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

  it('moves the legend and panels down for a title or subtitle wrapped onto more lines', () => {
    const one = layoutPanels({ ...base, hasSubtitle: true });
    const more = layoutPanels({ ...base, hasSubtitle: true, titleLines: 2, subtitleLines: 2 });
    expect(more.legendTop).toBeGreaterThan(one.legendTop + 30);
    expect(more.grids[0]?.top).toBe((one.grids[0]?.top ?? 0) + (more.legendTop - one.legendTop));
  });

  it('counts a legend name at most LEGEND_MAX_TEXT wide (the legend cuts it there)', () => {
    const long = 'x'.repeat(400);
    expect(legendRows([long, long, long], 1200)).toBe(legendRows(['x'.repeat(70), 'x'.repeat(70), 'x'.repeat(70)], 1200));
    expect(measureText('x'.repeat(70), '13px sans-serif').width).toBeGreaterThan(LEGEND_MAX_TEXT);
  });
});

describe('wrapText', () => {
  it('breaks at spaces into lines that fit, keeping every word', () => {
    const text = 'Figure 5: memory per machine over time, resident and held by jobs, at every load of the run';
    const lines = wrapText(text, TITLE_FONT, 500);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join(' ')).toBe(text);
    for (const l of lines) expect(measureText(l, TITLE_FONT).width).toBeLessThanOrEqual(500);
    expect(wrapText('short', TITLE_FONT, 500)).toEqual(['short']);
  });
});

describe('tickLabelWidth', () => {
  it('measures the labels in the format the axis writes', () => {
    expect(tickLabelWidth({ min: 0, max: 20_000 }, formatGrouped)).toBeGreaterThan(tickLabelWidth({ min: 0, max: 20_000 }));
  });
});


describe('defaultColumns', () => {
  it('fills rows evenly, at most 3 panels a row', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 9].map(defaultColumns)).toEqual([1, 2, 3, 2, 3, 3, 3, 3]);
  });
});
