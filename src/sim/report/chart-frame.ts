// The frame every chart kind shares: main title, legend, one grid with its axes per small-multiple panel,
// one y range for all panels, colours by series name; the kinds in charts.ts supply each panel's x axis
// and series.

import type { BarSeriesOption, BoxplotSeriesOption, LineSeriesOption } from 'echarts/charts';
import type { GridComponentOption, LegendComponentOption, TitleComponentOption } from 'echarts/components';
import type { ComposeOption } from 'echarts/core';
import {
  AXIS_COLOR,
  LEGEND_FONT_SIZE,
  LEGEND_MAX_TEXT,
  REFERENCE_COLOR,
  SPLIT_COLOR,
  SUBTITLE_FONT,
  TITLE_FONT,
  TEXT_COLOR,
  X_LABEL_ROTATION,
  colorMap,
  defaultColumns,
  defaultHeight,
  layoutPanels,
  tickLabelWidth,
  tickedRange,
  valueRange,
  wrapText,
  xNameGap,
  type AxisRange,
  type PanelLayout,
  type Rect,
} from './chart-layout.ts';
import { formatCompact, formatGrouped, formatMillisTick } from './number-format.ts';
import { CHART_FONT_FAMILY, renderOptionToSvg } from './svg-render.ts';

export type SeriesOption = LineSeriesOption | BarSeriesOption | BoxplotSeriesOption;
type ChartOption = ComposeOption<SeriesOption | GridComponentOption | LegendComponentOption | TitleComponentOption>;
export type AxisOption = Exclude<NonNullable<ChartOption['xAxis']>, readonly unknown[]>;
type YAxisOption = Exclude<NonNullable<ChartOption['yAxis']>, readonly unknown[]>;
export type LegendItem = Exclude<NonNullable<LegendComponentOption['data']>[number], string>;

/** What every chart kind has: titles, axis names (put the unit in them), size and panel grid. */
export interface ChartFrame {
  readonly title: string;
  readonly subtitle?: string;
  /** x axis name with its unit, e.g. `offered load (fraction of capacity)`. */
  readonly xName: string;
  /** y axis name with its unit, e.g. `p99 response time (ms)`. */
  readonly yName: string;
  /** Canvas width in px; default 1200. */
  readonly width?: number;
  /** Canvas height in px; default 500 for one row of panels, 330 more per extra row. */
  readonly height?: number;
  /** Panels per row; default at most 3, rows filled evenly (`defaultColumns`). */
  readonly columns?: number;
  /** Fixed colours by series name; the rest come from the palette in order of first appearance. */
  readonly colors?: Readonly<Record<string, string>>;
  /** Fix the shared y axis ends (otherwise: nice bounds covering all panels). */
  readonly yMin?: number;
  readonly yMax?: number;
  /**
   * y tick labels: `compact` (default) shortens 10,000 and above with k / M / G; `plain` writes them out
   * (`15,000`): use it for bytes (GB, TB), where a `k` or `M` would read as another unit; `ms`: the
   * values are milliseconds, each label carries its unit (`250 ms`, `10 s`), so the axis name does not.
   */
  readonly yTicks?: 'compact' | 'plain' | 'ms';
  /** x tick labels of a value axis, as `yTicks`: `plain` for times in seconds, where `12k` is not a unit people read. */
  readonly xTicks?: 'compact' | 'plain';
  /** Horizontal reference lines drawn in every panel (a capacity, a device's limit), labelled on the line. */
  readonly references?: readonly ReferenceLine[];
}

/** A dashed horizontal line at `value`, with `label` written on it at the right end (not a legend entry). */
export interface ReferenceLine {
  readonly value: number;
  readonly label: string;
}

export interface PanelParts {
  readonly xAxis: AxisOption;
  readonly series: readonly SeriesOption[];
}

export interface PanelBase {
  readonly title?: string;
  readonly series: readonly { readonly name: string }[];
}

const DEFAULT_WIDTH = 1200;

