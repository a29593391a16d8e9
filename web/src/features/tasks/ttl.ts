/** A task's time to live as the console shows and takes it: an amount of minutes, hours or days. */

/** Units the time to live is typed and shown in, in seconds each. */
export const TTL_UNITS = { minutes: 60, hours: 3600, days: 86_400 } as const;

/** A unit of `TTL_UNITS`. */
export type TtlUnit = keyof typeof TTL_UNITS;

/** A time to live in the largest unit that shows it exactly (3 days, 90 minutes…). */
export function ttlFields(seconds: number): { ttlAmount: number; ttlUnit: TtlUnit } {
  for (const unit of ['days', 'hours', 'minutes'] as const) {
    if (seconds % TTL_UNITS[unit] === 0) return { ttlAmount: seconds / TTL_UNITS[unit], ttlUnit: unit };
  }
  return { ttlAmount: Math.round(seconds / 60), ttlUnit: 'minutes' };
}
