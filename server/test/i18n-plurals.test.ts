/**
 * Counts in the console's English agree with their number ("1 sub-campaign", "2 sub-campaigns";
 * issue #18: "1 sub-campaigns"), and the Chinese texts, which have no plural, use none.
 */
import { expect, test } from 'vitest';
import { en } from '../../web/src/i18n/en.ts';
import { fill } from '../../web/src/i18n/fill.ts';
import { zh } from '../../web/src/i18n/zh.ts';

/**
 * A count followed (maybe after a few words) by a noun with an -s; a rate or share (a percentage)
 * is no count.
 */
const COUNTED =
  /\{(?!rate\}|share\})\w+\}( [a-z-]+)*? (devices|sub-campaigns|tasks|receipts|minutes|hours|IDs|characters|lines)\b/;

test('a count is filled with the singular for 1 and the plural otherwise, formatted or not', () => {
  expect(fill(en['tasks.subCampaignCount'], { n: 1 })).toBe('1 sub-campaign');
  expect(fill(en['tasks.subCampaignCount'], { n: 2 })).toBe('2 sub-campaigns');
  expect(fill(en['tasks.subCampaignCount'], { n: 0 })).toBe('0 sub-campaigns');
  expect(fill(en['generate.willSave'], { n: '1' })).toBe('1 device matches this filter and will be saved.');
  expect(fill(en['generate.willSave'], { n: '1,000' })).toBe(
    '1,000 devices match this filter and will be saved.',
  );
  expect(fill(en['unit.hourCount'], { n: '1' })).toBe('1 hour');
  expect(fill(en['unit.hourCount'], { n: '72' })).toBe('72 hours');
  expect(fill(en['stat.late'], { n: 1, hours: '1 hour' })).toBe(
    '1 receipt arrived after the statistics window (1 hour) and is not counted.',
  );
  expect(fill(zh['tasks.subCampaignCount'], { n: 1 })).toBe('1 个子活动');
});

test('no English text puts a plural noun after a count without a singular form', () => {
  // A count fixed by the code (a password's length, a test push's limit) would read right either way,
  // but a text cannot know that: every count gets both forms.
  const bare = Object.entries(en)
    .filter(([, text]) => COUNTED.test(text))
    .map(([key]) => key);
  expect(bare).toEqual([]);
});

test('the Chinese texts use no plural forms', () => {
  expect(Object.entries(zh).filter(([, text]) => /\{\w+:[^|}]*\|[^}]*\}/.test(text))).toEqual([]);
});
