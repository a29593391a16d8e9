/**
 * What the console says for each field problem of a `VALIDATION_FAILED` answer and each bad line of a
 * `CSV_INVALID` one (server/src/errors.ts `FIELD_PROBLEMS`, `CSV_LINE_PROBLEMS`), in each language,
 * built from the problem's code and params. As with error codes (error-texts.ts), English shows the
 * server's own message, which names values; Chinese always shows its own text, so no server string
 * stays English in the Chinese console. Typed against the server's catalogues: a new code without
 * its texts fails the typecheck.
 */
import type { CsvLineCode, CsvLineError, FieldError, FieldProblemCode } from '../../../server/src/errors.ts';
import type { Locale } from './locale.ts';

/** A problem's params, as the server sends them (`{limit: 100}`). */
export type ProblemParams = Record<string, string | number>;

/** The text of one problem, from its params (a param the server left out is absent). */
type ProblemText = (p: ProblemParams) => string;

/** `min` to `max`, `at least min` or `at most max`, in each language, for OUT_OF_RANGE. */
const RANGE: Record<Locale, ProblemText> = {
  en: (p) =>
    p.min !== undefined && p.max !== undefined
      ? `must be from ${p.min} to ${p.max}`
      : p.max !== undefined
        ? `must be at most ${p.max}`
        : `must be at least ${p.min}`,
  zh: (p) =>
    p.min !== undefined && p.max !== undefined
      ? `须在 ${p.min} 到 ${p.max} 之间`
      : p.max !== undefined
        ? `不能大于 ${p.max}`
        : `不能小于 ${p.min}`,
};

/** The console's text for every field-problem code, per language. */
export const FIELD_PROBLEM_TEXTS: Record<Locale, Record<FieldProblemCode, ProblemText>> = {
  en: {
    REQUIRED: () => 'is required',
    UNKNOWN_FIELD: () => 'is not a known field',
    BLANK: () => 'must not be blank',
    TOO_LONG: (p) => `must be at most ${p.limit} characters`,
    TOO_SHORT: (p) => `must be at least ${p.limit} characters`,
    LENGTH_RANGE: (p) => `must be ${p.min} to ${p.max} characters`,
    TOO_MANY: (p) => `may hold at most ${p.limit}`,
    TOO_FEW: (p) => `needs at least ${p.limit}`,
    NOT_ALLOWED_VALUE: (p) => `must be one of: ${p.allowed}`,
    WRONG_TYPE: (p) => `must be of type ${p.type}`,
    OUT_OF_RANGE: RANGE.en,
    FORMAT_INVALID: (p) => `is not in the expected format (${p.format})`,
    URL_INVALID: () => 'must be an absolute http:// or https:// URL',
    TIME_NOT_FUTURE: () => 'must be in the future',
    NOT_IN_WORKSPACE: () => 'does not exist in this workspace',
    AUDIENCE_NOT_READY: (p) =>
      p.status === 'importing'
        ? 'is still importing: only a ready audience can be used'
        : 'is being deleted or gone: choose another audience',
    NOT_USED_HERE: () => 'is not used with these settings: remove it',
    PLATFORM_UNSUPPORTED: (p) => `is not available on ${p.platform}`,
    PLATFORM_MISMATCH: (p) => `must be ${p.platform} for this push service`,
    RESERVED_NAME: () => 'is a reserved name: rename it',
    PAYLOAD_TOO_LARGE: (p) =>
      `is ${p.over} bytes too long: the payload would be ${p.bytes} bytes and the limit is ${p.limit}`,
    CANNOT_CHANGE: () => 'cannot change once created',
    SAME_AS_CURRENT: () => 'must differ from the current value',
    NESTED_TOO_DEEP: (p) => `is nested too deeply (at most ${p.limit} levels)`,
    CURSOR_FILTER_MISMATCH: () => 'was made for another filter: reload the list',
    NUL_CHARACTER: () => 'must not contain the NUL character',
    TIME_ZONE_UNKNOWN: () => 'is not a known IANA time zone',
    EMPTY_WINDOW: () => 'must differ from the start',
    LESS_THAN_OTHER: (p) => `must be at least ${p.other}`,
    INVALID_IN_TOTAL: (p) => `${p.count} values are invalid in total`,
    VALUE_INVALID: () => 'is not valid',
  },
  zh: {
    REQUIRED: () => '必填',
    UNKNOWN_FIELD: () => '不是可识别的字段',
    BLANK: () => '不能为空',
    TOO_LONG: (p) => `最多 ${p.limit} 个字符`,
    TOO_SHORT: (p) => `至少 ${p.limit} 个字符`,
    LENGTH_RANGE: (p) => `长度须为 ${p.min} 到 ${p.max} 个字符`,
    TOO_MANY: (p) => `最多 ${p.limit} 项`,
    TOO_FEW: (p) => `至少需要 ${p.limit} 项`,
    NOT_ALLOWED_VALUE: (p) => `取值须为以下之一：${p.allowed}`,
    WRONG_TYPE: (p) => `类型须为 ${p.type}`,
    OUT_OF_RANGE: RANGE.zh,
    FORMAT_INVALID: (p) => `格式不正确（应如 ${p.format}）`,
    URL_INVALID: () => '须为以 http:// 或 https:// 开头的完整网址',
    TIME_NOT_FUTURE: () => '须为将来的时间',
    NOT_IN_WORKSPACE: () => '在此工作区中不存在',
    AUDIENCE_NOT_READY: (p) =>
      p.status === 'importing'
        ? '受众仍在导入：只能使用已就绪的受众'
        : '受众正在删除或已不存在：请选择其他受众',
    NOT_USED_HERE: () => '当前设置不使用此项：请删除',
    PLATFORM_UNSUPPORTED: (p) => `${p.platform === 'ios' ? 'iOS' : 'Android'} 上不可用`,
    PLATFORM_MISMATCH: (p) => `此推送服务只支持 ${p.platform === 'ios' ? 'iOS' : 'Android'}`,
    RESERVED_NAME: () => '是保留名称：请改名',
    PAYLOAD_TOO_LARGE: (p) => `超出 ${p.over} 字节：推送内容将为 ${p.bytes} 字节，上限为 ${p.limit} 字节`,
    CANNOT_CHANGE: () => '创建后不能修改',
    SAME_AS_CURRENT: () => '须与当前值不同',
    NESTED_TOO_DEEP: (p) => `嵌套过深（最多 ${p.limit} 层）`,
    CURSOR_FILTER_MISMATCH: () => '分页位置属于其他筛选条件：请重新加载列表',
    NUL_CHARACTER: () => '不能包含 NUL 字符',
    TIME_ZONE_UNKNOWN: () => '不是可识别的 IANA 时区',
    EMPTY_WINDOW: () => '须与开始时间不同',
    LESS_THAN_OTHER: (p) => `不能小于 ${p.other}`,
    INVALID_IN_TOTAL: (p) => `共有 ${p.count} 个值无效`,
    VALUE_INVALID: () => '无效',
  },
};

