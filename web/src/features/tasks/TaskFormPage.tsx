/**
 * Create or edit a push task (SPEC §2.1): name, app, title and content with a live phone preview,
 * click action and custom parameters, an audience (picked, or an ID file uploaded at creation),
 * send type and time, and the sub-campaigns it serves. The server checks the task as a whole and
 * every problem it finds is shown next to its field.
 */
import { DeleteOutlined, InboxOutlined, InfoCircleOutlined, PlusOutlined } from '@ant-design/icons';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Col,
  DatePicker,
  Form,
  Input,
  InputNumber,
  Progress,
  Radio,
  Result,
  Row,
  Segmented,
  Select,
  Skeleton,
  Space,
  Tooltip,
  TreeSelect,
  Typography,
  Upload,
  type UploadFile,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, MAX_PAGE_SIZE } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import {
  type ClickAction,
  type ClickActionType,
  DEFAULT_TTL_SECONDS,
  MAX_TTL_SECONDS,
  type Platform,
  type SendType,
  type Task,
  type TaskCategory,
  type TaskInput,
} from '../../api/types.ts';
import { applyFieldErrors, type FieldMapper } from '../../components/form-errors.ts';
import { PlatformIcon } from '../../components/PlatformIcon.tsx';
import { QueryError } from '../../components/QueryError.tsx';
import { UploadProgress } from '../../components/UploadProgress.tsx';
import { formatCount } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { PhonePreview } from './PhonePreview.tsx';
import { PAYLOAD_LIMIT_BYTES, taskPayloadBytes } from './payload.ts';
import { useSubCampaignTree } from './task-parts.tsx';
import { TTL_UNITS, type TtlUnit, ttlFields } from './ttl.ts';

interface ParamRow {
  key?: string;
  value?: string;
}

interface TaskFormValues {
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
}

