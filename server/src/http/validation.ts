/**
 * Turns JSON-schema (Ajv) errors into the `VALIDATION_FAILED` error of the catalogue, one entry per
 * field with a dotted path (`clickAction.url`, `devices.3.pushToken`).
 */
import type { ErrorObject } from 'ajv';
import { AppError, type FieldError } from '../errors.ts';

/** An Ajv issue as much as a field error needs. */
type AjvIssue = Pick<ErrorObject, 'instancePath' | 'params' | 'message'> & { keyword?: string };

/** The field-problem code and its params for one Ajv issue, by its keyword. */
function problemOf(issue: AjvIssue): Pick<FieldError, 'code' | 'params'> {
  const params = (issue.params ?? {}) as Record<string, unknown>;
  const limit = typeof params.limit === 'number' ? params.limit : undefined;
  switch (issue.keyword) {
    case 'required':
      return { code: 'REQUIRED' };
    case 'additionalProperties':
      return { code: 'UNKNOWN_FIELD' };
    case 'maxLength':
      return { code: 'TOO_LONG', params: { limit: limit ?? 0 } };
    case 'minLength':
      return { code: 'TOO_SHORT', params: { limit: limit ?? 0 } };
    case 'maxItems':
    case 'maxProperties':
      return { code: 'TOO_MANY', params: { limit: limit ?? 0 } };
    case 'minItems':
    case 'minProperties':
      return { code: 'TOO_FEW', params: { limit: limit ?? 0 } };
    case 'enum':
      return {
        code: 'NOT_ALLOWED_VALUE',
        params: { allowed: ((params.allowedValues as unknown[]) ?? []).map(String).join(', ') },
      };
    case 'const':
      return { code: 'NOT_ALLOWED_VALUE', params: { allowed: String(params.allowedValue) } };
    case 'type':
      return { code: 'WRONG_TYPE', params: { type: String(params.type) } };
    case 'minimum':
    case 'exclusiveMinimum':
      return { code: 'OUT_OF_RANGE', params: { min: limit ?? 0 } };
    case 'maximum':
    case 'exclusiveMaximum':
      return { code: 'OUT_OF_RANGE', params: { max: limit ?? 0 } };
    case 'format':
      return { code: 'FORMAT_INVALID', params: { format: String(params.format) } };
    case 'pattern':
      return { code: 'FORMAT_INVALID', params: { format: String(params.pattern) } };
    default:
      // anyOf, multipleOf, uniqueItems…: the message says what is wrong.
      return { code: 'VALUE_INVALID' };
  }
}

/** The per-field errors of an Ajv validation, each with the code of its keyword. */
export function fieldErrors(issues: readonly AjvIssue[], whole = 'body'): FieldError[] {
  return issues.map((issue) => {
    const segments = issue.instancePath.split('/').filter(Boolean);
    const params = (issue.params ?? {}) as { missingProperty?: string; additionalProperty?: string };
    if (params.missingProperty) segments.push(params.missingProperty);
    if (params.additionalProperty) segments.push(params.additionalProperty);
    const message = params.additionalProperty ? 'is not a known field' : (issue.message ?? 'is invalid');
    return { field: segments.join('.') || whole, ...problemOf(issue), message };
  });
}

/** A `VALIDATION_FAILED` error for Ajv issues found in one part of the request (`body`, `querystring`…). */
export function schemaError(issues: readonly AjvIssue[], part = 'body'): AppError {
  const fields = fieldErrors(issues, part);
  const summary = fields.map((f) => `${f.field} ${f.message}`).join('; ');
  return new AppError('VALIDATION_FAILED', `Invalid ${part}: ${summary}`, fields);
}

/**
 * The dotted path of the first string in `value` (walked through plain objects and arrays, keys
 * included) that holds the NUL character, or undefined. PostgreSQL cannot store NUL in text and
 * SQLite cuts C strings at it, so it is refused at the door, for every route alike. The walk keeps
 * its own stack: a body of thousands of nested arrays must not overflow the call stack.
 */
export function nulCharacterField(value: unknown, path: string): string | undefined {
  const pending: [unknown, string][] = [[value, path]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, at] = next;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return at;
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) pending.push([item[i], `${at}.${i}`]);
    } else if (item !== null && typeof item === 'object') {
      // A streamed upload (CSV) or binary body is read by its route, not walked here.
      if (typeof (item as { pipe?: unknown }).pipe === 'function' || ArrayBuffer.isView(item)) continue;
      for (const [key, inner] of Object.entries(item)) {
        if (key.includes('\u0000')) return at;
        pending.push([inner, `${at}.${key}`]);
      }
    }
  }
  return undefined;
}

/** Throws `VALIDATION_FAILED` naming the field when a part of the request holds the NUL character. */
export function assertNoNulCharacter(value: unknown, part: string): void {
  const field = nulCharacterField(value, part);
  if (field) {
    throw new AppError(
      'VALIDATION_FAILED',
      `Invalid ${part}: ${field} contains the NUL character (\\u0000).`,
      [{ field, code: 'NUL_CHARACTER', message: 'must not contain the NUL character (\\u0000)' }],
    );
  }
}
