// Pixel layout and scales shared by the chart kinds: where the title, legend and each small-multiple panel go,
// one colour per series name across panels, and one y range shared by all panels so they compare.

import { formatCompact } from './number-format.ts';
import { measureText } from './text-metrics.ts';

/**
 * Okabe–Ito (Okabe & Ito 2008, "Color Universal Design"): eight colours told apart with every common
 * colour-vision deficiency. Yellow (weak on white) and black (kept for reference lines) come last.
 */
export const PALETTE: readonly string[] = [
  '#0072b2', '#e69f00', '#009e73', '#d55e00', '#cc79a7', '#56b4e9', '#f0e442', '#000000',
];

/** Colour of reference lines (capacities, limits): not a palette colour, so never taken for a series. */
export const REFERENCE_COLOR = '#555555';

export const TEXT_COLOR = '#333333';
export const AXIS_COLOR = '#666666';
export const SPLIT_COLOR = '#e3e3e3';

/** A colour per series name, by first appearance, so one name has one colour in every panel. */
export function colorMap(names: Iterable<string>, overrides: Readonly<Record<string, string>> = {}): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  for (const name of names) {
    if (out.has(name)) continue;
    const fixed = Object.hasOwn(overrides, name) ? overrides[name] : undefined;
    out.set(name, fixed ?? PALETTE[i % PALETTE.length] ?? '#000000');
    i++;
  }
  return out;
}

/** `#rrggbb` with an alpha, as `rgba(...)`. Other colour strings are returned unchanged. */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return color;
  const [r, g, b] = [m[1], m[2], m[3]].map((h) => parseInt(h ?? '0', 16));
  return `rgba(${r},${g},${b},${alpha})`;
}

export interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface PanelLayout {
  /** Plot area of each panel, row-major. */
  readonly grids: readonly Rect[];
  readonly columns: number;
  readonly rows: number;
  /** y of the legend's top edge. */
  readonly legendTop: number;
}

export interface LayoutInput {
  readonly width: number;
  readonly height: number;
  readonly panels: number;
  readonly columns: number;
  readonly hasSubtitle: boolean;
  /** Lines the title (and the subtitle) wrap to; default 1 each. */
  readonly titleLines?: number;
  readonly subtitleLines?: number;
  readonly hasPanelTitles: boolean;
  readonly legendNames: readonly string[];
  /** Widest y tick label, in px. */
  readonly yLabelWidth: number;
  /** Height in px of the x tick labels below the axis line (see `xLabelDrop`). */
  readonly xLabelDrop: number;
}

const TITLE_H = 34;
const SUBTITLE_H = 20;
const LEGEND_ROW_H = 24;
const PANEL_TITLE_H = 24;
const RIGHT = 24;
const TITLE_LINE_H = 22;
const SUBTITLE_LINE_H = 16;
/** Legend entry text size; charts.ts styles the legend with it. */
export const LEGEND_FONT_SIZE = 13;
/** Legend text wider than this (px) is cut with an ellipsis, so one long name cannot take a row. */
export const LEGEND_MAX_TEXT = 380;
/** Title and subtitle fonts; the frame wraps them to the canvas with these. */
export const TITLE_FONT = 'bold 17px sans-serif';
export const SUBTITLE_FONT = '12px sans-serif';

/** Rows the legend wraps to: each item is icon (24) + gap (5) + text + item gap (16). */
export function legendRows(names: readonly string[], width: number): number {
  if (names.length === 0) return 0;
  const avail = width - 80;
  let rows = 1;
  let x = 0;
  for (const n of names) {
    const w = 45 + Math.min(LEGEND_MAX_TEXT, measureText(n, `${LEGEND_FONT_SIZE}px sans-serif`).width);
    if (x > 0 && x + w > avail) {
      rows++;
      x = 0;
    }
    x += w;
  }
  return rows;
}

/** Splits the canvas into a title band, a legend band and a grid of equally sized panels. */
export function layoutPanels(input: LayoutInput): PanelLayout {
  const columns = Math.max(1, Math.min(input.columns, input.panels));
  const rows = Math.max(1, Math.ceil(input.panels / columns));
  const titleLines = Math.max(1, input.titleLines ?? 1);
  const subtitleLines = input.hasSubtitle ? Math.max(1, input.subtitleLines ?? 1) : 0;
  const legendTop =
    TITLE_H + (titleLines - 1) * TITLE_LINE_H + (subtitleLines > 0 ? SUBTITLE_H + (subtitleLines - 1) * SUBTITLE_LINE_H : 0);
  const legendH = legendRows(input.legendNames, input.width) * LEGEND_ROW_H;
  const panelTitleH = input.hasPanelTitles ? PANEL_TITLE_H : 0;
  const yAxisW = input.yLabelWidth + 8 + 30; // labels, their margin, the rotated axis name
  const left = Math.round(yAxisW + 12);
  const xAxisH = xNameGap(input.xLabelDrop) + 22; // tick labels and the axis name under them
  const colGap = columns > 1 ? Math.round(input.yLabelWidth + 28) : 0;
  const rowGap = rows > 1 ? xAxisH - 14 + panelTitleH : 0;
  const top = legendTop + legendH + 10 + panelTitleH;
  const plotW = (input.width - left - RIGHT - colGap * (columns - 1)) / columns;
  const plotH = (input.height - top - xAxisH - rowGap * (rows - 1)) / rows;
  if (plotW < 40 || plotH < 40) {
    throw new RangeError(
      `FARE_E_REPORT_LAYOUT: ${input.panels} panels in ${columns} columns do not fit ${input.width}x${input.height} px; ` +
        'make the chart larger or use fewer columns',
    );
  }
  const grids: Rect[] = [];
  for (let i = 0; i < input.panels; i++) {
    const c = i % columns;
    const r = Math.floor(i / columns);
    grids.push({
      left: Math.round(left + c * (plotW + colGap)),
      top: Math.round(top + r * (plotH + rowGap)),
      width: Math.round(plotW),
      height: Math.round(plotH),
    });
  }
  return { grids, columns, rows, legendTop };
}

