/**
 * An app's delivery settings (docs/delivery-controls.md): its frequency cap and its quiet hours, what
 * makes them valid, and how they are read back from storage. Pure: the app routes check them, the
 * dispatcher enforces them.
 */
import type { FieldError } from '../errors.ts';

/** Most marketing tasks a device may be handed in any rolling 24 hours / 7 days; absent = no limit. */
export interface FrequencyCap {
  perDay?: number;
  perWeek?: number;
}

/** A daily window, local to `timeZone`, in which marketing tasks wait; it may wrap midnight. */
export interface QuietHours {
  /** `HH:MM`, 24-hour clock. */
  start: string;
  /** `HH:MM`, 24-hour clock; the window is [start, end). */
  end: string;
  /** An IANA time zone, e.g. `Asia/Shanghai`. */
  timeZone: string;
}

/** The largest `perDay` a cap may name: more than this many pushes a day is no cap. */
export const MAX_PER_DAY = 100;
/** The largest `perWeek` a cap may name. */
export const MAX_PER_WEEK = 700;

/** A `HH:MM` time of day, 00:00 to 23:59. */
export const TIME_OF_DAY_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

/** Whether `zone` is a time zone this runtime knows (IANA names, e.g. `Europe/Berlin`, and `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

/**
 * The problems of a frequency cap and quiet hours as sent (null clears one; undefined leaves it), each
 * naming its field: the schema has checked the types and ranges, this checks what a schema cannot.
 */
export function deliverySettingsProblems(settings: {
  frequencyCap?: FrequencyCap | null;
  quietHours?: QuietHours | null;
}): FieldError[] {
  const problems: FieldError[] = [];
  const cap = settings.frequencyCap;
  if (cap && cap.perDay === undefined && cap.perWeek === undefined) {
    problems.push({
      field: 'frequencyCap',
      code: 'REQUIRED',
      message: 'must name perDay, perWeek or both; send null to remove the cap',
    });
  }
  if (cap?.perDay !== undefined && cap.perWeek !== undefined && cap.perWeek < cap.perDay) {
    problems.push({
      field: 'frequencyCap.perWeek',
      code: 'LESS_THAN_OTHER',
      params: { other: 'perDay' },
      message: `must be at least perDay (${cap.perDay}): a week holds every day of it`,
    });
  }
  const quiet = settings.quietHours;
  if (quiet) {
    if (quiet.start === quiet.end) {
      problems.push({
        field: 'quietHours.end',
        code: 'EMPTY_WINDOW',
        message: 'must differ from start (a window of no length holds nothing; send null for no quiet hours)',
      });
    }
    if (!isTimeZone(quiet.timeZone)) {
      problems.push({
        field: 'quietHours.timeZone',
        code: 'TIME_ZONE_UNKNOWN',
        message: `"${quiet.timeZone}" is no IANA time zone this server knows (e.g. Asia/Shanghai, Europe/Berlin, UTC)`,
      });
    }
  }
  return problems;
}

/** The frequency cap stored in an app row's `frequency_cap` column, or null when the app has none. */
export function readFrequencyCap(column: string | null): FrequencyCap | null {
  return column === null ? null : (JSON.parse(column) as FrequencyCap);
}

/** The quiet hours stored in an app row's `quiet_hours` column, or null when the app has none. */
export function readQuietHours(column: string | null): QuietHours | null {
  return column === null ? null : (JSON.parse(column) as QuietHours);
}
