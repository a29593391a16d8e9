/**
 * Schemas shared by many routes: the error envelope, paging parameters and list shapes. Each
 * feature keeps its own in its `<feature>-schemas.ts`; only what several of them use lives here.
 */
import { type TSchema, Type } from 'typebox';

/** The docs/api.md#errors error envelope, referenced by every route's error responses in the OpenAPI document. */
export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable SCREAMING_SNAKE code from the error catalogue.' }),
      message: Type.String(),
      details: Type.Optional(
        Type.Unknown({
          description:
            'VALIDATION_FAILED: [{field, code, params?, message}], one per wrong field; CSV_INVALID: ' +
            '{errors: [{line, code, params?, message}], errorCount}. Each `code` is stable (FIELD_PROBLEMS ' +
            'and CSV_LINE_PROBLEMS in server/src/errors.ts, listed in docs/api.md#errors); `params` holds ' +
            'the numbers and names its text needs; `message` is English.',
        }),
      ),
    }),
  },
  { $id: 'ErrorEnvelope', description: 'Every error answer has this shape.' },
);

/**
 * Highest `page` a list accepts: beyond it the row offset would leave the range both databases take
 * (a `page=1e308` reached SQL as a number it cannot hold and answered 500); no list is that long.
 */
export const MAX_PAGE = 1_000_000;

/** `page` (1-based) and `pageSize` query parameters of paged lists. */
export const PageQuery = {
  page: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 1 }),
  pageSize: Type.Integer({ minimum: 1, maximum: 200, default: 20 }),
};

/** A paged list `{items, total, page, pageSize}` of `item`. */
export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    page: Type.Integer(),
    pageSize: Type.Integer(),
  });
}

/** `schema` or null (options such as a description apply to the union). */
export const Nullable = <T extends TSchema>(schema: T, options: { description?: string } = {}) =>
  Type.Union([schema, Type.Null()], options);

/** A non-blank, trimmed-length-limited display name. */
export const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });

/** A workspace role. */
export const RoleSchema = Type.Union([
  Type.Literal('owner'),
  Type.Literal('operator'),
  Type.Literal('viewer'),
]);

/** Error responses every authenticated route can give, for the OpenAPI document. */
export const authErrors = {
  400: Type.Ref('ErrorEnvelope'),
  401: Type.Ref('ErrorEnvelope'),
  403: Type.Ref('ErrorEnvelope'),
  404: Type.Ref('ErrorEnvelope'),
};
