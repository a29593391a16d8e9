/**
 * Every error code the API can answer has the console's text in English and Chinese, and the Chinese
 * console never shows the server's English (issue #18: raw English server strings in the Chinese UI).
 */
import { expect, test } from 'vitest';
import { ERROR_TEXTS, errorText } from '../../web/src/i18n/error-texts.ts';
import { ERROR_STATUS } from '../src/errors.ts';

const CJK = /[\u4e00-\u9fff]/;

test('every code of the error catalogue has an English and a Chinese text', () => {
  for (const code of Object.keys(ERROR_STATUS)) {
    expect(ERROR_TEXTS.en[code as keyof typeof ERROR_STATUS], code).toMatch(/\w/);
    expect(ERROR_TEXTS.zh[code as keyof typeof ERROR_STATUS], code).toMatch(CJK);
  }
});

test('English shows the server’s specific message; Chinese shows its own text, even for unknown codes', () => {
  expect(errorText('en', 'TASK_NOT_DELETABLE', 'Task abc is sending and cannot be deleted')).toBe(
    'Task abc is sending and cannot be deleted',
  );
  expect(errorText('en', 'TASK_NOT_DELETABLE', '')).toBe(ERROR_TEXTS.en.TASK_NOT_DELETABLE);
  expect(errorText('zh', 'TASK_NOT_DELETABLE', 'Task abc is sending and cannot be deleted')).toBe(
    ERROR_TEXTS.zh.TASK_NOT_DELETABLE,
  );
  expect(errorText('zh', 'NETWORK', 'The server could not be reached')).toMatch(CJK);
  expect(errorText('zh', 'SOME_FUTURE_CODE', 'Something new')).toMatch(CJK);
});
