/**
 * Creating audiences from device IDs: streamed files (CSV or TXT, of any size) and inline lists.
 * The audience row is written first in status `importing`, so it is invisible and unusable while
 * members are added in bounded, de-duplicating batches; it becomes `ready` only once every line
 * has been read and checked. Any failure (a bad line, an aborted upload, a file over the limit)
 * deletes what was written, so nothing of a rejected import remains.
 */
import { StringDecoder } from 'node:string_decoder';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  AppError,
  type CsvLineCode,
  type CsvLineError,
  type FieldError,
  validationError,
} from '../errors.ts';
import { assertNoNulCharacter } from '../http/validation.ts';
import { newId } from '../ids.ts';
import type { AudienceRow, Db } from '../storage/database.ts';
import { type AudienceStore, createAudienceStore } from './audience-store.ts';

/** Longest accepted device ID, in characters. */
export const MAX_DEVICE_ID_CHARS = 128;

/** Longest accepted audience name, in characters (as the API's `Name` schema). */
const MAX_NAME_CHARS = 200;

/**
 * Device IDs per write transaction. IDs arrive in random order, so each commit rewrites B-tree pages
 * all over the audience: bigger batches share those pages among more IDs, smaller ones hold the
 * write lock for less time. Measured with a few million random IDs, 20,000 imports 2–3 times
 * faster than 1,000 and a commit stays under a second.
 */
const BATCH_MEMBERS = 20_000;

/** Line errors listed in a `CSV_INVALID` error's details; the total count is always given too. */
export const MAX_LISTED_ERRORS = 100;

/** Longest line kept while looking for its end, in characters; a longer line is rejected, never buffered. */
const MAX_LINE_CHARS = 64 * 1024;

/** An `importing` audience older than this was abandoned by a stopped process (ms). */
const ABANDONED_IMPORT_AGE_MS = 24 * 60 * 60 * 1000;

/** How far a streamed import has got, reported after each chunk of the file. */
export interface ImportProgress {
  /** Lines read so far. */
  lines: number;
  /** Device IDs read so far, duplicates included. */
  deviceIds: number;
}

/** The audience an import created. */
export interface ImportedAudience {
  id: string;
  name: string;
  /** Distinct device IDs, counted in SQL. */
  size: number;
  source: AudienceRow['source'];
}

/** What `importAudienceFile` reads. */
export interface AudienceFileInput {
  workspaceId: string;
  name: string;
  /** The uploaded file's name, recorded for display; null when there was none. */
  fileName: string | null;
  source: 'upload' | 'api';
  /**
   * The task the file was uploaded with (`POST …/tasks/upload`): the audience is that task's own, and
   * goes when the task is deleted. Absent for an audience uploaded on its own.
   */
  forTaskId?: string;
  /**
   * The file's content as a stream of chunks of any size (Buffers of UTF-8, or strings), e.g. an
   * upload's part stream or `fs.createReadStream`. Chunks are split into lines here: an item is
   * not a line. The stream is read with backpressure, never buffered whole.
   */
  lines: AsyncIterable<string | Buffer> | NodeJS.ReadableStream;
  now: Date;
  /** Called after each chunk (for progress displays). */
  onProgress?: (progress: ImportProgress) => void;
}

/**
 * Creates an audience from a CSV or TXT file read as a stream: one device ID per line, or a CSV
 * whose header row has a `deviceId` column (case-insensitive; `device_id` too; other columns are
 * ignored). Blank lines are skipped, duplicates collapse, a UTF-8 BOM and CRLF line ends are fine.
 * Throws `CSV_INVALID` (details `{errors: CsvLineError[], errorCount}`) when any line is bad or the
 * file holds no device ID, `WORKSPACE_NOT_FOUND`, `VALIDATION_FAILED` for a bad name, or whatever
 * the stream throws; in every case the partial audience is deleted first.
 */
export async function importAudienceFile(db: Db, input: AudienceFileInput): Promise<ImportedAudience> {
  return createAudience(
    db,
    {
      workspaceId: input.workspaceId,
      name: input.name,
      fileName: input.fileName,
      source: input.source,
      forTaskId: input.forTaskId,
      now: input.now,
    },
    readDeviceIds(input),
  );
}