/** `text` broken at spaces into lines no wider than `maxWidth` px in `font` (a word wider than that keeps its own line). */
export function wrapText(text: string, font: string, maxWidth: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line === '' ? word : `${line} ${word}`;
    if (line !== '' && measureText(next, font).width > maxWidth) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  lines.push(line);
  return lines;
}

/** Default panels per row: at most 3, rows filled evenly (4 panels: 2 × 2, not 3 + 1; 5: 3 + 2). */
export function defaultColumns(panels: number): number {
  const n = Math.max(1, panels);
  return Math.ceil(n / Math.ceil(n / 3));
}

/** Default canvas height: 500 px for one row of panels, 330 px more per extra row. */
export function defaultHeight(panels: number, columns: number): number {
  const rows = Math.max(1, Math.ceil(panels / Math.max(1, Math.min(columns, panels))));
  return 500 + (rows - 1) * 330;
}

/** Rotation of long category labels, in degrees. */
export const X_LABEL_ROTATION = 35;

/** Height below the axis line taken by 12 px x tick labels, rotated or not. */
export function xLabelDrop(labels: readonly string[], rotated: boolean): number {
  if (!rotated) return 14;
  const widest = Math.max(0, ...labels.map((l) => measureText(l, '12px sans-serif').width));
  const rad = (X_LABEL_ROTATION * Math.PI) / 180;
  return Math.ceil(widest * Math.sin(rad) + 12 * Math.cos(rad));
}

/** Distance from the x axis line to the centre of its name, below the tick labels. */
export function xNameGap(labelDrop: number): number {
  return labelDrop + 16;
}

export interface AxisRange {
  readonly min: number;
  readonly max: number;
}

const NICE_STEPS: readonly number[] = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];

/** Smallest "nice" number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) ≥ v, for v > 0. */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return v;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  const f = v / base;
  const step = NICE_STEPS.find((s) => s >= f - 1e-9) ?? 10;
  return Number((step * base).toPrecision(12));
}

/**
 * A y range covering every value. Linear: from 0 (or a nice negative floor) to a nice ceiling.
 * Log: whole decades around the positive values. `fixed` bounds win over computed ones.
 */
export function valueRange(values: Iterable<number>, log: boolean, fixed: Partial<AxisRange> = {}): AxisRange {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let min: number;
  let max: number;
  if (lo > hi) {
    min = log ? 1 : 0;
    max = log ? 10 : 1;
  } else if (log) {
    min = 10 ** Math.floor(Math.log10(lo) + 1e-9);
    max = 10 ** Math.ceil(Math.log10(hi) - 1e-9);
    if (max <= min) max = min * 10;
  } else {
    min = lo >= 0 ? 0 : -niceCeil(-lo);
    max = hi <= 0 ? 0 : niceCeil(hi);
    if (max <= min) max = min + 1;
  }
  return { min: fixed.min ?? min, max: fixed.max ?? max };
}

/** Width in px of the widest 12 px tick label of a range (labels use `format`, default `formatCompact`), at least 24. */
export function tickLabelWidth(range: AxisRange, format: (v: number) => string = formatCompact): number {
  const samples = [range.min, range.max, (range.min + range.max) / 2, range.max / 3, range.max * 0.7];
  return Math.max(24, ...samples.map((v) => measureText(format(Number(v.toPrecision(2))), '12px sans-serif').width));
}

export interface TickedRange extends AxisRange {
  readonly interval: number;
}

/**
 * An x range widened to whole ticks of a 1-2-2.5-5 step, about one tick per 90 px of `pixels`,
 * so the axis ends on a labelled tick (0 … 6000 s, not 0 … 5990).
 */
export function tickedRange(lo: number, hi: number, pixels: number): TickedRange {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) return { min: 0, max: 1, interval: 0.2 };
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) / 2;
    return tickedRange(lo - pad, hi + pad, pixels);
  }
  const target = Math.max(2, Math.floor(pixels / 90));
  const raw = (hi - lo) / target;
  const base = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((s) => s * base).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * base;
  const round = (v: number): number => Number(v.toPrecision(12));
  const min = round(Math.floor(lo / step + 1e-9) * step);
  const max = round(Math.ceil(hi / step - 1e-9) * step);
  return { min, max, interval: round(step) };
}
