/** Filling a message's placeholders, apart from React so that tests can check every message. */

/** Values filled into a message's `{name}` placeholders. */
export type MessageValues = Record<string, string | number>;

/**
 * Fills `{name}` placeholders, and `{name:singular|plural}` with the English form for the count in
 * `name` ("1 sub-campaign", "2 sub-campaigns"); Chinese has no plural and uses only `{name}`. The
 * count may arrive formatted ("1,000"): its digits decide.
 */
export function fill(message: string, values?: MessageValues): string {
  if (!values) return message;
  return message.replace(
    /\{(\w+)(?::([^|}]*)\|([^}]*))?\}/g,
    (whole, name: string, singular: string | undefined, plural: string | undefined) => {
      if (!(name in values)) return whole;
      if (singular === undefined) return String(values[name]);
      return Number(String(values[name]).replace(/[^\d.-]/g, '')) === 1 ? singular : plural!;
    },
  );
}
