/**
 * Audiences: the named, frozen sets of device IDs tasks are sent to. Create one from pasted IDs or
 * an uploaded CSV/TXT file (with upload progress), browse its members, and delete it — which the
 * server refuses while a scheduled or sending task uses it, and the page says so.
 */

import { DeleteOutlined, InboxOutlined, PlusOutlined, TeamOutlined } from '@ant-design/icons';
import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Drawer,
  Empty,
  Form,
  Input,
  List,
  Modal,
  Popconfirm,
  Space,
  Table,
  type TableProps,
  Tabs,
  Tag,
  Tooltip,
  Typography,
  Upload,
  type UploadFile,
} from 'antd';
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../api/client.ts';
import { ApiError, errorMessage } from '../../api/http.ts';
import type { Audience, DeviceFilter } from '../../api/types.ts';
import { usePageTitle } from '../../components/page-title.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { UploadProgress } from '../../components/UploadProgress.tsx';
import { utcOffsetLabel } from '../../i18n/date-time.ts';
import { formatCount, formatDateTime } from '../../i18n/format.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';

const PAGE_SIZE = 20;
const MEMBERS_PAGE = 200;

/** The device-result filter an audience was generated from, in words. */
function describeFilter(filter: DeviceFilter, t: Translate): string {
  const parts = [
    filter.sendResult && t(`sendResult.${filter.sendResult}`),
    filter.receipt && t('devices.with', { receipt: t(`receipt.${filter.receipt}`) }),
    filter.without && t('devices.without', { receipt: t(`receipt.${filter.without}`) }),
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' · ') : t('devices.allDevices');
}

/** Device IDs pasted as lines, commas or spaces, without blanks and duplicates. */
function parseIds(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,;]+/)
        .map((id) => id.trim())
        .filter(Boolean),
    ),
  ];
}

