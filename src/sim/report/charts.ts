// Typed chart kinds for the experiment reports, drawn with echarts' server-side SVG renderer:
// line charts (Figure 4 tail latency vs load), box plots (utilization and swapping spread), bar charts
// (swapped MB per class) and median-with-band charts over time (Figure 5 memory utilization).
// Every kind takes one or more panels (small multiples) that share the y axis and the series colours.

import type { BarSeriesOption, BoxplotSeriesOption, LineSeriesOption } from 'echarts/charts';
import type { BoxStats } from './box-stats.ts';
import { categoryAxis, extent, renderPanels, xLogAxis, xValueAxis, type AxisOption, type ChartFrame, type LegendItem } from './chart-frame.ts';
import { TEXT_COLOR, colorMap, withAlpha, xLabelDrop, type Rect } from './chart-layout.ts';

export { boxStats, quantileSorted, type BoxStats } from './box-stats.ts';
export type { ChartFrame, ReferenceLine } from './chart-frame.ts';
export { CHART_PNG_SCALE, svgToPng, writeChart, type PngOptions, type WrittenChart } from './svg-render.ts';

/** One point; `y: null` leaves a gap (e.g. a class with no finished jobs at that load). */
export type Point = readonly [x: number, y: number | null];

export interface LineSeries {
  readonly name: string;
  readonly points: readonly Point[];
}

export interface LinePanel {
  readonly title?: string;
  readonly series: readonly LineSeries[];
}

export interface LineChartSpec extends ChartFrame {
  readonly panels: readonly LinePanel[];
  /**
   * Log-scale y axis (whole decades); non-positive values become gaps. Taken only where the data span a
   * decade or more: data within a factor of 10 (8 … 15 s) on whole decades (1 … 100 s) would fill a
   * sliver of the panel, so they get a linear axis.
   */
  readonly yLog?: boolean;
  /** Log-scale x axis (whole decades), for x values that grow by factors (1, 2, 5, 10, … shards). */
  readonly xLog?: boolean;
  readonly xMin?: number;
  readonly xMax?: number;
  /** One x range for all panels (default: each panel's axis ends at its own data). */
  readonly sharedX?: boolean;
  /** Draw a marker at each point; default when no series has more than 40 points. */
  readonly showSymbols?: boolean;
}

export interface BoxSeries {
  readonly name: string;
  /** One entry per category of its panel; `null` draws nothing there. */
  readonly boxes: readonly (BoxStats | null)[];
}

export interface BoxPanel {
  readonly title?: string;
  readonly categories: readonly string[];
  readonly series: readonly BoxSeries[];
}

export interface BoxPlotSpec extends ChartFrame {
  readonly panels: readonly BoxPanel[];
  readonly yLog?: boolean;
  /** Rotate the category labels (long names). */
  readonly rotateXLabels?: boolean;
}

export interface BarSeries {
  readonly name: string;
  /** One entry per category of its panel; `null` draws no bar. */
  readonly values: readonly (number | null)[];
}

export interface BarPanel {
  readonly title?: string;
  readonly categories: readonly string[];
  readonly series: readonly BarSeries[];
}

export interface BarChartSpec extends ChartFrame {
  readonly panels: readonly BarPanel[];
  /** Stack the series in each category instead of grouping them side by side. */
  readonly stacked?: boolean;
  readonly rotateXLabels?: boolean;
}

/** A median (or mean) line with a shaded band (e.g. p10–p90 across machines) over a shared x. */
export interface BandSeries {
  readonly name: string;
  readonly x: readonly number[];
  readonly lower: readonly number[];
  readonly mid: readonly number[];
  readonly upper: readonly number[];
  /** Dash the median line (e.g. where it can coincide with another series'); default solid. */
  readonly lineType?: 'solid' | 'dashed' | 'dotted';
}

export interface BandPanel {
  readonly title?: string;
  readonly series: readonly BandSeries[];
}

export interface BandChartSpec extends ChartFrame {
  readonly panels: readonly BandPanel[];
  /** Log-scale y axis (whole decades), for data spanning decades; non-positive values become gaps. */
  readonly yLog?: boolean;
  /** One x range for all panels (default: each panel's axis ends at its own data). */
  readonly sharedX?: boolean;
  /** Legend text of the line; default `median`. */
  readonly midLabel?: string;
  /** Legend text of the band; default `p10–p90`. */
  readonly bandLabel?: string;
  readonly xMin?: number;
  readonly xMax?: number;
}