/**
 * Creates an audience from an inline list of device IDs (the JSON API; source `api`). IDs are
 * trimmed and duplicates collapse; a blank or malformed ID rejects the whole list with
 * `VALIDATION_FAILED` naming each bad entry (`deviceIds.3`), before anything is written.
 */
export async function importAudienceIds(
  db: Db,
  input: { workspaceId: string; name: string; deviceIds: readonly string[]; now: Date },
): Promise<ImportedAudience> {
  const fields: FieldError[] = [];
  let badCount = 0;
  const deviceIds = input.deviceIds.map((raw, index) => {
    const deviceId = raw.trim();
    const problem = deviceId === '' ? 'is blank' : deviceIdProblem(deviceId);
    if (problem && ++badCount <= MAX_LISTED_ERRORS)
      fields.push({
        field: `deviceIds.${index}`,
        code: deviceId === '' ? 'BLANK' : 'VALUE_INVALID',
        message: problem,
      });
    return deviceId;
  });
  if (badCount > MAX_LISTED_ERRORS) {
    fields.push({
      field: 'deviceIds',
      code: 'INVALID_IN_TOTAL',
      params: { count: badCount },
      message: `${badCount} device IDs are invalid in total`,
    });
  }
  if (fields.length > 0) throw validationError(fields);
  return createAudience(db, { ...input, fileName: null, source: 'api' }, [deviceIds]);
}

/**
 * Finishes what stopped processes left behind: audiences still `deleting`, and audiences still
 * `importing` a day after they were started — or, with `everyImport` (the embedded mode's start,
 * when no other process can be importing), every audience still `importing`. Meant to run at
 * start-up; returns how many it removed.
 */
export async function purgeAbandonedAudiences(
  db: Db,
  now: Date,
  options: { everyImport?: boolean } = {},
): Promise<number> {
  const store = createAudienceStore(db);
  const before = options.everyImport ? now.getTime() + 1 : now.getTime() - ABANDONED_IMPORT_AGE_MS;
  const ids = await store.listAbandoned(new Date(before).toISOString());
  for (const id of ids) await store.purge(id);
  return ids.length;
}

