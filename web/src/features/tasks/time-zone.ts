/**
 * The time zone the task pages show times in, named (issue #18: times without a zone). A local stand-in
 * until the shared date-time formatter of the console (lane C1) is merged and takes its place.
 */
import dayjs from 'dayjs';

/** The browser's time zone as shown beside times: "Asia/Shanghai (UTC+08:00)", or "UTC+08:00" alone. */
export function timeZoneLabel(at: Date = new Date()): string {
  const offset = `UTC${dayjs(at).format('Z')}`;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return zone && zone !== 'UTC' ? `${zone} (${offset})` : offset;
}
