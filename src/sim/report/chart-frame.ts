// The frame every chart kind shares: main title, legend, one grid with its axes per small-multiple panel,
// one y range for all panels, colours by series name; the kinds in charts.ts supply each panel's x axis
// and series.

import type { BarSeriesOption, BoxplotSeriesOption, LineSeriesOption } from 'echarts/charts';
import type { GridComponentOption, LegendComponentOption, TitleComponentOption } from 'echarts/components';
import type { ComposeOption } from 'echarts/core';
import {
  AXIS_COLOR,
  LEGEND_FONT_SIZE,
  SPLIT_COLOR,
  TEXT_COLOR,
  X_LABEL_ROTATION,
  colorMap,
  defaultHeight,
  layoutPanels,
  tickLabelWidth,
  tickedRange,
  valueRange,
  xNameGap,
  type AxisRange,
  type PanelLayout,
  type Rect,
} from './chart-layout.ts';
import { formatCompact } from './number-format.ts';
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
  /** Panels per row; default min(panels, 3). */
  readonly columns?: number;
  /** Fixed colours by series name; the rest come from the palette in order of first appearance. */
  readonly colors?: Readonly<Record<string, string>>;
  /** Fix the shared y axis ends (otherwise: nice bounds covering all panels). */
  readonly yMin?: number;
  readonly yMax?: number;
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
  build: (panel: P, index: number, colors: ReadonlyMap<string, string>, rect: Rect) => PanelParts,
  legendItems?: readonly LegendItem[],
): string {
  if (panels.length === 0) throw new RangeError(`FARE_E_REPORT_EMPTY: chart "${spec.title}" has no panels`);
  const names = panels.flatMap((p) => p.series.map((s) => s.name));
  const colors = colorMap(names, spec.colors);
  const legendNames = legendItems ? legendItems.map((l) => String(l.name)) : [...colors.keys()];
  const yRange = valueRange(yValues, log, {
    ...(spec.yMin === undefined ? {} : { min: spec.yMin }),
    ...(spec.yMax === undefined ? {} : { max: spec.yMax }),
  });
  const yLabelWidth = tickLabelWidth(yRange);
  const width = spec.width ?? DEFAULT_WIDTH;
  const columns = spec.columns ?? Math.min(panels.length, 3);
  const hasPanelTitles = panels.some((p) => p.title !== undefined && p.title !== '');
  const height = spec.height ?? defaultHeight(panels.length, columns);
  const layout = layoutPanels({
    width,
    height,
    panels: panels.length,
    columns,
    hasSubtitle: spec.subtitle !== undefined && spec.subtitle !== '',
    hasPanelTitles,
    legendNames,
    yLabelWidth,
    xLabelDrop: xLabelDropPx,
  });

  const titles: TitleComponentOption[] = [mainTitle(spec)];
  const grids: GridComponentOption[] = [];
  const xAxes: AxisOption[] = [];
  const yAxes: YAxisOption[] = [];
  const series: SeriesOption[] = [];
  panels.forEach((panel, i) => {
    const rect = layout.grids[i];
    if (!rect) return;
    const parts = build(panel, i, colors, rect);
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
    yAxes.push(yAxis(i, i % layout.columns === 0 ? spec.yName : '', yRange, log, yLabelWidth));
    series.push(...parts.series);
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

function mainTitle(spec: ChartFrame): TitleComponentOption {
  return {
    text: spec.title,
    ...(spec.subtitle ? { subtext: spec.subtitle } : {}),
    left: 'center',
    top: 8,
    itemGap: 6,
    textStyle: { fontSize: 17, fontWeight: 'bold', color: TEXT_COLOR },
    subtextStyle: { fontSize: 12, color: '#555555' },
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
    textStyle: { fontSize: LEGEND_FONT_SIZE, color: TEXT_COLOR },
    data: [...data],
  };
}

function valueAxisStyle() {
  return {
    axisLine: { show: true, lineStyle: { color: AXIS_COLOR } },
    axisTick: { show: true, lineStyle: { color: AXIS_COLOR } },
    axisLabel: { color: TEXT_COLOR, fontSize: 12, hideOverlap: true, formatter: (v: number) => formatCompact(v) },
    splitLine: { show: true, lineStyle: { color: SPLIT_COLOR } },
    nameTextStyle: { fontSize: 13, color: TEXT_COLOR },
  } as const;
}

function yAxis(index: number, name: string, range: AxisRange, log: boolean, labelWidth: number): YAxisOption {
  return {
    ...valueAxisStyle(),
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

/** A value x axis over the data extent, widened to whole ticks unless the ends are given. */
export function xValueAxis(data: AxisRange, rect: Rect, min: number | undefined, max: number | undefined): AxisOption {
  const t = tickedRange(min ?? data.min, max ?? data.max, rect.width);
  return { ...valueAxisStyle(), type: 'value', min: min ?? t.min, max: max ?? t.max, interval: t.interval };
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
