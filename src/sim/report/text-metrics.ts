// Text widths for DejaVu Sans, the font the PNGs are drawn with. echarts lays out legends, titles and axis
// names with a text-measuring function; without a canvas (server-side) it falls back to an Arial table,
// which is ~10% narrower than DejaVu, so legend entries crowd together. This supplies DejaVu's advance
// widths instead (read from DejaVuSans.ttf / DejaVuSans-Bold.ttf hmtx, per 1000 units of em).

/** Advance widths of U+0020 … U+007E. */
const REGULAR = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636,
  636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863,
  748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635,
  615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636,
  337, 636, 838,
] as const;

const BOLD = [
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696,
  696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995,
  837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716,
  678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712,
  365, 712, 838,
] as const;

/** A few non-ASCII characters that appear in chart labels (same width in both weights). */
const EXTRA: ReadonlyMap<string, number> = new Map([
  ['×', 838], ['µ', 636], ['°', 500], ['–', 500], ['—', 1000], ['…', 1000],
  ['≤', 838], ['≥', 838], ['−', 838], ['\u2009', 200], ['\u202f', 200], ['\u00a0', 318],
]);

const DEFAULT_SIZE = 12;
/** Unknown characters (CJK, symbols) are taken as one em wide: too wide is safer than overlapping. */
const UNKNOWN = 1000;

/** Width in px of `text` in a CSS font shorthand such as `bold 17px DejaVu Sans, sans-serif`. */
export function measureText(text: string, font?: string): { width: number } {
  const size = Number(/(\d+(?:\.\d+)?)px/.exec(font ?? '')?.[1] ?? DEFAULT_SIZE);
  const bold = /\b(bold|bolder|[6-9]00)\b/.test(font ?? '');
  const table = bold ? BOLD : REGULAR;
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    units += (code >= 32 && code <= 126 ? table[code - 32] : EXTRA.get(ch)) ?? UNKNOWN;
  }
  return { width: (units * size) / 1000 };
}
