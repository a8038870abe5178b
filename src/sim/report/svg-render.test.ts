import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_PNG_SCALE, normalizeSvgIds, renderOptionToSvg, svgToPng, writeChart } from './svg-render.ts';
import { tempDir } from '../../../test/support/temp-dir.ts';

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngSize(png: Buffer): { width: number; height: number } {
  // IHDR is the first chunk: 8-byte signature, 4-byte length, "IHDR", then width and height.
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const option = {
  title: { text: 'hello' },
  xAxis: { type: 'value' },
  yAxis: { type: 'value' },
  series: [{ type: 'line', name: 's', data: [[0, 1], [1, 2]] }],
};

describe('renderOptionToSvg', () => {
  it('renders the same option to the same bytes across chart instances', () => {
    const a = renderOptionToSvg(option, { width: 300, height: 200 });
    const b = renderOptionToSvg(option, { width: 300, height: 200 });
    expect(a).toBe(b);
    expect(a).toMatch(/^<svg width="300" height="200"/);
    expect(a).not.toMatch(/zr[1-9]\d*-/);
  });
});

describe('normalizeSvgIds', () => {
  it('renumbers zrender ids by first appearance, per kind', () => {
    expect(normalizeSvgIds('<a class="zr7-cls-12"/><b clip-path="url(#zr7-c3)"/><c class="zr7-cls-9 zr7-cls-12"/>')).toBe(
      '<a class="zr0-cls-0"/><b clip-path="url(#zr0-c0)"/><c class="zr0-cls-1 zr0-cls-0"/>',
    );
  });
});

describe('svgToPng', () => {
  const svg = renderOptionToSvg(option, { width: 320, height: 180 });

  it('returns a PNG of the SVG size', () => {
    const png = svgToPng(svg);
    expect(png.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
    expect(pngSize(png)).toEqual({ width: 320, height: 180 });
  });

  it('scales on request', () => {
    expect(pngSize(svgToPng(svg, { scale: 2 }))).toEqual({ width: 640, height: 360 });
  });
});

describe('writeChart', () => {
  it('writes baseName.svg and baseName.png into a new directory', () => {
    const dir = join(tempDir('fare-chart-'), 'figs');
    const svg = renderOptionToSvg(option, { width: 200, height: 100 });
    const out = writeChart(dir, 'fig4', svg);
    expect(out).toEqual({ svgPath: join(dir, 'fig4.svg'), pngPath: join(dir, 'fig4.png') });
    expect(readFileSync(out.svgPath, 'utf8')).toBe(svg);
    expect(readFileSync(out.pngPath).subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
  });

  it('writes the PNG at twice the SVG size unless told otherwise', () => {
    const dir = tempDir('fare-chart-');
    const svg = renderOptionToSvg(option, { width: 300, height: 150 });
    expect(CHART_PNG_SCALE).toBe(2);
    expect(pngSize(readFileSync(writeChart(dir, 'two', svg).pngPath))).toEqual({ width: 600, height: 300 });
    expect(pngSize(readFileSync(writeChart(dir, 'one', svg, { scale: 1 }).pngPath))).toEqual({ width: 300, height: 150 });
  });
});
