/**
 * What the console says for each error code of the API (server/src/errors.ts), in each language. The
 * server's message is English and often more specific (it names the field or the task), so English
 * shows it and falls back to these texts; Chinese always shows its own text, so no server string
 * stays English in the Chinese console. Typed against the server's catalogue: a new code without its
 * texts fails the typecheck.
 */
import type { ErrorCode } from '../../../server/src/errors.ts';
import type { Locale } from './locale.ts';

/** The code the console's API client gives a call that never got an answer (offline, server down). */
export type ClientErrorCode = 'NETWORK';

/** The console's text for every API error code (and the client's own), per language. */
export const ERROR_TEXTS: Record<Locale, Record<ErrorCode | ClientErrorCode, string>> = {
  en: {
    NETWORK: 'The server could not be reached: check your connection.',
    VALIDATION_FAILED: 'Some fields are not valid: check the fields marked in red.',
    INVALID_JSON: 'The request was not valid JSON.',
    REQUEST_INVALID: 'The request is not valid.',
    CSV_INVALID: 'The file has lines that cannot be read.',
    PROVIDER_SECRET_REQUIRED: 'The push service needs its secret: enter it.',
    PROVIDER_URL_NOT_ALLOWED:
      'This push-service address is not allowed: use the service’s own HTTPS address.',
    UNAUTHENTICATED: 'Your session has ended: log in again.',
    RECEIPT_SIGNATURE_INVALID: 'The receipt signature is not valid.',
    SDK_SIGNATURE_INVALID: 'The SDK signature is not valid.',
    INVALID_CREDENTIALS: 'Wrong username or password.',
    FORBIDDEN: 'Your role does not allow this.',
    USER_DISABLED: 'This user is disabled.',
    CURRENT_PASSWORD_WRONG: 'The current password is wrong.',
    PASSWORD_CHANGE_REQUIRED: 'Change your password before going on.',
    NOT_FOUND: 'Not found.',
    WORKSPACE_NOT_FOUND: 'This workspace does not exist or you are not a member.',
    USER_NOT_FOUND: 'This user no longer exists.',
    MEMBER_NOT_FOUND: 'This member is no longer in the workspace.',
    TOKEN_NOT_FOUND: 'This API token no longer exists.',
    APP_NOT_FOUND: 'This app no longer exists.',
    DEVICE_NOT_FOUND: 'This device is not registered.',
    AUDIENCE_NOT_FOUND: 'This audience no longer exists.',
    CAMPAIGN_NOT_FOUND: 'This campaign no longer exists.',
    SUB_CAMPAIGN_NOT_FOUND: 'This sub-campaign no longer exists.',
    TASK_NOT_FOUND: 'This task no longer exists.',
    METHOD_NOT_ALLOWED: 'This action is not available here.',
    REQUEST_TIMEOUT: 'The request took too long: try again.',
    USERNAME_TAKEN: 'This username is taken.',
    MEMBER_EXISTS: 'This user is already a member.',
    LAST_OWNER: 'A workspace keeps at least one owner.',
    CANNOT_DISABLE_SELF: 'You cannot disable yourself.',
    APP_IN_USE: 'Tasks use this app: delete them first.',
    AUDIENCE_IN_USE: 'Tasks use this audience: delete them first.',
    CAMPAIGN_IN_USE: 'Tasks use this campaign’s sub-campaigns.',
    SUB_CAMPAIGN_IN_USE: 'Tasks use this sub-campaign.',
    TASK_NOT_EDITABLE: 'This task has started and can no longer be edited.',
    TASK_NOT_DELETABLE: 'This task has started and can no longer be deleted.',
    TASK_NOT_STOPPABLE: 'Only a task that is sending can be stopped.',
    TASK_NOT_TESTABLE: 'Only a task that has not started can be test-pushed.',
    GENERATED_AUDIENCE_EMPTY:
      'No device of this task matches the filter: an empty audience is not created. Choose another filter.',
    TASK_TRANSITION_REFUSED: 'The task’s state has changed meanwhile: reload the page.',
    DEVICE_DETAILS_EXPIRED: 'The per-device results of this task have expired.',
    PAYLOAD_TOO_LARGE: 'Too large to send.',
    RECEIPT_BATCH_TOO_LARGE: 'Too many receipts in one request.',
    URL_TOO_LONG: 'The address is too long.',
    UNSUPPORTED_MEDIA_TYPE: 'This kind of content is not accepted.',
    TOO_MANY_LOGIN_ATTEMPTS: 'Too many login attempts: wait a moment.',
    TOO_MANY_EVENT_STREAMS: 'Too many live pages open: close some.',
    TOO_MANY_REGISTRATIONS: 'Too many registrations: wait a moment.',
    TOO_MANY_TEST_PUSHES: 'Too many test pushes: wait a minute.',
    RECEIPT_QUEUE_FULL: 'Receipts are arriving faster than they can be stored: retry shortly.',
    HEADERS_TOO_LARGE: 'The request headers are too large.',
    INTERNAL: 'Something went wrong on the server: try again; the server log says more.',
    INSUFFICIENT_STORAGE: 'The server’s disk is full.',
  },
  zh: {
    NETWORK: '无法连接服务器：请检查网络连接。',
    VALIDATION_FAILED: '部分字段无效：请检查标红的字段。',
    INVALID_JSON: '请求不是有效的 JSON。',
    REQUEST_INVALID: '请求无效。',
    CSV_INVALID: '文件中有无法读取的行。',
    PROVIDER_SECRET_REQUIRED: '推送服务需要密钥：请填写。',
    PROVIDER_URL_NOT_ALLOWED: '不允许使用该推送服务地址：请使用服务官方的 HTTPS 地址。',
    UNAUTHENTICATED: '会话已结束：请重新登录。',
    RECEIPT_SIGNATURE_INVALID: '回执签名无效。',
    SDK_SIGNATURE_INVALID: 'SDK 签名无效。',
    INVALID_CREDENTIALS: '用户名或密码错误。',
    FORBIDDEN: '您的角色无权执行此操作。',
    USER_DISABLED: '该用户已停用。',
    CURRENT_PASSWORD_WRONG: '当前密码错误。',
    PASSWORD_CHANGE_REQUIRED: '请先修改密码。',
    NOT_FOUND: '未找到。',
    WORKSPACE_NOT_FOUND: '该工作空间不存在，或您不是其成员。',
    USER_NOT_FOUND: '该用户已不存在。',
    MEMBER_NOT_FOUND: '该成员已不在此工作空间。',
    TOKEN_NOT_FOUND: '该 API 令牌已不存在。',
    APP_NOT_FOUND: '该应用已不存在。',
    DEVICE_NOT_FOUND: '该设备未注册。',
    AUDIENCE_NOT_FOUND: '该人群已不存在。',
    CAMPAIGN_NOT_FOUND: '该营销活动已不存在。',
    SUB_CAMPAIGN_NOT_FOUND: '该子活动已不存在。',
    TASK_NOT_FOUND: '该任务已不存在。',
    METHOD_NOT_ALLOWED: '此处不支持该操作。',
    REQUEST_TIMEOUT: '请求超时：请重试。',
    USERNAME_TAKEN: '该用户名已被占用。',
    MEMBER_EXISTS: '该用户已是成员。',
    LAST_OWNER: '工作空间至少需要保留一位所有者。',
    CANNOT_DISABLE_SELF: '不能停用自己。',
    APP_IN_USE: '有任务在使用该应用：请先删除这些任务。',
    AUDIENCE_IN_USE: '有任务在使用该人群：请先删除这些任务。',
    CAMPAIGN_IN_USE: '有任务在使用该营销活动的子活动。',
    SUB_CAMPAIGN_IN_USE: '有任务在使用该子活动。',
    TASK_NOT_EDITABLE: '该任务已开始，不能再编辑。',
    TASK_NOT_DELETABLE: '该任务已开始，不能再删除。',
    TASK_NOT_STOPPABLE: '只有发送中的任务可以停止。',
    TASK_NOT_TESTABLE: '只有尚未开始的任务可以测试推送。',
    GENERATED_AUDIENCE_EMPTY: '该任务没有符合筛选条件的设备，不会创建空人群。请换一个筛选条件。',
    TASK_TRANSITION_REFUSED: '任务状态已发生变化：请刷新页面。',
    DEVICE_DETAILS_EXPIRED: '该任务的设备明细已过期。',
    PAYLOAD_TOO_LARGE: '内容过大，无法发送。',
    RECEIPT_BATCH_TOO_LARGE: '单次请求的回执过多。',
    URL_TOO_LONG: '地址过长。',
    UNSUPPORTED_MEDIA_TYPE: '不接受该内容类型。',
    TOO_MANY_LOGIN_ATTEMPTS: '登录尝试过多：请稍候。',
    TOO_MANY_EVENT_STREAMS: '打开的实时页面过多：请关闭一些。',
    TOO_MANY_REGISTRATIONS: '注册请求过多：请稍候。',
    TOO_MANY_TEST_PUSHES: '测试推送过于频繁：请一分钟后再试。',
    RECEIPT_QUEUE_FULL: '回执到达速度超过存储速度：请稍后重试。',
    HEADERS_TOO_LARGE: '请求头过大。',
    INTERNAL: '服务器出错：请重试；详情见服务器日志。',
    INSUFFICIENT_STORAGE: '服务器磁盘已满。',
  },
};

/** Text for an unknown code (a newer server than the console): the server's message, or this. */
const UNKNOWN: Record<Locale, string> = { en: 'The request failed.', zh: '请求失败。' };

/**
 * The text the console shows for an API error in `locale`: in English the server's own message (it
 * names what to fix) or the code's text; in Chinese the code's text.
 */
export function errorText(locale: Locale, code: string, serverMessage: string): string {
  const known = (ERROR_TEXTS[locale] as Record<string, string | undefined>)[code];
  if (locale === 'en') return serverMessage || known || UNKNOWN.en;
  return known ?? UNKNOWN.zh;
}
