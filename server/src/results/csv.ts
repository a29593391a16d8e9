/**
 * The one way a CSV cell is written (docs/operations.md#receipts-streams-and-exports): every export goes through `csvCell`, so that no value
 * a device, an app's provider or an import put in the store can turn into a spreadsheet formula.
 */

/** First characters a spreadsheet reads as the start of a formula (OWASP "CSV injection"). */
const FORMULA_LEADER = /^[=+\-@\t\r]/;

/** Characters that make RFC 4180 quote a cell. */
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV cell: a value starting with = + - @, a tab or a carriage return gets a leading single
 * quote (spreadsheets then show it as text and never run it) and is quoted; any value holding a
 * quote, comma or line break is quoted with its quotes doubled (RFC 4180). Null is the empty cell.
 */
export function csvCell(value: string | null): string {
  if (value === null) return '';
  const guarded = FORMULA_LEADER.test(value);
  const text = guarded ? `'${value}` : value;
  return guarded || NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV line of cells, ended with CRLF (RFC 4180). */
export function csvLine(cells: readonly (string | null)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
