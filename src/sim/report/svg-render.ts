// The echarts server-side rendering step and its outputs: an option object → a deterministic SVG string,
// SVG → PNG through resvg, and writing both files. Charts are described in charts.ts; this file only renders.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { BarChart, BoxplotChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TitleComponent } from 'echarts/components';
import { init, setPlatformAPI, use, type EChartsCoreOption } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { measureText } from './text-metrics.ts';

use([LineChart, BarChart, BoxplotChart, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, SVGRenderer]);
// Process-wide in echarts: lay text out with DejaVu Sans widths, the font the PNGs use.
setPlatformAPI({ measureText });

/** Font family written into the SVGs; the PNG renderer maps it (and `sans-serif`) to DejaVu Sans when present. */
export const CHART_FONT_FAMILY = 'DejaVu Sans, Verdana, sans-serif';

const DEJAVU_DIR = '/usr/share/fonts/truetype/dejavu';
const DEJAVU_SANS = 'DejaVu Sans';

export interface ChartSize {
  readonly width: number;
  readonly height: number;
}

/**
 * Renders an echarts option to SVG with the SSR renderer, animation off. zrender numbers its instances
 * and CSS classes with process-global counters (`zr3-cls-17`, clip path `zr3-c0`); those ids are
 * renumbered in order of first appearance so the same option always gives byte-identical SVG.
 */
export function renderOptionToSvg(option: EChartsCoreOption, size: ChartSize): string {
  const chart = init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height });
  try {
    chart.setOption({ ...option, animation: false });
    return normalizeSvgIds(chart.renderToSVGString());
  } finally {
    chart.dispose();
  }
}

/** Renumbers zrender's instance-scoped ids (`zr<instance>-<kind><n>`) to `zr0-<kind><k>` by first appearance. */
export function normalizeSvgIds(svg: string): string {
  const seen = new Map<string, string>();
  const perKind = new Map<string, number>();
  return svg.replace(/\bzr\d+-([a-z]+-?)(\d+)\b/g, (token: string, kind: string) => {
    let id = seen.get(token);
    if (id === undefined) {
      const k = perKind.get(kind) ?? 0;
      perKind.set(kind, k + 1);
      id = `zr0-${kind}${k}`;
      seen.set(token, id);
    }
    return id;
  });
}

export interface PngOptions {
  /** Zoom factor; 2 gives a 2400 px wide PNG for a 1200 px chart. Default 1. */
  readonly scale?: number;
  /** Background colour; default white (SVGs from echarts are transparent). */
  readonly background?: string;
}

/**
 * Rasterizes an SVG to PNG with resvg. Loads system fonts and prefers DejaVu Sans; with no fonts on the
 * machine, text is left out but the PNG is still produced.
 */
export function svgToPng(svg: string, options: PngOptions = {}): Buffer {
  const haveDejaVu = existsSync(join(DEJAVU_DIR, 'DejaVuSans.ttf'));
  const font: NonNullable<ResvgRenderOptions['font']> = haveDejaVu
    ? { loadSystemFonts: true, fontDirs: [DEJAVU_DIR], defaultFontFamily: DEJAVU_SANS, sansSerifFamily: DEJAVU_SANS }
    : { loadSystemFonts: true };
  const scale = options.scale ?? 1;
  const resvg = new Resvg(svg, {
    font,
    background: options.background ?? 'white',
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

export interface WrittenChart {
  readonly svgPath: string;
  readonly pngPath: string;
}

/** Scale of the PNG that `writeChart` writes beside the SVG: sharp on high-density screens and in print. */
export const CHART_PNG_SCALE = 2;

/**
 * Writes `<dir>/<baseName>.svg` and `<dir>/<baseName>.png` (at `CHART_PNG_SCALE`, 2× the SVG's size,
 * unless `options.scale` says otherwise), creating `dir` if needed.
 */
export function writeChart(dir: string, baseName: string, svg: string, options: PngOptions = {}): WrittenChart {
  mkdirSync(dir, { recursive: true });
  const svgPath = join(dir, `${baseName}.svg`);
  const pngPath = join(dir, `${baseName}.png`);
  writeFileSync(svgPath, svg);
  writeFileSync(pngPath, svgToPng(svg, { scale: CHART_PNG_SCALE, ...options }));
  return { svgPath, pngPath };
}