/** Why `deviceId` (already trimmed, not blank) cannot be a device ID, or undefined when it can. */
export function deviceIdProblem(deviceId: string): string | undefined {
  if (deviceId.length > MAX_DEVICE_ID_CHARS) {
    return `is ${deviceId.length} characters long; device IDs have at most ${MAX_DEVICE_ID_CHARS}`;
  }
  if (/\s/u.test(deviceId)) return 'contains whitespace';
  if (/\p{Cc}/u.test(deviceId)) return 'contains a control character';
  const invisible = /\p{Cf}/u.exec(deviceId);
  if (invisible) {
    const code = invisible[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0');
    return `contains an invisible formatting character (U+${code})`;
  }
  if (deviceId.includes('\uFFFD')) return 'is not valid UTF-8 text (save the file as UTF-8)';
  return undefined;
}

interface AudienceMeta {
  workspaceId: string;
  name: string;
  fileName: string | null;
  source: AudienceRow['source'];
  /** See `AudienceFileInput.forTaskId`. */
  forTaskId?: string;
  now: Date;
}

/**
 * The lifecycle every import shares: check, write the `importing` row, add the device IDs in
 * bounded batches, then count and mark `ready` — or delete everything if anything threw, including
 * the `deviceIds` iterable itself (a bad line, an aborted upload).
 */
async function createAudience(
  db: Db,
  meta: AudienceMeta,
  deviceIds: AsyncIterable<readonly string[]> | Iterable<readonly string[]>,
): Promise<ImportedAudience> {
  // Multipart fields reach here unchecked by Fastify's JSON-body hook.
  assertNoNulCharacter(meta.name, 'name');
  assertNoNulCharacter(meta.fileName, 'fileName');
  const name = meta.name.trim();
  if (name === '' || name.length > MAX_NAME_CHARS) {
    throw validationError([
      {
        field: 'name',
        code: 'LENGTH_RANGE',
        params: { min: 1, max: MAX_NAME_CHARS },
        message: `must be 1 to ${MAX_NAME_CHARS} characters, not blank`,
      },
    ]);
  }
  const store = createAudienceStore(db);
  if (!(await store.workspaceExists(meta.workspaceId))) {
    throw new AppError('WORKSPACE_NOT_FOUND', `Workspace ${meta.workspaceId} does not exist.`);
  }
  const id = newId('aud');
  await store.beginImport({
    id,
    workspace_id: meta.workspaceId,
    name,
    source: meta.source,
    file_name: meta.fileName,
    source_task_id: meta.forTaskId ?? null,
    source_filter: null,
    created_at: meta.now.toISOString(),
  });
  try {
    // Each batch commits on its own: one transaction around the whole import would hold the only
    // write lock (and SQLite's single connection) for as long as the upload takes. The batch is
    // bounded, so memory is too.
    let batch: string[] = [];
    for await (const group of deviceIds) {
      for (const deviceId of group) batch.push(deviceId);
      if (batch.length >= BATCH_MEMBERS) {
        await addSorted(store, id, batch);
        batch = [];
        // Let other requests run between two write transactions, whatever the stream does.
        await yieldToEventLoop();
      }
    }
    await addSorted(store, id, batch);
    const size = await store.finishImport(id);
    return { id, name, size, source: meta.source };
  } catch (error) {
    await store.purge(id).catch(() => {
      // Left `importing`: invisible and unusable, and removed by `purgeAbandonedAudiences`.
    });
    throw error;
  }
}

/**
 * The device IDs of an audience file, a group per chunk read. Throws `CSV_INVALID` at the end when
 * any line was bad (after the first bad line nothing more is yielded: the file is rejected, it is
 * read on only to report every error) or when the file held no device ID.
 */
async function* readDeviceIds(input: AudienceFileInput): AsyncGenerator<string[]> {
  const reader = new AudienceFileReader();
  let lines = 0;
  for await (const batch of lineBatches(input.lines)) {
    const group: string[] = [];
    for (const text of batch) {
      const deviceId = reader.read(++lines, text);
      if (deviceId !== undefined) group.push(deviceId);
    }
    if (reader.errorCount === 0 && group.length > 0) yield group;
    input.onProgress?.({ lines, deviceIds: reader.deviceIds });
  }
  if (reader.errorCount > 0) throw csvInvalid(reader.errors, reader.errorCount);
  if (reader.deviceIds === 0) {
    throw new AppError(
      'CSV_INVALID',
      'The file holds no device IDs: put one ID per line, or add a header row with a deviceId column.',
      { errors: [], errorCount: 0 },
    );
  }
}

/** Inserts one batch in key order, so consecutive rows land on the same B-tree pages. */
function addSorted(store: AudienceStore, audienceId: string, batch: string[]): Promise<void> {
  return store.addMembers(audienceId, batch.sort());
}

/** A `CSV_INVALID` error listing the first line errors and their total. */
function csvInvalid(errors: CsvLineError[], errorCount: number): AppError {
  const sample = errors
    .slice(0, 3)
    .map((e) => `line ${e.line} ${e.message}`)
    .join('; ');
  const more = errorCount > 3 ? `; and ${errorCount - 3} more` : '';
  return new AppError(
    'CSV_INVALID',
    `The file was rejected and nothing was imported: ${errorCount} invalid line(s) (${sample}${more}). ` +
      'Fix these lines and upload the file again.',
    { errors, errorCount },
  );
}

/**
 * Reads an audience file line by line. The first non-blank line decides the layout: a row with a
 * `deviceId` cell is a CSV header naming the column to read; otherwise every line is one ID.
 */
class AudienceFileReader {
  /** The first `MAX_LISTED_ERRORS` errors. */
  readonly errors: CsvLineError[] = [];
  errorCount = 0;
  /** Valid device IDs read, duplicates included. */
  deviceIds = 0;
  /** The CSV column holding device IDs; undefined for one ID per line. */
  private column: number | undefined;
  private sawFirstLine = false;

  /** The device ID on line `line`, or undefined when the line is blank, the header, or bad (recorded). */
  read(line: number, text: string | undefined): string | undefined {
    if (text === undefined)
      return this.reject(line, 'LINE_TOO_LONG', `is longer than ${MAX_LINE_CHARS} characters`, {
        limit: MAX_LINE_CHARS,
      });
    const cells = splitCsvLine(text);
    if (cells === undefined)
      return this.reject(line, 'QUOTE_INVALID', 'has a quoted value that is not closed');
    const filled = cells.filter((cell) => cell !== '');
    if (filled.length === 0) return undefined;
    if (!this.sawFirstLine) {
      this.sawFirstLine = true;
      const column = cells.findIndex((cell) => cell.toLowerCase().replace(/[\s_-]/g, '') === 'deviceid');
      if (column >= 0) {
        this.column = column;
        return undefined;
      }
    }
    let deviceId: string;
    if (this.column === undefined) {
      if (filled.length > 1) {
        return this.reject(
          line,
          'TOO_MANY_VALUES',
          `has ${filled.length} comma-separated values; put one device ID per line, or add a header row with a deviceId column`,
          { count: filled.length },
        );
      }
      deviceId = filled[0] as string;
    } else {
      deviceId = cells[this.column] ?? '';
      if (deviceId === '')
        return this.reject(
          line,
          'DEVICE_ID_MISSING',
          `has no value in the deviceId column (${this.column + 1})`,
        );
    }
    const problem = deviceIdProblem(deviceId);
    if (problem) return this.reject(line, 'DEVICE_ID_INVALID', problem);
    this.deviceIds++;
    return deviceId;
  }

  private reject(
    line: number,
    code: CsvLineCode,
    message: string,
    params?: CsvLineError['params'],
  ): undefined {
    if (++this.errorCount <= MAX_LISTED_ERRORS)
      this.errors.push({ line, code, ...(params && { params }), message });
    return undefined;
  }
}

/**
 * The cells of one CSV line, trimmed, with `"quoted, ""escaped"""` values unquoted; undefined
 * when a quote is not closed (values spanning lines are not supported: device IDs have no newlines).
 */
function splitCsvLine(text: string): string[] | undefined {
  if (!text.includes('"')) return text.split(',').map((cell) => cell.trim());
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote === -1) return undefined;
        cell += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        cell += '"';
        i++;
      }
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? text.length : comma;
      // Text between the closing quote and the comma is kept, as spreadsheet programs do.
      cell += text.slice(i, end).trim();
      i = end;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? text.length : comma;
      cell = text.slice(i, end).trim();
      i = end;
    }
    cells.push(cell);
    if (i >= text.length) return cells;
    i++; // past the comma
  }
}