/** Line chart, one panel per entry of `spec.panels`, series coloured by name across panels. */
export function lineChart(spec: LineChartSpec): string {
  const xLog = spec.xLog ?? false;
  const ys = spec.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt[1] ?? NaN)));
  const log = (spec.yLog ?? false) && spansADecade(ys);
  const xsOf = (panels: readonly LinePanel[]): number[] =>
    panels.flatMap((p) => p.series.flatMap((s) => s.points.filter((pt) => pt[1] !== null).map((pt) => pt[0])));
  const maxPoints = Math.max(0, ...spec.panels.flatMap((p) => p.series.map((s) => s.points.length)));
  const showSymbol = spec.showSymbols ?? maxPoints <= 40;
  // Lines run to the axis ends, so their end markers are drawn whole rather than clipped by the grid.
  const clip = spec.xMin !== undefined || spec.xMax !== undefined;
  return renderPanels(spec, spec.panels, ys, log, xLabelDrop([], false), (panel, i, colors, rect) => ({
    xAxis: xAxisFor(xsOf(spec.sharedX ? spec.panels : [panel]), rect, spec, xLog),
    series: panel.series.map(
      (s): LineSeriesOption => ({
        type: 'line',
        name: s.name,
        xAxisIndex: i,
        yAxisIndex: i,
        data: s.points.map(([x, y]) => [x, y === null || !Number.isFinite(y) || (log && y <= 0) || (xLog && x <= 0) ? null : y]),
        color: colors.get(s.name) ?? TEXT_COLOR,
        lineStyle: { width: 2 },
        clip,
        symbol: 'circle',
        symbolSize: 6,
        showSymbol,
        connectNulls: false,
        silent: true,
      }),
    ),
  }));
}

