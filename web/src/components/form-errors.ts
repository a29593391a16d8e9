/**
 * Turns a `VALIDATION_FAILED` answer into form field errors: each `field` path of the API
 * (`clickAction.url`, `subCampaignIds.0`) is mapped to the form item showing it; problems with no
 * such item are returned to be shown above the form.
 */
import type { FormInstance } from 'antd';
import type { FieldError } from '../api/types.ts';

/** Maps an API field path to a form item name, or null when no item shows it. */
export type FieldMapper = (path: string) => (string | number)[] | null;

/** Sets the mapped errors on `form` and answers the rest as "field: message" lines. */
export function applyFieldErrors<T>(form: FormInstance<T>, errors: FieldError[], map: FieldMapper): string[] {
  const byItem = new Map<string, { name: (string | number)[]; errors: string[] }>();
  const rest: string[] = [];
  for (const error of errors) {
    const name = map(error.field);
    if (!name) {
      rest.push(`${error.field}: ${error.message}`);
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