/**
 * Splits a stream of chunks into lines, yielding the lines completed by each chunk (so the caller
 * awaits once per chunk, not per line). Decodes UTF-8 across chunk boundaries, drops a leading BOM
 * and the `\r` of CRLF; a line longer than `MAX_LINE_CHARS` is yielded as undefined and its text
 * discarded, so memory stays bounded whatever the file holds.
 */
async function* lineBatches(
  chunks: AsyncIterable<string | Buffer> | NodeJS.ReadableStream,
): AsyncGenerator<(string | undefined)[]> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let overlong = false;
  let atStart = true;
  const take = (text: string): (string | undefined)[] => {
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const lines: (string | undefined)[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const piece = text.slice(start, end);
      lines.push(
        overlong || pending.length + piece.length > MAX_LINE_CHARS ? undefined : trimCr(pending + piece),
      );
      pending = '';
      overlong = false;
      start = end + 1;
    }
    const rest = text.slice(start);
    if (!overlong && pending.length + rest.length > MAX_LINE_CHARS) {
      overlong = true;
      pending = '';
    } else if (!overlong) {
      pending += rest;
    }
    return lines;
  };
  for await (const chunk of chunks) {
    const lines = take(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (lines.length > 0) yield lines;
  }
  const lines = take(decoder.end());
  if (overlong) lines.push(undefined);
  else if (pending !== '') lines.push(trimCr(pending));
  if (lines.length > 0) yield lines;
}

function trimCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