/** The shared frame: titles, legend, one grid + axes per panel, one y range for all panels. */
export function renderPanels<P extends PanelBase>(
  spec: ChartFrame,
  panels: readonly P[],
  yValues: readonly number[],
  log: boolean,
  xLabelDropPx: number,
  build: (panel: P, index: number, colors: ReadonlyMap<string, string>, rect: Rect, yRange: AxisRange) => PanelParts,
  legendItems?: readonly LegendItem[],
): string {
  if (panels.length === 0) throw new RangeError(`FARE_E_REPORT_EMPTY: chart "${spec.title}" has no panels`);
  const names = panels.flatMap((p) => p.series.map((s) => s.name));
  const colors = colorMap(names, spec.colors);
  const legendNames = legendItems ? legendItems.map((l) => String(l.name)) : [...colors.keys()];
  const references = spec.references ?? [];
  const yRange = valueRange([...yValues, ...references.map((r) => r.value)], log, {
    ...(spec.yMin === undefined ? {} : { min: spec.yMin }),
    ...(spec.yMax === undefined ? {} : { max: spec.yMax }),
  });
  const tickFormat = spec.yTicks === 'plain' ? formatGrouped : spec.yTicks === 'ms' ? formatMillisTick : formatCompact;
  const yLabelWidth = tickLabelWidth(yRange, tickFormat);
  const width = spec.width ?? DEFAULT_WIDTH;
  const titleLines = wrapText(spec.title, TITLE_FONT, width - 40);
  const subtitleLines = spec.subtitle ? wrapText(spec.subtitle, SUBTITLE_FONT, width - 40) : [];
  const columns = spec.columns ?? defaultColumns(panels.length);
  const hasPanelTitles = panels.some((p) => p.title !== undefined && p.title !== '');
  const height = spec.height ?? defaultHeight(panels.length, columns);
  const layout = layoutPanels({
    width,
    height,
    panels: panels.length,
    columns,
    hasSubtitle: subtitleLines.length > 0,
    titleLines: titleLines.length,
    subtitleLines: subtitleLines.length,
    hasPanelTitles,
    legendNames,
    yLabelWidth,
    xLabelDrop: xLabelDropPx,
  });

  const titles: TitleComponentOption[] = [mainTitle(titleLines, subtitleLines)];
  const grids: GridComponentOption[] = [];
  const xAxes: AxisOption[] = [];
  const yAxes: YAxisOption[] = [];
  const series: SeriesOption[] = [];
  panels.forEach((panel, i) => {
    const rect = layout.grids[i];
    if (!rect) return;
    const parts = build(panel, i, colors, rect, yRange);
    if (panel.title) titles.push(panelTitle(panel.title, rect));
    grids.push({ ...rect, outerBoundsMode: 'none', show: true, borderColor: '#cccccc', borderWidth: 1 });
    const lastRowOrBelowEmpty = i + layout.columns >= panels.length;
    xAxes.push({
      ...parts.xAxis,
      gridIndex: i,
      name: lastRowOrBelowEmpty ? spec.xName : '',
      nameLocation: 'middle',
      nameGap: xNameGap(xLabelDropPx),
      nameMoveOverlap: false,
    });
    yAxes.push(yAxis(i, i % layout.columns === 0 ? spec.yName : '', yRange, log, yLabelWidth, tickFormat));
    series.push(...parts.series);
    if (references.length > 0) series.push(referenceSeries(references, i));
  });

  const option: ChartOption = {
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: CHART_FONT_FAMILY, color: TEXT_COLOR },
    title: titles,
    legend: legend(layout, legendItems ?? legendNames, width),
    grid: grids,
    xAxis: xAxes,
    yAxis: yAxes,
    series,
  };
  return renderOptionToSvg(option, { width, height });
}

/** Title and subtitle above the legend and the panels, each wrapped to the canvas (lines given). */
function mainTitle(title: readonly string[], subtitle: readonly string[]): TitleComponentOption {
  return {
    text: title.join('\n'),
    ...(subtitle.length > 0 ? { subtext: subtitle.join('\n') } : {}),
    left: 'center',
    top: 8,
    itemGap: 6,
    textStyle: { fontSize: 17, fontWeight: 'bold', color: TEXT_COLOR, lineHeight: 22 },
    subtextStyle: { fontSize: 12, color: '#555555', lineHeight: 16 },
  };
}

/**
 * The reference lines of one panel: a line series without data or legend entry, carrying a dashed
 * mark line per reference, its label above the line at the right end.
 */
function referenceSeries(references: readonly ReferenceLine[], index: number): LineSeriesOption {
  return {
    type: 'line',
    name: '',
    xAxisIndex: index,
    yAxisIndex: index,
    data: [],
    silent: true,
    markLine: {
      silent: true,
      symbol: 'none',
      animation: false,
      lineStyle: { color: REFERENCE_COLOR, type: 'dashed', width: 1.5 },
      label: { position: 'insideEndTop', color: TEXT_COLOR, fontSize: 12 },
      data: references.map((r) => ({ yAxis: r.value, name: r.label, label: { formatter: r.label } })),
    },
  };
}

function panelTitle(text: string, rect: Rect): TitleComponentOption {
  return {
    text,
    left: rect.left + rect.width / 2,
    top: rect.top - 22,
    textAlign: 'center',
    padding: 0,
    textStyle: { fontSize: 14, fontWeight: 'bold', color: TEXT_COLOR },
  };
}

function legend(layout: PanelLayout, data: readonly (string | LegendItem)[], width: number): LegendComponentOption {
  return {
    top: layout.legendTop,
    left: 'center',
    width: width - 80,
    itemWidth: 24,
    itemHeight: 12,
    itemGap: 16,
    textStyle: { fontSize: LEGEND_FONT_SIZE, color: TEXT_COLOR, width: LEGEND_MAX_TEXT, overflow: 'truncate' },
    data: [...data],
  };
}

