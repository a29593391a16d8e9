/**
 * Streaming device CSV import, shared by `POST …/devices/import` and `pushboard devices import`.
 * The file is read chunk by chunk; checked lines are staged in bounded batches, and only when every
 * line of the file is valid are they applied to `devices`, in one transaction. A file with any bad
 * line changes nothing and is answered with the numbers of its bad lines. Memory stays flat whatever
 * the file's size: at most one staging batch and one line are held.
 *
 * Format: one device per line, `deviceId,pushToken[,channel]`, optionally after a header line naming
 * the columns (`deviceId,pushToken,channel`, in any order; `device_id`/`push_token` also work).
 * Blank lines are skipped; fields may be "quoted"; an empty or missing channel takes the app's default.
 * When a device ID appears on several lines, the last one wins.
 */
import { StringDecoder } from 'node:string_decoder';
import { AppError, type CsvInvalidDetails, type CsvLineError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { AppRow, DeviceImportLineRow } from '../storage/database.ts';
import { checkDevice, type DeviceProblem, defaultChannel, isProblem } from './device-input.ts';
import type { DeviceStore } from './device-store.ts';

/** What an accepted import did. */
export interface ImportResult {
  /** Device lines in the file (the header and blank lines are not counted). */
  lines: number;
  /** Lines that registered a new device. */
  inserted: number;
  /**
   * Lines that replaced the token or channel of a registered device (one registered by an earlier
   * line of the same file included): the lines are upserts in file order, so inserted + updated = lines.
   */
  updated: number;
}

/** How far an import has got, reported after every chunk of the file and once more before applying. */
export interface ImportProgress {
  /** `reading` the file, then `applying` its lines to the devices once the whole file is valid. */
  phase: 'reading' | 'applying';
  bytes: number;
  /** Physical lines read so far, header and blank lines included. */
  lines: number;
}

/** One bad line of a refused file. */
export interface CsvLineProblem extends CsvLineError {
  code: DeviceProblem['code'] | 'COLUMN_COUNT' | 'HEADER_INVALID' | 'LINE_TOO_LONG' | 'QUOTE_INVALID';
}

/** Options of one import. */
export interface ImportOptions {
  now: Date;
  onProgress?: (progress: ImportProgress) => void;
}

/** Bad lines listed in a refusal; the rest are only counted. */
export const MAX_REPORTED_PROBLEMS = 100;
// Lines staged per write: one full multi-row statement. Staging sooner keeps the lines' strings from
// outliving the chunk they came from; larger batches were measured to grow the heap, not the speed.
const STAGE_BATCH_LINES = 1000;
// No valid line comes close (128 + 512 + 32 characters and separators); a longer one is refused
// without being held, so a file without line breaks cannot fill the memory.
const MAX_LINE_CHARS = 4096;
// An import still staging after this long belongs to a process that died mid-import.
const STALE_IMPORT_MS = 24 * 60 * 60 * 1000;

type Column = 'deviceId' | 'pushToken' | 'channel';
const HEADER_NAMES: Record<string, Column> = {
  deviceid: 'deviceId',
  pushtoken: 'pushToken',
  channel: 'channel',
};

/** One physical line of the file, split into fields, or why it could not be. */
type CsvRecord = { line: number; fields: string[] } | { line: number; problem: CsvLineProblem };

/**
 * Imports a device CSV into `app`: all of it, or nothing. Throws `CSV_INVALID` (details
 * `CsvInvalidDetails`) when any line is bad; an error of `source` (an upload over its limit, a client
 * gone) also leaves nothing behind.
 */
export async function importDevices(
  store: DeviceStore,
  app: AppRow,
  source: AsyncIterable<Buffer | string>,
  options: ImportOptions,
): Promise<ImportResult> {
  const now = options.now.toISOString();
  const importId = newId('imp');
  await store.rejectStaleImports(new Date(options.now.getTime() - STALE_IMPORT_MS).toISOString());
  await store.startImport({ id: importId, app_id: app.id, status: 'staging', created_at: now });
  try {
    const fallbackChannel = defaultChannel(app);
    const problems: CsvLineProblem[] = [];
    let problemCount = 0;
    let deviceLines = 0;
    let columns: Column[] | undefined;
    let batch: DeviceImportLineRow[] = [];
    const progress: ImportProgress = { phase: 'reading', bytes: 0, lines: 0 };
    const report = (problem: CsvLineProblem) => {
      problemCount++;
      if (problems.length < MAX_REPORTED_PROBLEMS) problems.push(problem);
    };

    for await (const records of csvRecords(source, progress)) {
      for (const record of records) {
        if ('problem' in record) {
          report(record.problem);
          continue;
        }
        const { line, fields } = record;
        if (columns === undefined) {
          columns = ['deviceId', 'pushToken', 'channel'];
          if (isHeader(fields)) {
            const header = readHeader(line, fields);
            // After a bad header the lines are still checked, against the default columns.
            if (Array.isArray(header)) columns = header;
            else report(header);
            continue;
          }
        }
        deviceLines++;
        const values = lineValues(line, columns, fields);
        if ('problem' in values) {
          report(values.problem);
          continue;
        }
        const device = checkDevice(values.deviceId, values.pushToken, values.channel, fallbackChannel);
        if (isProblem(device)) {
          report({ line, code: device.code, message: device.message });
          continue;
        }
        // Once the file is known to be refused, staging more of it is wasted work; reading goes on
        // only to find the remaining bad lines.
        if (problemCount > 0) continue;
        batch.push({
          import_id: importId,
          line,
          device_id: device.deviceId,
          push_token: device.pushToken,
          channel: device.channel,
        });
        if (batch.length >= STAGE_BATCH_LINES) {
          await store.stageImportLines(batch);
          batch = [];
        }
      }
      options.onProgress?.({ ...progress });
    }

    if (problemCount > 0) throw csvInvalid(problems, problemCount);
    if (deviceLines === 0) {
      throw new AppError(
        'CSV_INVALID',
        'The file holds no devices: expected lines "deviceId,pushToken[,channel]", optionally after a header line.',
        { errors: [], errorCount: 0 } satisfies CsvInvalidDetails,
      );
    }
    await store.stageImportLines(batch);
    options.onProgress?.({ ...progress, phase: 'applying' });
    const inserted = await store.applyImport(importId, app.id, now);
    return { lines: deviceLines, inserted, updated: deviceLines - inserted };
  } catch (error) {
    try {
      await store.rejectImport(importId);
    } catch {
      // The original error says more; the staged lines go with the next import's stale clean-up.
    }
    throw error;
  }
}

function csvInvalid(problems: CsvLineProblem[], problemCount: number): AppError {
  const first = problems
    .slice(0, 3)
    .map((p) => `line ${p.line}: ${p.message}`)
    .join('; ');
  const more = problemCount > 3 ? `; and ${problemCount - 3} more` : '';
  return new AppError(
    'CSV_INVALID',
    `${problemCount} line(s) of the file are invalid, so nothing was imported. Fix them and import the ` +
      `whole file again. ${first}${more}.`,
    { errors: problems, errorCount: problemCount } satisfies CsvInvalidDetails,
  );
}

/** Whether the first line is a header: it names the deviceId or the pushToken column. */
function isHeader(fields: string[]): boolean {
  return fields.some((f) => ['deviceId', 'pushToken'].includes(HEADER_NAMES[columnName(f)] ?? ''));
}

function columnName(field: string): string {
  return field.toLowerCase().replace(/[^a-z]/g, '');
}

/** The columns a header line names, or the problem with it. */
function readHeader(line: number, fields: string[]): Column[] | CsvLineProblem {
  const columns = fields.map((f) => HEADER_NAMES[columnName(f)]);
  const known = columns.filter((c) => c !== undefined);
  if (
    known.length === columns.length &&
    new Set(known).size === known.length &&
    known.includes('pushToken')
  ) {
    return known;
  }
  return {
    line,
    code: 'HEADER_INVALID',
    message: `the header is "${fields.join(',')}"; it must name deviceId and pushToken, and may name channel, each once`,
  };
}

function lineValues(
  line: number,
  columns: Column[],
  fields: string[],
): Partial<Record<Column, string>> | { problem: CsvLineProblem } {
  // A trailing channel column may be left out line by line.
  const fits =
    fields.length === columns.length ||
    (fields.length === columns.length - 1 && columns.at(-1) === 'channel');
  if (!fits) {
    return {
      problem: {
        line,
        code: 'COLUMN_COUNT',
        params: { count: fields.length, expected: columns.join(',') },
        message: `has ${fields.length} column(s); expected ${columns.join(',')}`,
      },
    };
  }
  const values: Partial<Record<Column, string>> = {};
  fields.forEach((field, i) => {
    values[columns[i] as Column] = field;
  });
  return values;
}

/**
 * Splits a byte stream into CSV lines, yielding the records of each chunk together (one `await` per
 * chunk rather than per line keeps a million-line file fast). Counts bytes and physical lines into
 * `progress`.
 */
async function* csvRecords(
  source: AsyncIterable<Buffer | string>,
  progress: ImportProgress,
): AsyncGenerator<CsvRecord[]> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  // True while skipping the rest of a line that was already refused for its length.
  let skipping = false;
  let first = true;
  for await (const chunk of source) {
    progress.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    let text = carry + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    const records: CsvRecord[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      progress.lines++;
      if (skipping) skipping = false;
      else {
        const record =
          end - start > MAX_LINE_CHARS
            ? tooLong(progress.lines)
            : parseLine(progress.lines, text.slice(start, end));
        if (record) records.push(record);
      }
      start = end + 1;
    }
    carry = text.slice(start);
    if (!skipping && carry.length > MAX_LINE_CHARS) {
      records.push(tooLong(progress.lines + 1));
      skipping = true;
    }
    if (skipping) carry = '';
    if (records.length > 0) yield records;
  }
  const rest = carry + decoder.end();
  if (rest.length > 0 && !skipping) {
    progress.lines++;
    const record = rest.length > MAX_LINE_CHARS ? tooLong(progress.lines) : parseLine(progress.lines, rest);
    if (record) yield [record];
  }
}

