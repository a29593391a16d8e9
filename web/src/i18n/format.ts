/**
 * How numbers, rates, times and durations read in the console. Rates follow docs/statistics.md#counters: a
 * percentage with one decimal, and "–" over a zero denominator — never NaN, never blank.
 */
import dayjs from 'dayjs';
import type { Translate } from './i18n.tsx';

/** Shown wherever a value does not exist (a rate over zero deliveries, a time not reached yet). */
export const NONE = '–';

const counts = new Intl.NumberFormat('en-US');

/** A count with thousands separators: 150,000. */
export function formatCount(value: number): string {
  return counts.format(value);
}

/** A fraction as a percentage with one decimal (0.4567 → "45.7%"), or "–" when there is none. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return NONE;
  return `${(rate * 100).toFixed(1)}%`;
}

/** `part ÷ whole`, or null when `whole` is 0. */
export function rateOf(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/** An ISO time in the browser's time zone, to the second; "–" when absent. */
export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dayjs(iso).format('YYYY-MM-DD HH:mm:ss') : NONE;
}

/** An ISO time to the minute, for dense tables. */
export function formatShortDateTime(iso: string | null | undefined): string {
  return iso ? dayjs(iso).format('YYYY-MM-DD HH:mm') : NONE;
}

/** An ISO time for dense tables: without the year when it is this year ("11-27 05:06"). */
export function formatCompactDateTime(iso: string | null | undefined): string {
  if (!iso) return NONE;
  const at = dayjs(iso);
  return at.format(at.year() === dayjs().year() ? 'MM-DD HH:mm' : 'YYYY-MM-DD HH:mm');
}

/** A length of time in its two largest units: "2 d 5 h", "12 min 3 s". */
export function formatDuration(ms: number, t: Translate): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const parts: [number, 'unit.days' | 'unit.hours' | 'unit.minutes' | 'unit.seconds'][] = [
    [Math.floor(total / 86_400), 'unit.days'],
    [Math.floor((total % 86_400) / 3600), 'unit.hours'],
    [Math.floor((total % 3600) / 60), 'unit.minutes'],
    [total % 60, 'unit.seconds'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return t('unit.seconds', { n: 0 });
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, key]) => t(key, { n }))
    .join(' ');
}

/** A whole number of hours as a window's length: "1 hour", "72 hours" (windows are set in hours). */
export function formatHours(hours: number, t: Translate): string {
  return t('unit.hourCount', { n: formatCount(hours) });
}
