import { describe, expect, it } from 'vitest';
import { judgeBudget } from './budget.ts';

const day = 86_400_000;
const month = 30 * day;

describe('judgeBudget', () => {
  it('allows a small floor at the start of the month and runs up to twice the even pace', () => {
    expect(judgeBudget(0, 0, month, 39, 1000).state).toBe('ok'); // floor 5% = 50
    expect(judgeBudget(0, 0, month, 45, 1000).state).toBe('warn'); // ≥ 80% of 50
    expect(judgeBudget(0, 0, month, 50, 1000).state).toBe('over');
    // Day 3: allowance = 1000 × (0.05 + 2 × 0.1) = 250.
    const v = judgeBudget(3 * day, 0, month, 240, 1000);
    expect(v.allowance).toBeCloseTo(250, 9);
    expect(v.state).toBe('warn');
  });

  it('never allows more than the budget and tells when spending may resume', () => {
    const late = judgeBudget(29 * day, 0, month, 1000, 1000);
    expect(late.allowance).toBe(1000);
    expect(late.state).toBe('over');
    expect(late.retryAt).toBe(month); // only a new month helps
    const early = judgeBudget(1 * day, 0, month, 150, 1000); // allowance 116.7; 150 reached on day 1.5
    expect(early.state).toBe('over');
    expect(early.retryAt).toBeCloseTo(1.5 * day, 3);
  });

  it('treats no budget as unlimited', () => {
    expect(judgeBudget(0, 0, month, 1e12, Infinity).state).toBe('ok');
  });
});
