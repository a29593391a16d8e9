/**
 * Create or edit a push task (docs/tasks.md#content-and-options): name, app, title and content with a live phone preview,
 * click action and custom parameters, an audience (picked, or an ID file uploaded at creation),
 * send type and time, and the sub-campaigns it serves. The server checks the task as a whole and
 * every problem it finds is shown next to its field. The cards are in `Task*Section.tsx`, the
 * values and their mapping to the API in `task-form-values.ts`, saving in `task-submit.ts`.
 */

import { useQuery } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Col,
  Form,
  Input,
  Result,
  Row,
  Segmented,
  Select,
  Skeleton,
  Space,
  Typography,
} from 'antd';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { api } from '../../api/client.ts';
import { errorMessage } from '../../api/http.ts';
import { type ClickActionType, MAX_TTL_SECONDS, type Platform, type Task } from '../../api/types.ts';
import { PlatformIcon } from '../../components/PlatformIcon.tsx';
import { usePageTitle } from '../../components/page-title.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { UploadProgress } from '../../components/UploadProgress.tsx';
import { formatCount } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { PhonePreview } from './PhonePreview.tsx';
import { TaskAudienceSection } from './TaskAudienceSection.tsx';
import { TaskContentSection } from './TaskContentSection.tsx';
import { DUPLICATE_PARAM } from './TaskControls.tsx';
import { TaskSendingSection } from './TaskSendingSection.tsx';
import { FormTestPushButton } from './TestPushDialog.tsx';
import {
  ANDROID_ONLY,
  clickActionOf,
  duplicateValues,
  initialValues,
  type TaskFormValues,
} from './task-form-values.ts';
import { useTaskSubmit } from './task-submit.ts';
import { useUnsavedGuard } from './unsaved-guard.ts';

/**
 * Enter in a field (confirming a date, picking an option) must not create the task: only the
 * submit button does, on a form this long.
 */
function preventEnterSubmit(event: React.KeyboardEvent<HTMLFormElement>) {
  const target = event.target as HTMLElement;
  if (event.key === 'Enter' && target.tagName === 'INPUT') event.preventDefault();
}

