/**
 * The task form's values and how they map to and from the API: the values a task starts the form
 * with, the click action and request body the values describe, and which form item shows each
 * field the server finds wrong.
 */
import type { UploadFile } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import {
  type ClickAction,
  type ClickActionType,
  DEFAULT_TTL_SECONDS,
  type SendType,
  type Task,
  type TaskCategory,
  type TaskInput,
} from '../../api/types.ts';
import type { FieldMapper } from '../../components/form-errors.ts';
import { TTL_UNITS, type TtlUnit, ttlFields } from './ttl.ts';

/** One row of the click action's parameter list as typed (either half may still be empty). */
export interface ParamRow {
  key?: string;
  value?: string;
}

/** Everything the task form holds, field by field. */
export interface TaskFormValues {
  name: string;
  appId?: string;
  title: string;
  content: string;
  clickType: ClickActionType;
  url?: string;
  page?: string;
  params: ParamRow[];
  audienceMode: 'existing' | 'upload';
  audienceId?: string;
  file?: UploadFile[];
  sendType: SendType;
  scheduledAt?: Dayjs;
  subCampaignIds: string[];
  category: TaskCategory;
  /** The time to live as typed: an amount of `ttlUnit`. */
  ttlAmount: number | null;
  ttlUnit: TtlUnit;
  /** Pacing: minutes the hand-over is spread over, or null to send as fast as the rate limits allow. */
  spreadMinutes: number | null;
}

/** Click actions an iOS app has no equivalent of. */
export const ANDROID_ONLY: readonly ClickActionType[] = ['open_url', 'open_page'];

/** Campaign nodes of the sub-campaign tree carry this prefix so they never pass for a sub-campaign. */
export const CAMPAIGN_NODE = 'campaign:';

/** The click action the form describes, as the API takes it. */
export function clickActionOf(values: Partial<TaskFormValues>): ClickAction {
  const params: Record<string, string> = {};
  for (const row of values.params ?? []) {
    if (row?.key?.trim()) params[row.key.trim()] = row.value ?? '';
  }
  const type = values.clickType ?? 'open_app';
  return {
    type,
    ...(type === 'open_url' && { url: values.url?.trim() ?? '' }),
    ...(type === 'open_page' && { page: values.page?.trim() ?? '' }),
    ...(Object.keys(params).length > 0 && { params }),
  };
}

/** The values the form starts with: the defaults for a new task, or `task` as it is. */
export function initialValues(task: Task | undefined): TaskFormValues {
  if (!task) {
    return {
      name: '',
      title: '',
      content: '',
      clickType: 'open_app',
      params: [],
      audienceMode: 'existing',
      sendType: 'immediate',
      subCampaignIds: [],
      category: 'marketing',
      ...ttlFields(DEFAULT_TTL_SECONDS),
      spreadMinutes: null,
    };
  }
  return {
    name: task.name,
    appId: task.appId,
    title: task.title,
    content: task.content,
    clickType: task.clickAction.type,
    url: task.clickAction.url,
    page: task.clickAction.page,
    params: Object.entries(task.clickAction.params ?? {}).map(([key, value]) => ({ key, value })),
    audienceMode: 'existing',
    audienceId: task.audienceId,
    sendType: task.sendType,
    scheduledAt: task.scheduledAt ? dayjs(task.scheduledAt) : undefined,
    subCampaignIds: task.subCampaignIds,
    category: task.category,
    ...ttlFields(task.ttlSeconds),
    spreadMinutes: task.spreadMinutes,
  };
}

/**
 * The values a duplicate of `task` starts the create form with: its content, app, audience (unless
 * deleted), sub-campaigns and options, named as a copy; a send time already past is not kept.
 */
export function duplicateValues(task: Task, copyName: string): TaskFormValues {
  const values = initialValues(task);
  const future = values.scheduledAt?.isAfter(dayjs()) === true;
  return {
    ...values,
    name: copyName.slice(0, 200),
    audienceId: task.audienceName === null ? undefined : task.audienceId,
    sendType: task.sendType === 'scheduled' && future ? 'scheduled' : 'immediate',
    scheduledAt: future ? values.scheduledAt : undefined,
  };
}

/** The request body the submitted values describe, without the audience (it depends on how it is given). */
export function taskInputOf(v: TaskFormValues): TaskInput {
  return {
    name: v.name.trim(),
    appId: v.appId!,
    title: v.title.trim(),
    content: v.content.trim(),
    clickAction: clickActionOf(v),
    sendType: v.sendType,
    ...(v.sendType === 'scheduled' && v.scheduledAt && { scheduledAt: v.scheduledAt.toISOString() }),
    subCampaignIds: v.subCampaignIds.filter((id) => !id.startsWith(CAMPAIGN_NODE)),
    category: v.category,
    ttlSeconds: Math.round((v.ttlAmount ?? 0) * TTL_UNITS[v.ttlUnit]),
    spreadMinutes: v.spreadMinutes ?? null,
  };
}

/**
 * Maps the API's field paths to the form items showing them; a parameter's error goes to the row
 * whose name it is about, found in the current `params` rows.
 */
export function taskFieldMapper(params: () => ParamRow[]): FieldMapper {
  return (path) => {
    const [head, second, ...rest] = path.split('.');
    if (head === 'clickAction') {
      if (second === 'type') return ['clickType'];
      if (second === 'url' || second === 'page') return [second];
      if (second === 'params') {
        const key = rest.join('.');
        const index = params().findIndex((r) => r?.key?.trim() === key);
        return index >= 0 ? ['params', index, 'key'] : null;
      }
      return null;
    }
    if (head === 'subCampaignIds') return ['subCampaignIds'];
    if (head === 'file') return ['file'];
    if (head === 'ttlSeconds') return ['ttlAmount'];
    if (head === 'category') return ['category'];
    if (head === 'spreadMinutes') return ['spreadMinutes'];
    if (
      head &&
      ['name', 'appId', 'title', 'content', 'audienceId', 'sendType', 'scheduledAt'].includes(head)
    ) {
      return [head];
    }
    return null;
  };
}
