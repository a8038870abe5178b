import { describe, expect, it } from 'vitest';
import {
  bandChart,
  barChart,
  boxPlot,
  boxStats,
  lineChart,
  type BandChartSpec,
  type BandSeries,
  type BarChartSpec,
  type BoxPlotSpec,
  type LineChartSpec,
} from './charts.ts';
import { xTicks } from './chart-frame.ts';
import { PALETTE, REFERENCE_COLOR } from './chart-layout.ts';

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

describe('axes that fit the data', () => {
  const timeLine = (ends: readonly number[]): LineChartSpec => ({
    title: 'memory over time',
    xName: 'time (s)',
    yName: 'GB',
    panels: ends.map((end, k) => ({
      title: `panel ${k}`,
      series: [{ name: 'resident', points: [9.62, (9.62 + end) / 2, end].map((x) => [x, 10] as const) }],
    })),
  });

  it('ends each panel x axis at its own data, with ticks on whole steps only', () => {
    const svg = lineChart(timeLine([95.3, 70.1]));
    // 0 … 100 before; now the axes run 9.62 … 95.3 and 9.62 … 70.1, labelled on whole steps.
    expect(svg).not.toContain('>100<');
    expect(svg).not.toContain('>9.62<');
    expect(svg).not.toContain('>95.3<');
    expect(svg.match(/>80</g)?.length).toBe(1);
    expect(svg.match(/>60</g)?.length).toBe(2);
    // a narrow panel still gets three labelled ticks, on smaller steps
    const narrow = lineChart({ ...timeLine([95.3, 70.1]), width: 800 });
    for (const label of ['>25<', '>50<', '>75<']) expect(narrow).toContain(label);
  });

  it('xTicks labels an end between ticks only when it is a half step, half a step away', () => {
    expect(xTicks(0.5, 1.2, 0.2)).toEqual([0.5, 0.6, 0.8, 1, 1.2]);
    expect(xTicks(9.62, 95.3, 10)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(xTicks(0, 4, 1)).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps a log y axis only for data that span a decade', () => {
    const narrow: LineChartSpec = { ...line, panels: [{ series: [{ name: 'p99', points: [[0.7, 8300], [0.9, 14_600]] }] }] };
    const svg = lineChart(narrow);
    // whole decades would give 1000 … 100k for data in 8.3k … 14.6k; a linear axis 0 … 15k fits them
    expect(svg).not.toContain('>100k<');
    expect(svg).not.toContain('>1000<');
    expect(svg).toContain('>15k<');
    expect(lineChart(line)).toContain('>10k<');
  });

  it('draws a log x axis over whole decades', () => {
    const svg = lineChart({ ...line, yLog: false, xLog: true, panels: [{ series: [{ name: 'a', points: [1, 2, 5, 10, 20, 50, 100].map((n) => [n, n] as const) }] }] });
    for (const label of ['>1<', '>10<', '>100<']) expect(svg).toContain(label);
    expect(svg).not.toContain('>50<');
  });

  it('band charts take a log y axis, a band with a lower edge of 0 starting at the axis floor', () => {
    const svg = bandChart({
      ...band,
      yLog: true,
      panels: [{ series: [{ name: 'held', x: [0, 10, 20], lower: [0, 20, 300], mid: [5, 40, 600], upper: [8, 80, 4000] }] }],
    });
    for (const label of ['>1<', '>10<', '>100<', '>1000<', '>10k<']) expect(svg).toContain(label);
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('stroke-dasharray');
    expect(bandChart({ ...band, panels: [{ series: [{ ...(band.panels[0]?.series[0] as BandSeries), lineType: 'dashed' }] }] })).toContain('stroke-dasharray');
  });
});

describe('reference lines', () => {
  const spec: BandChartSpec = {
    ...band,
    yName: 'GB per machine',
    yTicks: 'plain',
    references: [{ value: 32, label: 'RAM: 32 GB' }],
    panels: [band.panels[0] as BandChartSpec['panels'][number], band.panels[0] as BandChartSpec['panels'][number]],
  };

  it('draws a labelled dashed line in every panel, outside the legend', () => {
    const svg = bandChart(spec);
    expect(svg.match(/>RAM: 32 GB</g)?.length).toBe(2);
    expect(svg).toContain('stroke-dasharray');
    // the legend holds the band series only: two entries for Fare, none for the reference
    expect(svg.match(/>Fare \(median\)</g)?.length).toBe(1);
  });

  it('widens the y axis to take in the reference line', () => {
    const svg = barChart({ ...bar, references: [{ value: 3000, label: 'capacity: 3,000 MB' }] });
    expect(svg).toContain('>capacity: 3,000 MB<');
    expect(svg).toMatch(/>3000</);
  });
});

describe('units people read', () => {
  it('plain y ticks write thousands out instead of a k suffix', () => {
    const big: BarChartSpec = { ...bar, yName: 'swapped out (GB)', panels: [{ categories: ['a'], series: [{ name: 's', values: [18_000] }] }] };
    expect(barChart(big)).toContain('>20k<');
    const svg = barChart({ ...big, yTicks: 'plain' });
    expect(svg).toContain('>20,000<');
    expect(svg).not.toMatch(/>\d+(\.\d+)?[kMG]</);
  });

  it('plain x ticks write times in seconds out (12,000 s, not 12k s)', () => {
    const long = { ...line, xName: 'time (s)', panels: [{ series: [{ name: 'a', points: [[0, 1], [30_000, 2]] as [number, number][] }] }] };
    expect(lineChart(long)).toMatch(/>\d+k</);
    const svg = lineChart({ ...long, xTicks: 'plain' });
    expect(svg).toMatch(/>\d{2},000</);
    expect(svg).not.toMatch(/>\d+(\.\d+)?[kMG]</);
  });
});

describe('titles and legends', () => {
  it('wraps a title wider than the canvas onto more lines, above the legend', () => {
    const title = 'Figure 5: memory per machine over time, resident and held by jobs, at every load that was run in this experiment';
    const svg = lineChart({ ...line, title, width: 800 });
    expect(svg).not.toContain(`>${title}<`);
    expect(svg).toContain('>load that was run in this experiment<');
  });

  it('cuts legend names too long for one legend row with an ellipsis', () => {
    const name = 'held by jobs (above capacity: paged by the kernel, as it would be on a real machine under pressure)';
    const svg = lineChart({ ...line, panels: [{ series: [{ name, points: [[0, 1], [1, 2]] }] }] });
    expect(svg).not.toContain(`>${name}<`);
    expect(svg).toMatch(/>held by jobs \(above capacity[^<]*(\.\.\.|…)</);
  });
});

describe('palette', () => {
  it('colours series with Okabe–Ito, in order, and reference lines in none of them', () => {
    expect(PALETTE).toEqual(['#0072b2', '#e69f00', '#009e73', '#d55e00', '#cc79a7', '#56b4e9', '#f0e442', '#000000']);
    expect(PALETTE).not.toContain(REFERENCE_COLOR);
    const svg = lineChart(line);
    expect(svg).toContain('#0072b2');
    expect(svg).toContain('#e69f00');
    expect(svg).not.toMatch(/#4e79a7|#f28e2b|#e15759/i);
  });
});