/** The console's text for every code of a bad file line, per language. */
export const CSV_LINE_TEXTS: Record<Locale, Record<CsvLineCode, ProblemText>> = {
  en: {
    LINE_TOO_LONG: (p) => `is longer than ${p.limit} characters`,
    QUOTE_INVALID: () => 'has a quoted value that is not closed properly',
    COLUMN_COUNT: (p) => `has ${p.count} column(s); expected ${p.expected}`,
    HEADER_INVALID: () => 'the header must name deviceId and pushToken, and may name channel, each once',
    TOO_MANY_VALUES: (p) => `has ${p.count} values; put one device ID per line`,
    DEVICE_ID_MISSING: () => 'has no device ID',
    DEVICE_ID_INVALID: () => 'has an invalid device ID',
    PUSH_TOKEN_INVALID: () => 'has a missing or invalid push token',
    CHANNEL_INVALID: () => 'has an invalid channel',
    TIME_ZONE_INVALID: () => 'has an unknown time zone',
    LOCALE_INVALID: () => 'has an invalid locale',
    APP_VERSION_INVALID: () => 'has an invalid app version',
    DEVICE_INVALID: () => 'is not a valid device',
  },
  zh: {
    LINE_TOO_LONG: (p) => `超过 ${p.limit} 个字符`,
    QUOTE_INVALID: () => '引号未正确闭合',
    COLUMN_COUNT: (p) => `有 ${p.count} 列，应为 ${p.expected}`,
    HEADER_INVALID: () => '表头须包含 deviceId 和 pushToken 各一次，可另含 channel',
    TOO_MANY_VALUES: (p) => `有 ${p.count} 个值：每行只放一个设备 ID`,
    DEVICE_ID_MISSING: () => '缺少设备 ID',
    DEVICE_ID_INVALID: () => '设备 ID 无效',
    PUSH_TOKEN_INVALID: () => '推送令牌缺失或无效',
    CHANNEL_INVALID: () => '通道无效',
    TIME_ZONE_INVALID: () => '时区无法识别',
    LOCALE_INVALID: () => '语言区域无效',
    APP_VERSION_INVALID: () => '应用版本无效',
    DEVICE_INVALID: () => '不是有效的设备',
  },
};

/**
 * What the console shows for one field problem in `locale`: in English the server's message (or the
 * code's text when it has none); in Chinese the code's text (a generic one for a code newer than the console).
 */
export function fieldProblemText(
  locale: Locale,
  error: Pick<FieldError, 'code' | 'params' | 'message'>,
): string {
  if (locale === 'en' && error.message) return error.message;
  const text = (FIELD_PROBLEM_TEXTS[locale] as Record<string, ProblemText | undefined>)[error.code];
  return (text ?? FIELD_PROBLEM_TEXTS[locale].VALUE_INVALID)(error.params ?? {});
}

/** What the console shows for one bad file line's problem in `locale`, like `fieldProblemText`. */
export function csvLineText(
  locale: Locale,
  error: Pick<CsvLineError, 'code' | 'params' | 'message'>,
): string {
  if (locale === 'en' && error.message) return error.message;
  const text = (CSV_LINE_TEXTS[locale] as Record<string, ProblemText | undefined>)[error.code];
  return text ? text(error.params ?? {}) : CSV_LINE_TEXTS[locale].DEVICE_INVALID({});
}
