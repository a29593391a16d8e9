/**
 * Case-insensitive "name contains" search that behaves the same on SQLite and PostgreSQL
 * (SQLite's LIKE ignores ASCII case, PostgreSQL's does not, so both sides are lower-cased) and
 * treats `%`, `_` and `\` in the user's text literally.
 */
import { type RawBuilder, sql } from 'kysely';

/** A boolean SQL expression: `column` contains `text`, ignoring case. */
export function containsText(column: string, text: string): RawBuilder<boolean> {
  const pattern = `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}