/** Whether the positive finite values span a factor of 10 or more. */
function spansADecade(values: readonly number[]): boolean {
  let lo = Infinity;
  let hi = 0;
  for (const v of values) {
    if (!(v > 0) || !Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi / lo >= 10;
}

/** The x axis of a line or band panel: log decades or a value range ending at the data (or at xMin / xMax). */
function xAxisFor(xs: readonly number[], rect: Rect, spec: { readonly xMin?: number; readonly xMax?: number; readonly xTicks?: 'compact' | 'plain' }, log: boolean): AxisOption {
  return log ? xLogAxis(extent(xs.filter((x) => x > 0))) : xValueAxis(extent(xs), rect, spec.xMin, spec.xMax, spec.xTicks);
}

/** Box plot over categories; several series in a panel are drawn side by side per category. */
export function boxPlot(spec: BoxPlotSpec): string {
  const log = spec.yLog ?? false;
  const ys = spec.panels.flatMap((p) => p.series.flatMap((s) => s.boxes.flatMap((b) => (b ? [b.min, b.max] : []))));
  const drop = xLabelDrop(spec.panels.flatMap((p) => p.categories), spec.rotateXLabels ?? false);
  return renderPanels(spec, spec.panels, ys, log, drop, (panel, i, colors) => ({
    xAxis: categoryAxis(panel.categories, spec.rotateXLabels ?? false),
    series: panel.series.map((s): BoxplotSeriesOption => {
      const color = colors.get(s.name) ?? TEXT_COLOR;
      return {
        type: 'boxplot',
        name: s.name,
        xAxisIndex: i,
        yAxisIndex: i,
        data: panel.categories.map((_, j) => {
          const b = s.boxes[j];
          return b ? [b.min, b.q1, b.median, b.q3, b.max] : [];
        }),
        color,
        itemStyle: { color: withAlpha(color, 0.25), borderColor: color, borderWidth: 1.5 },
        boxWidth: [3, 40],
        silent: true,
      };
    }),
  }));
}

/** Bar chart over categories, grouped or stacked. */
export function barChart(spec: BarChartSpec): string {
  const stacked = spec.stacked ?? false;
  const ys = spec.panels.flatMap((p) =>
    stacked
      ? p.categories.flatMap((_, j) => {
          let pos = 0;
          let neg = 0;
          for (const s of p.series) {
            const v = s.values[j] ?? 0;
            if (v > 0) pos += v;
            else neg += v;
          }
          return [pos, neg];
        })
      : p.series.flatMap((s) => s.values.map((v) => v ?? NaN)),
  );
  const drop = xLabelDrop(spec.panels.flatMap((p) => p.categories), spec.rotateXLabels ?? false);
  return renderPanels(spec, spec.panels, ys, false, drop, (panel, i, colors) => ({
    xAxis: categoryAxis(panel.categories, spec.rotateXLabels ?? false),
    series: panel.series.map(
      (s): BarSeriesOption => ({
        type: 'bar',
        name: s.name,
        xAxisIndex: i,
        yAxisIndex: i,
        data: panel.categories.map((_, j) => s.values[j] ?? null),
        color: colors.get(s.name) ?? TEXT_COLOR,
        barMaxWidth: 56,
        ...(stacked ? { stack: `stack${i}`, stackStrategy: 'samesign' as const } : {}),
        silent: true,
      }),
    ),
  }));
}

/** Lines with a shaded band between `lower` and `upper` (e.g. median and p10–p90 across machines over time). */
export function bandChart(spec: BandChartSpec): string {
  const midLabel = spec.midLabel ?? 'median';
  const bandLabel = spec.bandLabel ?? 'p10–p90';
  const log = spec.yLog ?? false;
  const ys = spec.panels.flatMap((p) => p.series.flatMap((s) => [...s.lower, ...s.mid, ...s.upper]));
  const xsOf = (panels: readonly BandPanel[]): number[] => panels.flatMap((p) => p.series.flatMap((s) => s.x));
  const clip = spec.xMin !== undefined || spec.xMax !== undefined;
  const legend: LegendItem[] = [];
  const seen = new Set<string>();
  const colors = colorMap(
    spec.panels.flatMap((p) => p.series.map((s) => s.name)),
    spec.colors,
  );
  for (const p of spec.panels) {
    for (const s of p.series) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      const color = colors.get(s.name) ?? TEXT_COLOR;
      legend.push({ name: `${s.name} (${midLabel})`, icon: 'rect', itemStyle: { color } });
      legend.push({ name: `${s.name} (${bandLabel})`, icon: 'rect', itemStyle: { color: withAlpha(color, 0.3) } });
    }
  }
  return renderPanels(
    spec,
    spec.panels,
    ys,
    log,
    xLabelDrop([], false),
    (panel, i, _colors, rect, yRange) => ({
      xAxis: xAxisFor(xsOf(spec.sharedX ? spec.panels : [panel]), rect, spec, false),
      // Every band first, then every median line, so no band covers another series' line.
      series: sortBandsFirst(panel.series.map((s, k): LineSeriesOption[] => {
        const color = colors.get(s.name) ?? TEXT_COLOR;
        const n = Math.min(s.x.length, s.lower.length, s.mid.length, s.upper.length);
        const at = (arr: readonly number[], j: number): number | null => {
          const v = arr[j];
          return v === undefined || !Number.isFinite(v) || (log && v <= 0) ? null : v;
        };
        const lower: [number, number | null][] = [];
        const width: [number, number | null][] = [];
        const mid: [number, number | null][] = [];
        for (let j = 0; j < n; j++) {
          const x = s.x[j] ?? 0;
          // On a log axis a band whose lower edge is 0 (nothing on the emptiest machines) starts at the axis floor.
          const lo = log && (s.lower[j] ?? NaN) <= 0 && at(s.upper, j) !== null ? yRange.min : at(s.lower, j);
          const hi = at(s.upper, j);
          lower.push([x, lo]);
          width.push([x, lo === null || hi === null ? null : hi - lo]);
          mid.push([x, at(s.mid, j)]);
        }
        const stack = `band-${i}-${k}`;
        const common = { type: 'line', xAxisIndex: i, yAxisIndex: i, symbol: 'none', silent: true, clip, color } as const;
        return [
          { ...common, name: `${s.name} (${bandLabel}) lower`, data: lower, stack, stackStrategy: 'all', lineStyle: { opacity: 0 } },
          {
            ...common,
            name: `${s.name} (${bandLabel})`,
            data: width,
            stack,
            stackStrategy: 'all',
            lineStyle: { opacity: 0 },
            areaStyle: { color: withAlpha(color, 0.25), opacity: 1 },
          },
          { ...common, name: `${s.name} (${midLabel})`, data: mid, lineStyle: { width: 2, color, type: s.lineType ?? 'solid' } },
        ];
      })),
    }),
    legend,
  );
}

/** Each band series' [lower, band, line] triples reordered to all lowers and bands (in order), then all lines. */
function sortBandsFirst(triples: readonly LineSeriesOption[][]): LineSeriesOption[] {
  return [...triples.flatMap((t) => t.slice(0, 2)), ...triples.flatMap((t) => t.slice(2))];
}
