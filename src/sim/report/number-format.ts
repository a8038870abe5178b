// Deterministic, locale-free number formatting shared by the CSV, markdown and chart writers.
// JavaScript's Number → string conversion is fixed by the spec, so these outputs are the same on every machine.

/**
 * Formats a number without locale: integers exactly, other values rounded to `significantDigits`
 * (shortest round-trip form when omitted). Non-finite values become `NaN`, `Infinity`, `-Infinity`;
 * negative zero becomes `0`.
 */
export function formatNumber(value: number, significantDigits?: number): string {
  if (significantDigits !== undefined && !(Number.isInteger(significantDigits) && significantDigits >= 1 && significantDigits <= 100)) {
    throw new RangeError(`FARE_E_REPORT_DIGITS: significantDigits must be an integer in 1..100, got ${significantDigits}`);
  }
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  if (significantDigits === undefined || Number.isInteger(value)) return String(value);
  const rounded = Number(value.toPrecision(significantDigits));
  return rounded === 0 ? '0' : String(rounded);
}

/** A fraction as a percentage with `decimals` places: 0.1234 → `12.3%`. */
export function formatPercent(fraction: number, decimals = 1): string {
  if (!Number.isFinite(fraction)) return String(fraction);
  return `${fixed(fraction * 100, decimals)}%`;
}

/**
 * A duration in milliseconds in a readable unit, 3 significant digits:
 * `0.25 ms`, `850 ms`, `1.25 s`, `2.5 min`, `1.5 h`.
 */
export function formatMillis(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const abs = Math.abs(ms);
  if (abs < 1000) return `${formatNumber(ms, 3)} ms`;
  if (abs < 60_000) return `${formatNumber(ms / 1000, 3)} s`;
  if (abs < 3_600_000) return `${formatNumber(ms / 60_000, 3)} min`;
  return `${formatNumber(ms / 3_600_000, 3)} h`;
}

/**
 * An axis tick of a duration in milliseconds: `0.01 ms`, `250 ms`, `1 s`, `100 s`, `12,000 s` —
 * seconds from one second up (decades stay round numbers, unlike minutes), never a `k` suffix.
 */
export function formatMillisTick(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return '0';
  return Math.abs(ms) < 1000 ? `${formatGrouped(ms)} ms` : `${formatGrouped(ms / 1000)} s`;
}

/**
 * Compact axis-style form: values of 10 000 and above get an SI suffix (`12k`, `1.5M`, `3G`),
 * smaller ones keep up to 4 significant digits.
 */
export function formatCompact(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const units: readonly (readonly [number, string])[] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e4, 'k']];
  for (const [scale, suffix] of units) {
    if (abs >= scale) {
      const div = suffix === 'k' ? 1e3 : scale;
      return `${formatNumber(value / div, 3)}${suffix}`;
    }
  }
  return formatNumber(value, 4);
}

/**
 * Plain axis form, no SI suffix: up to 4 significant digits, thousands grouped with commas
 * (`15,000`, `3,200`, `0.35`). For quantities with a unit in the axis name (GB, TB) that a `k`
 * would turn into something else.
 */
export function formatGrouped(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const s = formatNumber(Math.abs(value) >= 1e4 ? Math.round(value) : value, 4);
  if (/e/i.test(s)) return s;
  const [int = '', frac] = s.split('.');
  const sign = int.startsWith('-') ? '-' : '';
  const digits = sign ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

/** toFixed without negative zero (`-0.0` → `0.0`). */
function fixed(value: number, decimals: number): string {
  const s = value.toFixed(decimals);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}