const ANDROID_ONLY: readonly ClickActionType[] = ['open_url', 'open_page'];
const PARAM_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ACTIVITY_NAME = /^\.?[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;
// Campaign nodes of the sub-campaign tree carry this prefix so they never pass for a sub-campaign.
const CAMPAIGN_NODE = 'campaign:';

/** The click action the form describes, as the API takes it. */
function clickActionOf(values: Partial<TaskFormValues>): ClickAction {
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

/**
 * Enter in a field (confirming a date, picking an option) must not create the task: only the
 * submit button does, on a form this long.
 */
function preventEnterSubmit(event: React.KeyboardEvent<HTMLFormElement>) {
  const target = event.target as HTMLElement;
  if (event.key === 'Enter' && target.tagName === 'INPUT') event.preventDefault();
}

function initialValues(task: Task | undefined): TaskFormValues {
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
  };
}

export function TaskFormPage() {
  const { taskId } = useParams();
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const task = useQuery({
    queryKey: ['ws', ws.id, 'task', taskId],
    queryFn: () => api.tasks.get(ws.id, taskId!),
    enabled: taskId !== undefined,
  });
  if (taskId !== undefined) {
    if (task.isPending) return <Skeleton active paragraph={{ rows: 12 }} />;
    if (task.isError) return <QueryError error={task.error} onRetry={() => task.refetch()} />;
    if (task.data.status !== 'scheduled') {
      return (
        <Card>
          <Result
            status="warning"
            title={t('form.notEditableTitle')}
            subTitle={t('tasks.notEditable', { status: t(`status.${task.data.status}`) })}
            extra={
              <Link to={`/w/${encodeURIComponent(ws.id)}/tasks/${task.data.id}`}>
                <Button type="primary">{t('form.openDetails')}</Button>
              </Link>
            }
          />
        </Card>
      );
    }
    return <TaskForm key={task.data.id} task={task.data} />;
  }
  return <TaskForm />;
}

function TaskForm({ task }: { task?: Task }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { message } = AntApp.useApp();
  const [form] = Form.useForm<TaskFormValues>();
  const [submitting, setSubmitting] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [paramErrors, setParamErrors] = useState<string[]>([]);
  const [previewPlatform, setPreviewPlatform] = useState<Platform>('android');
  const editing = task !== undefined;
  const tasksPath = `/w/${encodeURIComponent(ws.id)}/tasks`;

  const apps = useQuery({ queryKey: ['ws', ws.id, 'apps'], queryFn: () => api.apps.list(ws.id) });
  const audiences = useQuery({
    queryKey: ['ws', ws.id, 'audiences', 'picker'],
    queryFn: () => api.audiences.list(ws.id, 1, MAX_PAGE_SIZE),
  });
  const subCampaignTree = useSubCampaignTree(ws.id);

  const values = Form.useWatch([], form) as Partial<TaskFormValues> | undefined;
  const app = apps.data?.items.find((a) => a.id === values?.appId);
  const platform: Platform = app?.platform ?? previewPlatform;
  const clickAction = clickActionOf(values ?? {});
  const bytes = taskPayloadBytes(platform, values?.title ?? '', values?.content ?? '', clickAction);
  const limit = PAYLOAD_LIMIT_BYTES[platform];
  // The provider's longest time to live; before an app is picked, the most any provider takes.
  const maxTtlSeconds = MAX_TTL_SECONDS[app?.provider ?? 'fcm'];

  // An iOS app has no URL or page action: fall back to opening the app.
  useEffect(() => {
    if (app?.platform === 'ios' && values?.clickType && ANDROID_ONLY.includes(values.clickType)) {
      form.setFieldValue('clickType', 'open_app');
    }
  }, [app?.platform, values?.clickType, form]);

  const mapField: FieldMapper = (path) => {
    const [head, second, ...rest] = path.split('.');
    if (head === 'clickAction') {
      if (second === 'type') return ['clickType'];
      if (second === 'url' || second === 'page') return [second];
      if (second === 'params') {
        const key = rest.join('.');
        const index = (form.getFieldValue('params') as ParamRow[]).findIndex((r) => r?.key?.trim() === key);
        return index >= 0 ? ['params', index, 'key'] : null;
      }
      return null;
    }
    if (head === 'subCampaignIds') return ['subCampaignIds'];
    if (head === 'file') return ['file'];
    if (head === 'ttlSeconds') return ['ttlAmount'];
    if (head === 'category') return ['category'];
    if (
      head &&
      ['name', 'appId', 'title', 'content', 'audienceId', 'sendType', 'scheduledAt'].includes(head)
    ) {
      return [head];
    }
    return null;
  };

  const submit = async (v: TaskFormValues) => {
    setFormErrors([]);
    setParamErrors([]);
    const body: TaskInput = {
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
    };
    setSubmitting(true);
    try {
      let saved: Task;
      if (task) {
        // The schedule is sent only when changed: an untouched time that has just passed is the
        // dispatcher's business, not a mistake of the marketer's.
        const scheduleChanged =
          v.sendType !== task.sendType ||
          (v.sendType === 'scheduled' && v.scheduledAt?.toISOString() !== task.scheduledAt);
        const { sendType, scheduledAt, ...rest } = body;
        saved = await api.tasks.update(ws.id, task.id, {
          ...rest,
          audienceId: v.audienceId,
          ...(scheduleChanged && { sendType, ...(scheduledAt && { scheduledAt }) }),
        });
      } else if (v.audienceMode === 'upload') {
        const file = v.file?.[0]?.originFileObj;
        if (!file) throw new Error(t('form.fileRequired'));
        setProgress(0);
        saved = await api.tasks.createWithFile(ws.id, body, file, setProgress);
      } else {
        saved = await api.tasks.create(ws.id, { ...body, audienceId: v.audienceId });
      }
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id] });
      message.success(
        editing ? t('form.saved', { name: saved.name }) : t('form.created', { name: saved.name }),
      );
      navigate(`${tasksPath}/${saved.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.fieldErrors.length > 0) {
        const paramsLevel = error.fieldErrors.filter((e) => e.field === 'clickAction.params');
        setParamErrors(paramsLevel.map((e) => e.message));
        const rest = applyFieldErrors(
          form,
          error.fieldErrors.filter((e) => e.field !== 'clickAction.params'),
          mapField,
        );
        setFormErrors(rest);
        message.error(t('form.fixErrors'));
      } else if (error instanceof ApiError && error.code === 'TASK_NOT_EDITABLE') {
        setFormErrors([t('form.startedMeanwhile')]);
      } else {
        setFormErrors([error instanceof Error ? error.message : String(error)]);
      }
    } finally {
      setSubmitting(false);
      setProgress(null);
    }
  };

  if (apps.isError) return <QueryError error={apps.error} onRetry={() => apps.refetch()} />;

  const clickOptions = (['open_app', 'open_url', 'open_page', 'custom'] as const).map((type) => {
    const unavailable = ANDROID_ONLY.includes(type) && platform === 'ios';
    return {
      value: type,
      disabled: unavailable,
      label: (
        <Tooltip title={unavailable ? t('form.androidOnly') : null}>
          <span>{t(`click.${type}`)}</span>
        </Tooltip>
      ),
    };
  });

  const treeData = subCampaignTree.groups.map((g) => ({
    title: g.key === '-' ? t('form.independentSubCampaigns') : g.label,
    value: `${CAMPAIGN_NODE}${g.key}`,
    key: `${CAMPAIGN_NODE}${g.key}`,
    children: g.subCampaigns.map((s) => ({ title: s.name, value: s.id, key: s.id })),
  }));

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <div>
        <Link to={tasksPath}>← {t('nav.normalTasks')}</Link>
        <Typography.Title level={4} style={{ margin: '8px 0 0' }}>
          {editing ? t('form.editTitle', { name: task.name }) : t('form.createTitle')}
        </Typography.Title>
      </div>
      <Row gutter={24} wrap={false} style={{ alignItems: 'flex-start' }}>
        <Col flex="auto" style={{ minWidth: 0 }}>
          <Form<TaskFormValues>
            form={form}
            layout="vertical"
            initialValues={initialValues(task)}
            onFinish={submit}
            onFinishFailed={() => message.error(t('form.fixErrors'))}
            scrollToFirstError
            requiredMark
            onKeyDown={preventEnterSubmit}
            data-testid="task-form"
          >
            {formErrors.length > 0 && (
              <Alert
                type="error"
                showIcon
                role="alert"
                title={t('form.notSaved')}
                description={
                  <ul style={{ margin: 0, paddingInlineStart: 18 }}>
                    {formErrors.map((e) => (
                      <li key={e}>{e}</li>
                    ))}
                  </ul>
                }
                style={{ marginBottom: 16 }}
              />
            )}
            <Card title={t('form.section.basics')} size="small" style={{ marginBottom: 16 }}>
              <Form.Item
                name="name"
                label={t('form.name')}
                rules={[
                  { required: true, whitespace: true, message: t('form.required') },
                  { max: 200, message: t('form.tooLong', { n: 200 }) },
                ]}
                extra={t('form.nameHint')}
              >
                <Input maxLength={200} showCount placeholder={t('form.namePlaceholder')} />
              </Form.Item>
              <Form.Item
                name="appId"
                label={t('form.app')}
                rules={[{ required: true, message: t('form.appRequired') }]}
              >
                <Select
                  showSearch={{ optionFilterProp: 'search' }}
                  placeholder={t('form.appPlaceholder')}
                  loading={apps.isPending}
                  options={(apps.data?.items ?? []).map((a) => ({
                    value: a.id,
                    search: a.name,
                    label: (
                      <span>
                        <PlatformIcon platform={a.platform} /> {a.name}{' '}
                        <Typography.Text type="secondary">
                          · {t(`platform.${a.platform}`)} ·{' '}
                          {t('form.appDevices', { n: formatCount(a.devices) })}
                        </Typography.Text>
                      </span>
                    ),
                  }))}
                  data-testid="app-select"
                />
              </Form.Item>
            </Card>

            <Card title={t('form.section.content')} size="small" style={{ marginBottom: 16 }}>
              <Form.Item
                name="title"
                label={t('form.title')}
                rules={[{ required: true, whitespace: true, message: t('form.required') }]}
              >
                <Input placeholder={t('form.titlePlaceholder')} />
              </Form.Item>
              <Form.Item
                name="content"
                label={t('form.content')}
                rules={[{ required: true, whitespace: true, message: t('form.required') }]}
              >
                <Input.TextArea rows={3} placeholder={t('form.contentPlaceholder')} />
              </Form.Item>
              <div style={{ marginTop: -8, marginBottom: 8 }}>
                <Typography.Text type={bytes > limit ? 'danger' : 'secondary'} style={{ fontSize: 12 }}>
                  {t('form.payloadSize', { bytes, limit, platform: t(`platform.${platform}`) })}
                </Typography.Text>
                <Progress
                  percent={Math.min(100, (bytes / limit) * 100)}
                  showInfo={false}
                  size="small"
                  status={bytes > limit ? 'exception' : 'normal'}
                />
              </div>
              <Form.Item name="clickType" label={t('form.clickAction')}>
                <Radio.Group optionType="button" options={clickOptions} />
              </Form.Item>
              {values?.clickType === 'open_url' && (
                <Form.Item
                  name="url"
                  label={t('form.url')}
                  rules={[
                    { required: true, whitespace: true, message: t('form.required') },
                    { type: 'url', message: t('form.urlInvalid') },
                    { pattern: /^https?:\/\//i, message: t('form.urlInvalid') },
                  ]}
                >
                  <Input placeholder="https://example.com/promo" />
                </Form.Item>
              )}
              {values?.clickType === 'open_page' && (
                <Form.Item
                  name="page"
                  label={t('form.page')}
                  rules={[
                    { required: true, whitespace: true, message: t('form.required') },
                    { pattern: ACTIVITY_NAME, message: t('form.pageInvalid') },
                  ]}
                >
                  <Input placeholder="com.example.app.PromoActivity" />
                </Form.Item>
              )}
              <Form.Item
                label={
                  <span>
                    {t('form.params')}{' '}
                    <Tooltip title={t('form.paramsHint')}>
                      <InfoCircleOutlined style={{ color: '#8c8c8c' }} />
                    </Tooltip>
                  </span>
                }
                required={values?.clickType === 'custom'}
              >
                <Form.List
                  name="params"
                  rules={[
                    {
                      validator: async (_, rows: ParamRow[]) => {
                        const keys = (rows ?? []).map((r) => r?.key?.trim()).filter(Boolean);
                        if (form.getFieldValue('clickType') === 'custom' && keys.length === 0) {
                          throw new Error(t('form.paramsRequired'));
                        }
                      },
                    },
                  ]}
                >
                  {(fields, { add, remove }, { errors }) => (
                    <>
                      {fields.map((field) => (
                        <Space key={field.key} align="baseline" style={{ display: 'flex' }}>
                          <Form.Item
                            name={[field.name, 'key']}
                            rules={[
                              { required: true, whitespace: true, message: t('form.paramKeyRequired') },
                              { pattern: PARAM_KEY, message: t('form.paramKeyInvalid') },
                              { max: 64, message: t('form.tooLong', { n: 64 }) },
                              {
                                validator: async (_, key: string | undefined) => {
                                  if (key?.startsWith('pb_')) throw new Error(t('form.paramKeyReserved'));
                                  if (platform === 'ios' && ['aps', 'd', 'p'].includes(key ?? '')) {
                                    throw new Error(t('form.paramKeyReservedIos'));
                                  }
                                  const rows = (form.getFieldValue('params') as ParamRow[]) ?? [];
                                  if (key && rows.filter((r) => r?.key?.trim() === key.trim()).length > 1) {
                                    throw new Error(t('form.paramKeyDuplicate'));
                                  }
                                },
                              },
                            ]}
                            style={{ marginBottom: 8 }}
                          >
                            <Input placeholder={t('form.paramKey')} style={{ width: 180 }} />
                          </Form.Item>
                          <Form.Item name={[field.name, 'value']} style={{ marginBottom: 8 }}>
                            <Input placeholder={t('form.paramValue')} style={{ width: 240 }} />
                          </Form.Item>
                          <Button
                            type="text"
                            icon={<DeleteOutlined />}
                            aria-label={t('common.delete')}
                            onClick={() => remove(field.name)}
                          />
                        </Space>
                      ))}
                      <Button
                        type="dashed"
                        icon={<PlusOutlined />}
                        onClick={() => add({ key: '', value: '' })}
                        disabled={fields.length >= 50}
                      >
                        {t('form.addParam')}
                      </Button>
                      <Form.ErrorList errors={[...errors, ...paramErrors]} />
                    </>
                  )}
                </Form.List>
              </Form.Item>
            </Card>

            <Card title={t('form.section.audience')} size="small" style={{ marginBottom: 16 }}>
              {!editing && (
                <Form.Item name="audienceMode">
                  <Radio.Group
                    options={[
                      { value: 'existing', label: t('form.audienceExisting') },
                      { value: 'upload', label: t('form.audienceUpload') },
                    ]}
                  />
                </Form.Item>
              )}
              {values?.audienceMode === 'upload' && !editing ? (
                <Form.Item
                  name="file"
                  valuePropName="fileList"
                  getValueFromEvent={(e: { fileList: UploadFile[] }) => e.fileList.slice(-1)}
                  rules={[{ required: true, message: t('form.fileRequired') }]}
                  extra={t('form.fileHint')}
                >
                  <Upload.Dragger
                    beforeUpload={() => false}
                    maxCount={1}
                    accept=".csv,.txt,text/csv,text/plain"
                  >
                    <p className="ant-upload-drag-icon">
                      <InboxOutlined />
                    </p>
                    <p className="ant-upload-text">{t('form.fileDrop')}</p>
                  </Upload.Dragger>
                </Form.Item>
              ) : (
                <Form.Item
                  name="audienceId"
                  label={t('form.audience')}
                  rules={[{ required: true, message: t('form.audienceRequired') }]}
                  extra={
                    <span>
                      {t('form.audienceHint')}{' '}
                      <Link to={`/w/${encodeURIComponent(ws.id)}/audiences`}>
                        {t('form.manageAudiences')}
                      </Link>
                    </span>
                  }
                >
                  <Select
                    showSearch={{ optionFilterProp: 'search' }}
                    placeholder={t('form.audiencePlaceholder')}
                    loading={audiences.isPending}
                    options={[
                      ...(audiences.data?.items ?? []).map((a) => ({
                        value: a.id,
                        search: a.name,
                        label: `${a.name} · ${t('form.audienceSize', { n: formatCount(a.size) })}`,
                      })),
                      // An audience deleted since the task was made still shows by its ID.
                      ...(task && !audiences.data?.items.some((a) => a.id === task.audienceId)
                        ? [
                            {
                              value: task.audienceId,
                              search: '',
                              label: task.audienceName ?? task.audienceId,
                            },
                          ]
                        : []),
                    ]}
                    data-testid="audience-select"
                  />
                </Form.Item>
              )}
            </Card>

            <Card title={t('form.section.sending')} size="small" style={{ marginBottom: 16 }}>
              <Form.Item name="sendType" label={t('form.sendType')}>
                <Radio.Group
                  options={[
                    { value: 'immediate', label: t('sendType.immediate') },
                    { value: 'scheduled', label: t('sendType.scheduled') },
                  ]}
                />
              </Form.Item>
              {values?.sendType === 'scheduled' && (
                <Form.Item
                  name="scheduledAt"
                  label={t('form.scheduledAt')}
                  rules={[
                    { required: true, message: t('form.scheduledAtRequired') },
                    {
                      validator: async (_, at: Dayjs | undefined) => {
                        if (at && !at.isAfter(dayjs())) throw new Error(t('form.scheduledAtPast'));
                      },
                    },
                  ]}
                  extra={t('form.scheduledAtHint', {
                    zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
                  })}
                >
                  <DatePicker
                    showTime={{ format: 'HH:mm' }}
                    format="YYYY-MM-DD HH:mm"
                    disabledDate={(d) => d.isBefore(dayjs().startOf('day'))}
                    style={{ width: 240 }}
                  />
                </Form.Item>
              )}
              <Form.Item name="category" label={t('form.category')} extra={t('form.categoryHint')}>
                <Radio.Group
                  options={[
                    { value: 'marketing', label: t('category.marketing') },
                    { value: 'service', label: t('category.service') },
                  ]}
                />
              </Form.Item>
              <Form.Item
                label={t('form.ttl')}
                required
                extra={t('form.ttlHint', { days: maxTtlSeconds / 86_400 })}
              >
                <Space.Compact>
                  <Form.Item
                    name="ttlAmount"
                    noStyle
                    rules={[
                      { required: true, message: t('form.required') },
                      {
                        validator: async (_, amount: number | null) => {
                          if (amount === null || amount === undefined) return;
                          const unit = (form.getFieldValue('ttlUnit') as TtlUnit | undefined) ?? 'days';
                          const seconds = amount * TTL_UNITS[unit];
                          if (seconds < 60) throw new Error(t('form.ttlTooShort'));
                          if (seconds > maxTtlSeconds) {
                            throw new Error(t('form.ttlTooLong', { days: maxTtlSeconds / 86_400 }));
                          }
                        },
                      },
                    ]}
                  >
                    <InputNumber min={1} precision={0} style={{ width: 120 }} data-testid="ttl-amount" />
                  </Form.Item>
                  <Form.Item name="ttlUnit" noStyle>
                    <Select
                      data-testid="ttl-unit"
                      style={{ width: 120 }}
                      options={(['minutes', 'hours', 'days'] as const).map((unit) => ({
                        value: unit,
                        label: t(`ttlUnit.${unit}`),
                      }))}
                      onChange={() => void form.validateFields(['ttlAmount']).catch(() => undefined)}
                    />
                  </Form.Item>
                </Space.Compact>
              </Form.Item>
              <Form.Item
                name="subCampaignIds"
                label={t('form.subCampaigns')}
                extra={
                  <span>
                    {t('form.subCampaignsHint')}{' '}
                    <Link to={`/w/${encodeURIComponent(ws.id)}/campaigns`}>{t('form.manageCampaigns')}</Link>
                  </span>
                }
              >
                <TreeSelect
                  treeData={treeData}
                  treeCheckable
                  showCheckedStrategy={TreeSelect.SHOW_CHILD}
                  treeDefaultExpandAll
                  placeholder={t('form.subCampaignsPlaceholder')}
                  loading={subCampaignTree.isPending}
                  notFoundContent={t('form.noSubCampaigns')}
                  showSearch={{ treeNodeFilterProp: 'title' }}
                  maxTagCount={6}
                  data-testid="sub-campaign-select"
                />
              </Form.Item>
            </Card>

            <UploadProgress fraction={progress} fileName={values?.file?.[0]?.name} />
            <Space>
              <Button type="primary" htmlType="submit" loading={submitting} disabled={!ws.canWrite}>
                {editing ? t('form.save') : t('form.submit')}
              </Button>
              <Button onClick={() => navigate(editing ? `${tasksPath}/${task.id}` : tasksPath)}>
                {t('common.cancel')}
              </Button>
            </Space>
          </Form>
        </Col>
        <Col flex="340px" style={{ position: 'sticky', top: 24 }}>
          <Card
            size="small"
            title={t('preview.title')}
            extra={
              app ? (
                <span>
                  <PlatformIcon platform={app.platform} /> {t(`platform.${app.platform}`)}
                </span>
              ) : (
                <Segmented<Platform>
                  size="small"
                  value={previewPlatform}
                  onChange={setPreviewPlatform}
                  options={[
                    { value: 'android', label: t('platform.android') },
                    { value: 'ios', label: t('platform.ios') },
                  ]}
                />
              )
            }
          >
            <PhonePreview
              platform={platform}
              appName={app?.name ?? t('preview.appName')}
              title={values?.title ?? ''}
              content={values?.content ?? ''}
              clickAction={clickAction}
            />
          </Card>
        </Col>
      </Row>
    </Space>
  );
}
