/**
 * The console's one date-time format: the year, the minute and the browser's time zone named, so a
 * time read anywhere (task list, form, details header) means the same instant ("2026-12-07 18:00
 * UTC+08:00"). Dense tables name the zone once in their header (`timeZoneLabel`) and show
 * `formatDateTimeInZone` without it; a scheduled time in the future also gets a countdown.
 */
import dayjs from 'dayjs';
import { formatDuration, NONE } from './format.ts';
import type { Translate } from './i18n.tsx';

/** The pattern every console date-time uses (the zone is added beside it, never dropped). */
export const DATE_TIME_PATTERN = 'YYYY-MM-DD HH:mm';

/** The browser's offset from UTC at `at` (daylight saving moves it): "UTC+08:00", "UTC−05:00", "UTC". */
export function utcOffsetLabel(at: Date = new Date()): string {
  const minutes = -at.getTimezoneOffset();
  if (minutes === 0) return 'UTC';
  const sign = minutes > 0 ? '+' : '−';
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `UTC${sign}${hh}:${mm}`;
}

/** The browser's IANA time zone ("Asia/Shanghai"), or undefined where the browser names none. */
export function browserTimeZone(): string | undefined {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
}

/** The zone times are shown in, for headers and hints: "UTC+08:00 (Asia/Shanghai)". */
export function timeZoneLabel(at: Date = new Date()): string {
  const zone = browserTimeZone();
  const offset = utcOffsetLabel(at);
  return zone && zone !== 'UTC' && zone !== 'Etc/UTC' ? `${offset} (${zone})` : offset;
}

/** An ISO time in the browser's zone without the zone (for tables whose header names it); "–" when absent. */
export function formatDateTimeInZone(iso: string | null | undefined): string {
  return iso ? dayjs(iso).format(DATE_TIME_PATTERN) : NONE;
}

/** An ISO time with its zone: "2026-12-07 18:00 UTC+08:00"; "–" when absent. */
export function formatZonedDateTime(iso: string | null | undefined): string {
  if (!iso) return NONE;
  return `${dayjs(iso).format(DATE_TIME_PATTERN)} ${utcOffsetLabel(new Date(iso))}`;
}

/**
 * How long until `iso` from `now` ("in 2 h 5 min"), or null once it has passed: a scheduled task's
 * countdown, which the caller refreshes with its clock.
 */
export function formatCountdown(iso: string | null | undefined, now: number, t: Translate): string | null {
  if (!iso) return null;
  const left = Date.parse(iso) - now;
  if (!(left > 0)) return null;
  // Under a minute the seconds matter; above, whole minutes read calmer than a ticking second.
  const rounded = left < 60_000 ? left : Math.ceil(left / 60_000) * 60_000;
  return t('time.in', { left: formatDuration(rounded, t) });
}
