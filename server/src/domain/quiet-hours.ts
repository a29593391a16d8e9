/**
 * Quiet hours (docs/delivery-controls.md#quiet-hours): whether an instant falls inside an app's daily
 * window, local to its time zone, and when that window ends. Pure: local times come from `Intl`, so
 * daylight-saving days are right in every IANA zone.
 */
import type { QuietHours } from './delivery-settings.ts';

const MINUTE_MS = 60_000;
const DAY_MINUTES = 24 * 60;

/** Minutes since midnight of a `HH:MM` time of day. */
function minutesOf(timeOfDay: string): number {
  const [hours, minutes] = timeOfDay.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time of `at` in `timeZone`, as minutes since its local midnight. */
export function localMinutes(at: Date, timeZone: string): number {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  let hour = 0;
  let minute = 0;
  for (const part of formatter.formatToParts(at)) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

/** Whether local time `minutes` lies in the window [start, end), which wraps midnight when end < start. */
function inWindow(quiet: QuietHours, minutes: number): boolean {
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  return start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}

/** Whether `at` falls inside the quiet hours. */
export function isQuiet(quiet: QuietHours, at: Date): boolean {
  return inWindow(quiet, localMinutes(at, quiet.timeZone));
}

/**
 * The end of the quiet window `at` falls in — the first instant after `at` whose local time is no
 * longer inside it — or null when `at` is outside the window. On a day the clocks change, the minutes
 * to the end are counted in local time and corrected by the change of offset; when the end's local time
 * does not exist that day (it falls in the hour the clocks skip), the window ends when the clocks jump.
 */
export function quietUntil(quiet: QuietHours, at: Date): Date | null {
  const local = localMinutes(at, quiet.timeZone);
  if (!inWindow(quiet, local)) return null;
  const minuteStart = Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS;
  const ahead = (minutesOf(quiet.end) - local + DAY_MINUTES) % DAY_MINUTES;
  let candidate = minuteStart + ahead * MINUTE_MS;
  // A change of offset between now and then moves the end by as much in UTC.
  candidate -= offsetChange(at, new Date(candidate), quiet.timeZone) * MINUTE_MS;
  // Still inside: the end fell in skipped local time, so step to the minute the clocks jumped at.
  for (
    let step = 0;
    step < DAY_MINUTES && inWindow(quiet, localMinutes(new Date(candidate), quiet.timeZone));
    step++
  ) {
    candidate += MINUTE_MS;
  }
  // A correction that overshot backwards past `at` (never for real zones) still answers a later instant.
  return new Date(Math.max(candidate, minuteStart + MINUTE_MS));
}

/** How many minutes the zone's offset from UTC grew between `from` and `to` (a daylight-saving change). */
function offsetChange(from: Date, to: Date, timeZone: string): number {
  const utcMinutes = (at: Date) => Math.floor(at.getTime() / MINUTE_MS) % DAY_MINUTES;
  const change =
    localMinutes(to, timeZone) - utcMinutes(to) - (localMinutes(from, timeZone) - utcMinutes(from));
  // Both differences are only known modulo a day; a real change is a few hours at most.
  const wrapped = ((change % DAY_MINUTES) + DAY_MINUTES) % DAY_MINUTES;
  return wrapped > DAY_MINUTES / 2 ? wrapped - DAY_MINUTES : wrapped;
}
