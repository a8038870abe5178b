import { describe, expect, it } from 'vitest';
import { measureText } from './text-metrics.ts';

describe('measureText', () => {
  it('scales DejaVu Sans advance widths by the font size', () => {
    expect(measureText('0', '12px sans-serif').width).toBeCloseTo(7.632);
    expect(measureText('00', '24px sans-serif').width).toBeCloseTo(30.528);
  });

  it('uses the bold table for bold fonts and 12 px when no size is given', () => {
    expect(measureText('a', 'bold 10px DejaVu Sans').width).toBeCloseTo(6.75);
    expect(measureText('a').width).toBeCloseTo(7.356);
  });

  it('takes unknown characters as one em', () => {
    expect(measureText('日', '10px x').width).toBe(10);
  });
});
