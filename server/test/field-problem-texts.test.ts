/**
 * Every field problem and every bad-file-line problem the API can name has the console's text in
 * English and Chinese, and the Chinese console never shows the server's English for them (issue #18:
 * raw English server strings in the Chinese UI). The server names the problem by code, with the
 * numbers the text needs, also for schema (Ajv) errors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CSV_LINE_TEXTS,
  csvLineText,
  FIELD_PROBLEM_TEXTS,
  fieldProblemText,
} from '../../web/src/i18n/field-problem-texts.ts';
import { CSV_LINE_PROBLEMS, FIELD_PROBLEMS } from '../src/errors.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const CJK = /[\u4e00-\u9fff]/;

/** Params that are names, not numbers, with a sample value each. */
const NAMED: Record<string, string> = {
  platform: 'ios',
  status: 'importing',
  type: 'string',
  format: 'zh-CN',
  allowed: 'draft, scheduled',
  other: 'perDay',
  expected: 'deviceId,pushToken',
};

/** Sample params for a catalogue entry: every name it lists; each number must show in the text. */
function sampleParams(names: readonly string[]): Record<string, string | number> {
  return Object.fromEntries(names.map((name, i) => [name, NAMED[name] ?? 40 + i]));
}

type Texts = Record<'en' | 'zh', Record<string, (p: Record<string, string | number>) => string>>;

/** Each catalogue code has an English text and a Chinese one of its own, showing every number. */
function checkTexts(texts: Texts, code: string, names: readonly string[]) {
  const params = sampleParams(names);
  const en = texts.en[code]?.(params) ?? '';
  const zh = texts.zh[code]?.(params) ?? '';
  expect(en).toMatch(/\w/);
  expect(zh).toMatch(CJK);
  expect(zh).not.toBe(en);
  expect(`${en} ${zh}`).not.toContain('undefined');
  for (const value of Object.values(params))
    if (typeof value === 'number') expect(zh).toContain(String(value));
}

describe('the console’s texts for every problem code', () => {
  test.each(Object.entries(FIELD_PROBLEMS))('field problem %s', (code, names) => {
    checkTexts(FIELD_PROBLEM_TEXTS, code, names);
  });

  test.each(Object.entries(CSV_LINE_PROBLEMS))('file line problem %s', (code, names) => {
    checkTexts(CSV_LINE_TEXTS, code, names);
  });

  test('a range names what it has: both ends, or the one end given', () => {
    expect(FIELD_PROBLEM_TEXTS.zh.OUT_OF_RANGE({ min: 60 })).toBe('不能小于 60');
    expect(FIELD_PROBLEM_TEXTS.zh.OUT_OF_RANGE({ max: 1000 })).toBe('不能大于 1000');
    expect(FIELD_PROBLEM_TEXTS.zh.OUT_OF_RANGE({ min: 1, max: 1000 })).toBe('须在 1 到 1000 之间');
  });

  test('English shows the server’s message; Chinese its own text, even for a code newer than the console', () => {
    const problem = {
      code: 'TOO_LONG' as const,
      params: { limit: 200 },
      message: 'must NOT have more than 200 characters',
    };
    expect(fieldProblemText('en', problem)).toBe(problem.message);
    expect(fieldProblemText('zh', problem)).toBe('最多 200 个字符');
    expect(fieldProblemText('en', { ...problem, message: '' })).toBe('must be at most 200 characters');
    const future = { code: 'SOMETHING_NEW', message: 'is new' } as unknown as Parameters<
      typeof fieldProblemText
    >[1];
    expect(fieldProblemText('zh', future)).toMatch(CJK);
    const line = {
      code: 'LINE_TOO_LONG' as const,
      params: { limit: 4096 },
      message: 'is longer than 4096 characters',
    };
    expect(csvLineText('en', line)).toBe(line.message);
    expect(csvLineText('zh', line)).toBe('超过 4096 个字符');
  });
});

describe('the server names each problem by code', () => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance();
  });
  afterAll(async () => {
    await t.close();
  });

  const details = async (url: string, body: Record<string, unknown>) => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `/api/v1/workspaces/${t.workspaceId}${url}`,
      body,
    });
    expect(res.statusCode, res.body).toBe(400);
    return res.json().error.details as { field: string; code: string; params?: unknown; message: string }[];
  };

  test('schema errors get the code of their keyword, with its numbers', async () => {
    const problems = await details('/campaigns', { name: 'x'.repeat(500), colour: 'red' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'colour', code: 'UNKNOWN_FIELD' }),
        expect.objectContaining({ field: 'name', code: 'TOO_LONG', params: { limit: expect.any(Number) } }),
      ]),
    );
    const missing = await details('/campaigns', {});
    expect(missing).toEqual([expect.objectContaining({ field: 'name', code: 'REQUIRED' })]);
    const wrongType = await details('/campaigns', { name: 5 });
    expect(wrongType).toEqual([
      expect.objectContaining({ field: 'name', code: 'WRONG_TYPE', params: { type: 'string' } }),
    ]);
  });

  test('hand-written problems name theirs: an unknown app, a blank title', async () => {
    const problems = await details('/test-pushes', {
      appId: 'app_nonexistent',
      title: '   ',
      content: 'Hello',
      deviceIds: ['dev-1'],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'appId', code: 'NOT_IN_WORKSPACE' }),
        expect.objectContaining({ field: 'title', code: 'BLANK', message: 'must not be blank' }),
      ]),
    );
  });

  test('a bad line of an audience file is named by code', async () => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `/api/v1/workspaces/${t.workspaceId}/audiences?name=Bad`,
      headers: { 'content-type': 'text/csv' },
      payload: 'dev-1\ndev-2,dev-3\n',
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({
      code: 'CSV_INVALID',
      details: { errors: [{ line: 2, code: 'TOO_MANY_VALUES', params: { count: 2 } }], errorCount: 1 },
    });
  });
});