export function AudiencesPage() {
  const { t } = useI18n();
  usePageTitle(t('nav.audiences'));
  const ws = useCurrentWorkspace();
  const { message, modal } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [q, setQ] = useState('');
  const [creating, setCreating] = useState(false);
  const [members, setMembers] = useState<Audience | null>(null);

  const audiences = useQuery({
    queryKey: ['ws', ws.id, 'audiences', { page, q }],
    queryFn: () => api.audiences.list(ws.id, page, PAGE_SIZE, q || undefined),
    placeholderData: keepPreviousData,
  });
  const remove = useMutation({
    mutationFn: (audience: Audience) => api.audiences.remove(ws.id, audience.id),
    onSuccess: (_, audience) => {
      message.success(t('audiences.deleted', { name: audience.name }));
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'audiences'] });
    },
    onError: (error) => {
      modal.error({
        title: t('audiences.notDeleted'),
        content:
          error instanceof ApiError && error.code === 'AUDIENCE_IN_USE' ? error.message : errorMessage(error),
      });
    },
  });

  const columns: TableProps<Audience>['columns'] = [
    {
      title: t('common.name'),
      key: 'name',
      render: (_, a) => (
        <div>
          <div style={{ fontWeight: 500 }}>{a.name}</div>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {a.id}
          </Typography.Text>
        </div>
      ),
    },
    { title: t('audiences.size'), key: 'size', align: 'right', render: (_, a) => formatCount(a.size) },
    {
      title: t('audiences.source'),
      key: 'source',
      render: (_, a) => (
        <Space orientation="vertical" size={0}>
          <Tag color={a.source === 'task_result' ? 'purple' : a.source === 'upload' ? 'blue' : 'default'}>
            {t(`audienceSource.${a.source}`)}
          </Tag>
          {a.fileName && (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {a.fileName}
            </Typography.Text>
          )}
          {a.sourceTaskId && (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              <Link to={`/w/${encodeURIComponent(ws.id)}/tasks/${a.sourceTaskId}`}>
                {t('audiences.sourceTask')}
              </Link>
              {a.sourceFilter && ` · ${describeFilter(a.sourceFilter, t)}`}
            </Typography.Text>
          )}
        </Space>
      ),
    },
    {
      title: t('audiences.usedBy'),
      key: 'usedBy',
      render: (_, a) =>
        a.usedByTasks === 0 ? (
          <Typography.Text type="secondary">{t('audiences.unused')}</Typography.Text>
        ) : (
          <Space size={4} wrap>
            {t('audiences.usedByTasks', { n: a.usedByTasks })}
            {a.activeTasks > 0 && (
              <Tag color="orange">{t('audiences.activeTasks', { n: a.activeTasks })}</Tag>
            )}
          </Space>
        ),
    },
    {
      title: t('time.columnIn', { label: t('common.createdAt'), zone: utcOffsetLabel() }),
      key: 'createdAt',
      render: (_, a) => formatDateTime(a.createdAt),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      width: 210,
      render: (_, a) => (
        <Space size={0}>
          <Button type="link" size="small" icon={<TeamOutlined />} onClick={() => setMembers(a)}>
            {t('audiences.members')}
          </Button>
          <Tooltip
            title={
              !ws.canWrite
                ? t('common.readOnly')
                : a.activeTasks > 0
                  ? t('audiences.inUse', { n: a.activeTasks })
                  : null
            }
          >
            <Popconfirm
              title={t('audiences.deleteConfirm', { name: a.name })}
              okText={t('common.delete')}
              okButtonProps={{ danger: true }}
              cancelText={t('common.cancel')}
              onConfirm={() => remove.mutateAsync(a).catch(() => {})}
              disabled={!ws.canWrite}
            >
              <Button type="link" size="small" danger icon={<DeleteOutlined />} disabled={!ws.canWrite}>
                {t('common.delete')}
              </Button>
            </Popconfirm>
          </Tooltip>
        </Space>
      ),
    },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('nav.audiences')}
        </Typography.Title>
        <Button
          type="primary"
          icon={<PlusOutlined />}
          onClick={() => setCreating(true)}
          disabled={!ws.canWrite}
        >
          {t('audiences.create')}
        </Button>
      </div>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('audiences.intro')}
      </Typography.Paragraph>
      <Card size="small">
        <Input.Search
          allowClear
          placeholder={t('audiences.search')}
          onSearch={(value) => {
            setQ(value.trim());
            setPage(1);
          }}
          style={{ width: 260 }}
        />
      </Card>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        {audiences.isError ? (
          <QueryError error={audiences.error} onRetry={() => audiences.refetch()} />
        ) : (
          <Table<Audience>
            rowKey="id"
            columns={columns}
            dataSource={audiences.data?.items}
            loading={audiences.isPending}
            data-testid="audience-table"
            locale={{
              emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('audiences.empty')} />,
            }}
            pagination={{
              current: page,
              pageSize: PAGE_SIZE,
              total: audiences.data?.total ?? 0,
              onChange: setPage,
              showTotal: (total) => t('common.totalItems', { n: formatCount(total) }),
              style: { paddingInline: 16 },
            }}
          />
        )}
      </Card>
      {/* Mounted only while open: a cancelled dialog's name, IDs or error never greet the next one. */}
      {creating && <CreateAudienceModal open onClose={() => setCreating(false)} />}
      <MembersDrawer audience={members} onClose={() => setMembers(null)} />
    </Space>
  );
}

interface CreateValues {
  name: string;
  ids?: string;
  file?: UploadFile[];
}

function CreateAudienceModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<CreateValues>();
  const [mode, setMode] = useState<'ids' | 'file'>('ids');
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pasted = Form.useWatch('ids', form) ?? '';
  const count = parseIds(pasted).length;

  const submit = async (values: CreateValues) => {
    setBusy(true);
    setError(null);
    try {
      let audience: Audience;
      if (mode === 'file') {
        const file = values.file?.[0]?.originFileObj;
        if (!file) throw new Error(t('form.fileRequired'));
        setProgress(0);
        audience = await api.audiences.upload(ws.id, values.name.trim(), file, setProgress);
      } else {
        audience = await api.audiences.createFromIds(ws.id, values.name.trim(), parseIds(values.ids ?? ''));
      }
      message.success(t('audiences.created', { name: audience.name, n: formatCount(audience.size) }));
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'audiences'] });
      form.resetFields();
      onClose();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CSV_INVALID') {
        const lines = err.csvLineErrors
          .slice(0, 5)
          .map((e) => t('audiences.badLine', { line: e.line, message: e.message }));
        setError([err.message, ...lines].join('\n'));
      } else {
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  return (
    <Modal
      title={t('audiences.create')}
      open={open}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t('common.create')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      width={560}
    >
      <Form<CreateValues> form={form} layout="vertical" onFinish={submit}>
        {error && (
          <Alert type="error" showIcon title={error} style={{ marginBottom: 16, whiteSpace: 'pre-line' }} />
        )}
        <Form.Item
          name="name"
          label={t('common.name')}
          rules={[{ required: true, whitespace: true, message: t('form.required') }]}
        >
          <Input maxLength={200} placeholder={t('audiences.namePlaceholder')} />
        </Form.Item>
        <Tabs
          activeKey={mode}
          onChange={(key) => setMode(key as 'ids' | 'file')}
          items={[
            {
              key: 'ids',
              label: t('audiences.fromIds'),
              children: (
                <Form.Item
                  name="ids"
                  extra={t('audiences.idsCount', { n: formatCount(count) })}
                  rules={
                    mode === 'ids'
                      ? [{ required: true, whitespace: true, message: t('audiences.idsRequired') }]
                      : []
                  }
                >
                  <Input.TextArea rows={6} placeholder={t('audiences.idsPlaceholder')} />
                </Form.Item>
              ),
            },
            {
              key: 'file',
              label: t('audiences.fromFile'),
              children: (
                <Form.Item
                  name="file"
                  valuePropName="fileList"
                  getValueFromEvent={(e: { fileList: UploadFile[] }) => e.fileList.slice(-1)}
                  rules={mode === 'file' ? [{ required: true, message: t('form.fileRequired') }] : []}
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
              ),
            },
          ]}
        />
        <UploadProgress fraction={progress} fileName={form.getFieldValue('file')?.[0]?.name} />
      </Form>
    </Modal>
  );
}

function MembersDrawer({ audience, onClose }: { audience: Audience | null; onClose: () => void }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const members = useInfiniteQuery({
    queryKey: ['ws', ws.id, 'audiences', audience?.id, 'members'],
    queryFn: ({ pageParam }) => api.audiences.members(ws.id, audience!.id, pageParam, MEMBERS_PAGE),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    enabled: audience !== null,
  });
  const items = members.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Drawer
      title={audience ? t('audiences.membersOf', { name: audience.name }) : ''}
      open={audience !== null}
      onClose={onClose}
      size={420}
    >
      {members.isError ? (
        <QueryError error={members.error} onRetry={() => members.refetch()} />
      ) : (
        <>
          <Typography.Paragraph type="secondary">
            {t('audiences.membersShown', {
              shown: formatCount(items.length),
              total: formatCount(members.data?.pages[0]?.total ?? audience?.size ?? 0),
            })}
          </Typography.Paragraph>
          <List
            size="small"
            bordered
            loading={members.isPending}
            dataSource={items}
            renderItem={(m) => (
              <List.Item>
                <code>{m.deviceId}</code>
              </List.Item>
            )}
          />
          {members.hasNextPage && (
            <Button
              block
              style={{ marginTop: 12 }}
              onClick={() => members.fetchNextPage()}
              loading={members.isFetchingNextPage}
            >
              {t('common.loadMore')}
            </Button>
          )}
        </>
      )}
    </Drawer>
  );
}