/** The page at `tasks/new` and `tasks/:taskId/edit`: the task form, or why a task that has started cannot be edited. */
export function TaskFormPage() {
  const { taskId } = useParams();
  const { t } = useI18n();
  usePageTitle(taskId === undefined ? t('form.createTitle') : t('common.edit'), t('nav.normalTasks'));
  const ws = useCurrentWorkspace();
  const [search] = useSearchParams();
  // A duplicate reads the task it copies; an edit the task itself.
  const sourceId = taskId ?? search.get(DUPLICATE_PARAM) ?? undefined;
  const task = useQuery({
    queryKey: ['ws', ws.id, 'task', sourceId],
    queryFn: () => api.tasks.get(ws.id, sourceId!),
    enabled: sourceId !== undefined,
  });
  if (taskId === undefined && sourceId !== undefined) {
    if (task.isPending) return <Skeleton active paragraph={{ rows: 12 }} />;
    if (task.isError) return <QueryError error={task.error} onRetry={() => task.refetch()} />;
    return <TaskForm key={`copy-${task.data.id}`} copyOf={task.data} />;
  }
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

/** The form: a new task (a copy of `copyOf` when duplicating), or `task` being edited. */
function TaskForm({ task, copyOf }: { task?: Task; copyOf?: Task }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const navigate = useNavigate();
  const { message, modal } = AntApp.useApp();
  const [form] = Form.useForm<TaskFormValues>();
  const { submit, submitting, progress, formErrors, paramErrors } = useTaskSubmit(form, task);
  const [previewPlatform, setPreviewPlatform] = useState<Platform>('android');
  /** The Android-only click action an iOS app made the form set aside; it comes back on an Android app. */
  const [setAside, setSetAside] = useState<ClickActionType | null>(null);
  const [checkingMatch, setCheckingMatch] = useState(false);
  const editing = task !== undefined;
  const tasksPath = `/w/${encodeURIComponent(ws.id)}/tasks`;

  const apps = useQuery({ queryKey: ['ws', ws.id, 'apps'], queryFn: () => api.apps.list(ws.id) });

  const values = Form.useWatch([], form) as Partial<TaskFormValues> | undefined;
  // Re-evaluated on every change, since watching the values re-renders the form.
  useUnsavedGuard(form.isFieldsTouched() && !submitting);
  const app = apps.data?.items.find((a) => a.id === values?.appId);
  const platform: Platform = app?.platform ?? previewPlatform;
  const clickAction = clickActionOf(values ?? {});
  // The provider's longest time to live; before an app is picked, the most any provider takes.
  const maxTtlSeconds = MAX_TTL_SECONDS[app?.provider ?? 'fcm'];

  // An iOS app has no URL or page action: the task opens the app instead, said so above the content;
  // the URL or page stays in the form and its action comes back when an Android app is picked.
  useEffect(() => {
    if (app?.platform === 'ios' && values?.clickType && ANDROID_ONLY.includes(values.clickType)) {
      setSetAside(values.clickType);
      form.setFieldValue('clickType', 'open_app');
    } else if (app?.platform === 'android' && setAside !== null) {
      if (values?.clickType === 'open_app') form.setFieldValue('clickType', setAside);
      setSetAside(null);
    } else if (setAside !== null && values?.clickType === 'custom') {
      // Picking another click action by hand settles the question.
      setSetAside(null);
    }
  }, [app?.platform, values?.clickType, setAside, form]);

  /**
   * An immediate send goes out on one click: ask first, with how many of the audience the app's
   * push tokens match now (counted by the server), since the rest are lost to matching.
   */
  const confirmThenSubmit = async (v: TaskFormValues) => {
    if (v.sendType !== 'immediate') return submit(v);
    const appName = apps.data?.items.find((a) => a.id === v.appId)?.name ?? '';
    let match: string;
    if (v.audienceMode === 'upload' && !editing) {
      match = t('form.confirmSendUpload', { file: v.file?.[0]?.name ?? '' });
    } else {
      setCheckingMatch(true);
      try {
        const m = await api.audiences.match(ws.id, v.audienceId!, v.appId!);
        match = t('form.confirmSendMatch', {
          matched: formatCount(m.matched),
          size: formatCount(m.size),
        });
        if (m.matched < m.size) {
          match += ` ${t('form.confirmSendUnmatched', { n: formatCount(m.size - m.matched) })}`;
        }
      } catch (error) {
        // The send itself is the server's decision; the count is only advice.
        match = t('form.confirmSendNoMatch', { reason: errorMessage(error) });
      } finally {
        setCheckingMatch(false);
      }
    }
    modal.confirm({
      title: t('form.confirmSendTitle', { app: appName }),
      content: <span data-testid="send-confirm-match">{match}</span>,
      okText: t('form.confirmSendOk'),
      cancelText: t('common.cancel'),
      onOk: () => submit(v),
    });
  };

  if (apps.isError) return <QueryError error={apps.error} onRetry={() => apps.refetch()} />;

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <div>
        <Link to={tasksPath}>← {t('nav.normalTasks')}</Link>
        <Typography.Title level={4} style={{ margin: '8px 0 0' }}>
          {editing
            ? t('form.editTitle', { name: task.name })
            : copyOf
              ? t('duplicate.title', { name: copyOf.name })
              : t('form.createTitle')}
        </Typography.Title>
      </div>
      {copyOf && (
        <Alert
          type="info"
          showIcon
          title={t('duplicate.note', { name: copyOf.name })}
          description={copyOf.audienceName === null ? t('duplicate.audienceDeleted') : undefined}
          data-testid="duplicate-note"
        />
      )}
      <Row gutter={24} wrap={false} style={{ alignItems: 'flex-start' }}>
        <Col flex="auto" style={{ minWidth: 0 }}>
          <Form<TaskFormValues>
            form={form}
            layout="vertical"
            initialValues={
              copyOf
                ? duplicateValues(copyOf, t('duplicate.name', { name: copyOf.name }))
                : initialValues(task)
            }
            onFinish={confirmThenSubmit}
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

            {setAside !== null && (
              <Alert
                type="warning"
                showIcon
                role="status"
                title={t('form.clickSetAside', {
                  action: t(`click.${setAside}`),
                  // From the store: the URL's field is unmounted, so the watched values lack it.
                  value: (form.getFieldValue(setAside === 'open_url' ? 'url' : 'page') as string) || '–',
                })}
                style={{ marginBottom: 16 }}
                data-testid="click-set-aside"
              />
            )}
            <TaskContentSection
              form={form}
              platform={platform}
              values={values}
              clickAction={clickAction}
              paramErrors={paramErrors}
            />
            <TaskAudienceSection task={task} audienceMode={values?.audienceMode} appId={values?.appId} />
            <TaskSendingSection form={form} sendType={values?.sendType} maxTtlSeconds={maxTtlSeconds} />

            <UploadProgress fraction={progress} fileName={values?.file?.[0]?.name} />
            <Space>
              <Button
                type="primary"
                htmlType="submit"
                loading={submitting || checkingMatch}
                disabled={!ws.canWrite}
              >
                {editing ? t('form.save') : t('form.submit')}
              </Button>
              <FormTestPushButton form={form} />
              <Button
                // Guarded like any other way out (useUnsavedGuard).
                onClick={() => navigate(editing ? `${tasksPath}/${task.id}` : tasksPath)}
              >
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