function tooLong(line: number): CsvRecord {
  return {
    line,
    problem: {
      line,
      code: 'LINE_TOO_LONG',
      params: { limit: MAX_LINE_CHARS },
      message: `is longer than ${MAX_LINE_CHARS} characters`,
    },
  };
}

/** Fields of one line (CRLF tolerated, fields trimmed), or undefined for a blank line. */
function parseLine(line: number, raw: string): CsvRecord | undefined {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (text.trim() === '') return undefined;
  if (!text.includes('"')) return { line, fields: text.split(',').map((f) => f.trim()) };
  const fields: string[] = [];
  let i = 0;
  while (true) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    let field = '';
    if (text[i] === '"') {
      // A quoted field: "" inside it is one quote, and it must be followed by a comma or the line end.
      let close = i + 1;
      while (true) {
        const quote = text.indexOf('"', close);
        if (quote === -1) {
          return {
            line,
            problem: {
              line,
              code: 'QUOTE_INVALID',
              message: 'has a quoted field that is not closed on the same line',
            },
          };
        }
        field += text.slice(close, quote);
        if (text[quote + 1] === '"') {
          field += '"';
          close = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (i < text.length && text[i] !== ',') {
        return {
          line,
          problem: { line, code: 'QUOTE_INVALID', message: 'has text after the closing quote of a field' },
        };
      }
    } else {
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? text.length : comma;
      field = text.slice(i, end).trim();
      i = end;
    }
    fields.push(field);
    if (i >= text.length) return { line, fields };
    i++; // the comma
  }
}