function valueAxisStyle(format: (v: number) => string = formatCompact) {
  return {
    axisLine: { show: true, lineStyle: { color: AXIS_COLOR } },
    axisTick: { show: true, lineStyle: { color: AXIS_COLOR } },
    axisLabel: { color: TEXT_COLOR, fontSize: 12, hideOverlap: true, formatter: (v: number) => format(v) },
    splitLine: { show: true, lineStyle: { color: SPLIT_COLOR } },
    nameTextStyle: { fontSize: 13, color: TEXT_COLOR },
  } as const;
}

function yAxis(index: number, name: string, range: AxisRange, log: boolean, labelWidth: number, format: (v: number) => string): YAxisOption {
  return {
    ...valueAxisStyle(format),
    ...(log ? { type: 'log', logBase: 10 } : { type: 'value' }),
    gridIndex: index,
    min: range.min,
    max: range.max,
    name,
    nameLocation: 'middle',
    nameGap: Math.round(labelWidth + 16),
    nameMoveOverlap: false,
  };
}

export function categoryAxis(categories: readonly string[], rotate: boolean): AxisOption {
  return {
    type: 'category',
    data: [...categories],
    axisLine: { show: true, lineStyle: { color: AXIS_COLOR } },
    axisTick: { show: true, alignWithLabel: true, lineStyle: { color: AXIS_COLOR } },
    axisLabel: { color: TEXT_COLOR, fontSize: 12, hideOverlap: true, ...(rotate ? { rotate: X_LABEL_ROTATION } : {}) },
    nameTextStyle: { fontSize: 13, color: TEXT_COLOR },
  };
}

/**
 * A value x axis that ends at the data (or at `min` / `max` when given), with ticks and grid lines on
 * whole 1-2-2.5-5 steps (about one per 90 px). An end between ticks gets a tick and label of its own
 * only when it is a half step (0.5 on a 0.2 step) lying half a step from the ticks beside it, so its
 * label neither crowds theirs nor shows an odd number (9.62 s).
 */
export function xValueAxis(data: AxisRange, rect: Rect, min: number | undefined, max: number | undefined, ticksFormat: 'compact' | 'plain' = 'compact'): AxisOption {
  const lo = min ?? data.min;
  const hi = max ?? data.max;
  const t = tickedRange(lo, hi, rect.width);
  const [axisMin, axisMax] = hi > lo ? [lo, hi] : [t.min, t.max];
  // An axis cut to the data may hold a single whole step of the width's spacing: take smaller steps until three fit.
  let step = t.interval;
  let ticks = xTicks(axisMin, axisMax, step);
  for (let k = 0; k < 4 && ticks.length < 3; k++) {
    step = smallerStep(step);
    ticks = xTicks(axisMin, axisMax, step);
  }
  const style = valueAxisStyle(ticksFormat === 'plain' ? formatGrouped : formatCompact);
  return {
    ...style,
    type: 'value',
    min: axisMin,
    max: axisMax,
    axisTick: { ...style.axisTick, customValues: ticks },
    axisLabel: { ...style.axisLabel, customValues: ticks },
  };
}

/** The next smaller step of the 1-2-2.5-5 sequence (5 → 2.5 → 2 → 1 → 0.5). */
function smallerStep(step: number): number {
  const base = 10 ** Math.floor(Math.log10(step) + 1e-9);
  const m = Math.round((step / base) * 10) / 10;
  const next = m >= 5 ? 2.5 : m >= 2.5 ? 2 : m >= 2 ? 1 : 0.5;
  return Number((next * base).toPrecision(12));
}

/** The ticks of `xValueAxis`: whole steps inside [min, max], and each end that qualifies (see there). */
export function xTicks(min: number, max: number, step: number): number[] {
  const round = (v: number): number => Number(v.toPrecision(12));
  const eps = step * 1e-6;
  const ticks: number[] = [];
  for (let k = Math.ceil(min / step - 1e-6); k * step <= max + eps; k++) ticks.push(round(k * step));
  const half = (v: number): boolean => Math.abs((2 * v) / step - Math.round((2 * v) / step)) < 1e-6;
  const first = ticks[0], last = ticks.at(-1);
  if (first === undefined || first - min > eps) {
    if (half(min) && (first === undefined || first - min >= step / 2 - eps)) ticks.unshift(round(min));
  }
  if (last === undefined || max - last > eps) {
    if (half(max) && (last === undefined || max - last >= step / 2 - eps)) ticks.push(round(max));
  }
  return ticks;
}

/** A log x axis over whole decades around the data (1 … 100 for 1, 2, 5, …, 100). */
export function xLogAxis(data: AxisRange): AxisOption {
  const r = valueRange([data.min, data.max], true);
  return { ...valueAxisStyle(), type: 'log', logBase: 10, min: r.min, max: r.max };
}

/** Smallest and largest finite value; 0 … 1 when there are none. */
export function extent(values: readonly number[]): AxisRange {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) {
    lo = 0;
    hi = 1;
  }
  return { min: lo, max: hi };
}
