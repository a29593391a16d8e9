/**
 * Turns a `VALIDATION_FAILED` answer into form field errors: each `field` path of the API
 * (`clickAction.url`, `subCampaignIds.0`) is mapped to the form item showing it; problems with no
 * such item are returned to be shown above the form.
 */
import type { FormInstance } from 'antd';
import type { FieldError } from '../api/types.ts';
import type { MessageKey } from '../i18n/en.ts';
import type { Translate } from '../i18n/i18n.tsx';

/** Maps an API field path to a form item name, or null when no item shows it. */
export type FieldMapper = (path: string) => (string | number)[] | null;

/** The console's label of the task fields an API error may name outside the form (a test push). */
const FIELD_LABELS: Record<string, MessageKey> = {
  appId: 'form.app',
  title: 'form.title',
  content: 'form.content',
  'clickAction.type': 'form.clickAction',
  'clickAction.url': 'form.url',
  'clickAction.page': 'form.page',
  'clickAction.params': 'form.params',
  audienceId: 'form.audience',
  scheduledAt: 'form.scheduledAt',
  ttlSeconds: 'form.ttl',
};

/** One field problem as a "field: message" line, the field by its label where the console has one. */
export function fieldLine(error: FieldError, t?: Translate): string {
  const label = FIELD_LABELS[error.field];
  return `${label && t ? t(label) : error.field}: ${error.message}`;
}

/** Sets the mapped errors on `form` and answers the rest as "field: message" lines (`fieldLine`). */
export function applyFieldErrors<T>(
  form: FormInstance<T>,
  errors: FieldError[],
  map: FieldMapper,
  t?: Translate,
): string[] {
  const byItem = new Map<string, { name: (string | number)[]; errors: string[] }>();
  const rest: string[] = [];
  for (const error of errors) {
    const name = map(error.field);
    if (!name) {
      rest.push(fieldLine(error, t));
      continue;
    }
    const key = JSON.stringify(name);
    const entry = byItem.get(key) ?? { name, errors: [] };
    entry.errors.push(error.message);
    byItem.set(key, entry);
  }
  // biome-ignore lint/suspicious/noExplicitAny: antd types field names per form; these come from the API.
  form.setFields([...byItem.values()] as any);
  return rest;
}

/** The first segment of a path (`subCampaignIds.0` → `subCampaignIds`). */
export function firstSegment(path: string): string {
  return path.split('.')[0] ?? path;
}
