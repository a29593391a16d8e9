/**
 * Turns JSON-schema (Ajv) errors into the `VALIDATION_FAILED` error of the catalogue, one entry per
 * field with a dotted path (`clickAction.url`, `devices.3.pushToken`).
 */
import type { ErrorObject } from 'ajv';
import { AppError, type FieldError } from '../errors.ts';

/** The per-field errors of an Ajv validation. */
export function fieldErrors(
  issues: readonly Pick<ErrorObject, 'instancePath' | 'params' | 'message'>[],
  whole = 'body',
): FieldError[] {
  return issues.map((issue) => {
    const segments = issue.instancePath.split('/').filter(Boolean);
    const params = (issue.params ?? {}) as { missingProperty?: string; additionalProperty?: string };
    if (params.missingProperty) segments.push(params.missingProperty);
    if (params.additionalProperty) segments.push(params.additionalProperty);
    const message = params.additionalProperty ? 'is not a known field' : (issue.message ?? 'is invalid');
    return { field: segments.join('.') || whole, message };
  });
}

/** A `VALIDATION_FAILED` error for Ajv issues found in one part of the request (`body`, `querystring`…). */
export function schemaError(
  issues: readonly Pick<ErrorObject, 'instancePath' | 'params' | 'message'>[],
  part = 'body',
): AppError {
  const fields = fieldErrors(issues, part);
  const summary = fields.map((f) => `${f.field} ${f.message}`).join('; ');
  return new AppError('VALIDATION_FAILED', `Invalid ${part}: ${summary}`, fields);
}
