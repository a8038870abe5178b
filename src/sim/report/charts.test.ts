import { describe, expect, it } from 'vitest';
import {
  bandChart,
  barChart,
  boxPlot,
  boxStats,
  lineChart,
  type BandChartSpec,
  type BarChartSpec,
  type BoxPlotSpec,
  type LineChartSpec,
} from './charts.ts';

const loads = [0.5, 0.7, 0.9];

const line: LineChartSpec = {
  title: 'p99 response time per class',
  xName: 'offered load (fraction)',
  yName: 'p99 response time (ms)',
  yLog: true,
  panels: ['Fare', 'Hermod', 'EDF'].map((policy, k) => ({
    title: policy,
    series: ['class high', 'class low'].map((c, j) => ({
      name: c,
      points: loads.map((l) => [l, j === 1 && k === 2 && l === 0.9 ? null : 10 ** (1 + l * (j + k))] as const),
    })),
  })),
};

const box: BoxPlotSpec = {
  title: 'compute utilization',
  xName: 'offered load',
  yName: 'CPU utilization (%)',
  yMin: 0,
  yMax: 100,
  panels: [
    {
      categories: ['0.5', '0.7'],
      series: [
        { name: 'Fare', boxes: [boxStats([40, 50, 60]), boxStats([60, 70, 80])] },
        { name: 'Hermod', boxes: [boxStats([45, 50, 55]), null] },
      ],
    },
  ],
};

const bar: BarChartSpec = {
  title: 'swapped memory per class',
  xName: 'price class',
  yName: 'swapped (MB)',
  stacked: true,
  panels: [{ categories: ['1', '2', '3'], series: [{ name: 'swap out', values: [900, 200, null] }, { name: 'swap in', values: [800, 100, 0] }] }],
};

const band: BandChartSpec = {
  title: 'memory utilization over time',
  xName: 'time (s)',
  yName: 'memory utilization (%)',
  panels: [{ series: [{ name: 'Fare', x: [0, 10, 20], lower: [10, 20, 30], mid: [20, 30, 40], upper: [30, 40, 50] }] }],
};

const all: readonly (readonly [string, () => string, readonly string[]])[] = [
  ['lineChart', () => lineChart(line), ['class high', 'class low', 'Fare', 'Hermod', 'EDF']],
  ['boxPlot', () => boxPlot(box), ['Fare', 'Hermod']],
  ['barChart', () => barChart(bar), ['swap out', 'swap in']],
  ['bandChart', () => bandChart(band), ['Fare (median)', 'Fare (p10–p90)']],
];

describe.each(all)('%s', (_name, render, names) => {
  it('returns an SVG with the title, axis names and series names', () => {
    const svg = render();
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const text of names) expect(svg).toContain(`>${text}<`);
  });

  it('gives byte-identical SVG for the same input, even after other charts were drawn', () => {
    const first = render();
    lineChart(line);
    expect(render()).toBe(first);
  });
});

describe('chart frames', () => {
  it('puts title and axis names with units in the SVG', () => {
    const svg = lineChart(line);
    expect(svg).toContain('p99 response time per class');
    expect(svg).toContain('offered load (fraction)');
    expect(svg).toContain('p99 response time (ms)');
  });

  it('labels a log axis in whole decades shared by all panels', () => {
    const svg = lineChart(line);
    // data spans 10 … 10^3.7, so every panel's axis runs 10 … 10k
    expect(svg.match(/>10k</g)?.length).toBe(3);
    expect(svg.match(/>10</g)?.length).toBe(3);
  });

  it('honours a fixed size', () => {
    expect(boxPlot({ ...box, width: 800, height: 400 })).toMatch(/^<svg width="800" height="400"/);
  });

  it('throws a coded error for a chart with no panels', () => {
    expect(() => lineChart({ ...line, panels: [] })).toThrow(/FARE_E_REPORT_EMPTY/);
  });

  it('throws a coded error when panels cannot fit', () => {
    expect(() => lineChart({ ...line, width: 200, height: 150 })).toThrow(/FARE_E_REPORT_LAYOUT/);
  });
});
