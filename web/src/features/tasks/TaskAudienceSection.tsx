/**
 * The audience card of the task form: an audience picked from the workspace's, or (only when
 * creating) an ID file uploaded with the task. Once an app is picked, each audience shows how many of
 * its devices have a push token for that app (counted by the server): the rest would be unmatched.
 */
import { InboxOutlined } from '@ant-design/icons';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Card, Form, Radio, Select, Typography, Upload, type UploadFile } from 'antd';
import { Link } from 'react-router';
import { api, MAX_PAGE_SIZE } from '../../api/client.ts';
import type { Task } from '../../api/types.ts';
import { formatCount } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import type { TaskFormValues } from './task-form-values.ts';

/** The task form's audience card; `task` is the task being edited, absent when creating one. */
export function TaskAudienceSection({
  task,
  audienceMode,
  appId,
}: {
  task: Task | undefined;
  /** The app picked so far, whose match each audience shows. */
  appId: string | undefined;
  /** How the audience is given, as currently chosen. */
  audienceMode: TaskFormValues['audienceMode'] | undefined;
}) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const editing = task !== undefined;
  const audiences = useQuery({
    queryKey: ['ws', ws.id, 'audiences', 'picker', appId ?? null],
    queryFn: () =>
      appId === undefined
        ? api.audiences.list(ws.id, 1, MAX_PAGE_SIZE)
        : api.audiences.listMatching(ws.id, appId, MAX_PAGE_SIZE),
    // Another app's counts (or none) stay shown while this app's are counted.
    placeholderData: keepPreviousData,
  });
  const counted = appId !== undefined && !audiences.isPlaceholderData;

  return (
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
      {audienceMode === 'upload' && !editing ? (
        <Form.Item
          name="file"
          valuePropName="fileList"
          getValueFromEvent={(e: { fileList: UploadFile[] }) => e.fileList.slice(-1)}
          rules={[{ required: true, message: t('form.fileRequired') }]}
          extra={t('form.fileHint')}
        >
          <Upload.Dragger beforeUpload={() => false} maxCount={1} accept=".csv,.txt,text/csv,text/plain">
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
              <Link to={`/w/${encodeURIComponent(ws.id)}/audiences`}>{t('form.manageAudiences')}</Link>
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
                label: (
                  <span data-testid={`audience-option-${a.id}`}>
                    {a.name} · {t('form.audienceSize', { n: formatCount(a.size) })}
                    {counted && a.matched !== undefined && (
                      <Typography.Text type={a.matched < a.size ? 'warning' : 'secondary'}>
                        {' · '}
                        {t('form.audienceMatched', { n: formatCount(a.matched) })}
                      </Typography.Text>
                    )}
                  </span>
                ),
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
  );
}
