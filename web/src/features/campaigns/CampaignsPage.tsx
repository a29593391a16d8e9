/**
 * Campaigns and their sub-campaigns, which tasks link to; independent sub-campaigns (with no
 * campaign) are listed under "-", as in the task form. Anything linked to a task cannot be
 * deleted, and the page shows the server's reason.
 */

import { DeleteOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  App as AntApp,
  Button,
  Card,
  Empty,
  Form,
  Input,
  Modal,
  Popconfirm,
  Select,
  Space,
  Table,
  type TableProps,
  Typography,
} from 'antd';
import { useState } from 'react';
import { api } from '../../api/client.ts';
import { errorMessage } from '../../api/http.ts';
import type { Campaign, SubCampaignRef } from '../../api/types.ts';
import { usePageTitle } from '../../components/page-title.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { utcOffsetLabel } from '../../i18n/date-time.ts';
import { formatDateTime } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';

/** What the edit dialog is editing. */
type Editing =
  | { kind: 'campaign'; campaign?: Campaign }
  | { kind: 'subCampaign'; campaignId: string | null; subCampaign?: SubCampaignRef };

interface EditValues {
  name: string;
  description?: string;
  campaignId?: string;
}

const INDEPENDENT = '-';

export function CampaignsPage() {
  const { t } = useI18n();
  usePageTitle(t('nav.campaigns'));
  const ws = useCurrentWorkspace();
  const { message, modal } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<Editing | null>(null);

  const campaigns = useQuery({
    queryKey: ['ws', ws.id, 'campaigns'],
    queryFn: () => api.campaigns.list(ws.id),
  });
  const subCampaigns = useQuery({
    queryKey: ['ws', ws.id, 'sub-campaigns'],
    queryFn: () => api.campaigns.subCampaigns(ws.id),
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'campaigns'] });
    void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'sub-campaigns'] });
  };
  const attempt = async (action: () => Promise<unknown>, done: string) => {
    try {
      await action();
      message.success(done);
      refresh();
    } catch (error) {
      modal.error({ title: t('campaigns.notDone'), content: errorMessage(error) });
    }
  };

  const independent: SubCampaignRef[] = (subCampaigns.data?.items ?? [])
    .filter((s) => s.campaignId === null)
    .map((s) => ({ id: s.id, name: s.name }));

  const subColumns = (campaignId: string | null): TableProps<SubCampaignRef>['columns'] => [
    { title: t('campaigns.subCampaign'), dataIndex: 'name', key: 'name' },
    {
      title: t('common.actions'),
      key: 'actions',
      width: 200,
      render: (_, s) => (
        <Space size={0}>
          <Button
            type="link"
            size="small"
            icon={<EditOutlined />}
            disabled={!ws.canWrite}
            onClick={() => setEditing({ kind: 'subCampaign', campaignId, subCampaign: s })}
          >
            {t('common.edit')}
          </Button>
          <Popconfirm
            title={t('campaigns.deleteSubConfirm', { name: s.name })}
            okText={t('common.delete')}
            okButtonProps={{ danger: true }}
            cancelText={t('common.cancel')}
            disabled={!ws.canWrite}
            onConfirm={() =>
              attempt(
                () => api.campaigns.removeSubCampaign(ws.id, s.id),
                t('campaigns.deleted', { name: s.name }),
              )
            }
          >
            <Button type="link" size="small" danger icon={<DeleteOutlined />} disabled={!ws.canWrite}>
              {t('common.delete')}
            </Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];

  const subTable = (campaignId: string | null, rows: SubCampaignRef[]) => (
    <Table<SubCampaignRef>
      rowKey="id"
      size="small"
      columns={subColumns(campaignId)}
      dataSource={rows}
      pagination={false}
      locale={{ emptyText: t('campaigns.noSubCampaigns') }}
      footer={() => (
        <Button
          size="small"
          type="dashed"
          icon={<PlusOutlined />}
          disabled={!ws.canWrite}
          onClick={() => setEditing({ kind: 'subCampaign', campaignId })}
        >
          {t('campaigns.addSubCampaign')}
        </Button>
      )}
    />
  );

  const columns: TableProps<Campaign>['columns'] = [
    {
      title: t('campaigns.campaign'),
      key: 'name',
      render: (_, c) => (
        <div>
          <div style={{ fontWeight: 500 }}>{c.name}</div>
          {c.description && (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {c.description}
            </Typography.Text>
          )}
        </div>
      ),
    },
    {
      title: t('campaigns.subCampaigns'),
      key: 'subs',
      render: (_, c) => t('tasks.subCampaignCount', { n: c.subCampaigns.length }),
    },
    {
      title: t('time.columnIn', { label: t('common.createdAt'), zone: utcOffsetLabel() }),
      key: 'createdAt',
      render: (_, c) => formatDateTime(c.createdAt),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      width: 200,
      render: (_, c) => (
        <Space size={0}>
          <Button
            type="link"
            size="small"
            icon={<EditOutlined />}
            disabled={!ws.canWrite}
            onClick={() => setEditing({ kind: 'campaign', campaign: c })}
          >
            {t('common.edit')}
          </Button>
          <Popconfirm
            title={t('campaigns.deleteConfirm', { name: c.name })}
            description={t('campaigns.deleteHint')}
            okText={t('common.delete')}
            okButtonProps={{ danger: true }}
            cancelText={t('common.cancel')}
            disabled={!ws.canWrite}
            onConfirm={() =>
              attempt(() => api.campaigns.remove(ws.id, c.id), t('campaigns.deleted', { name: c.name }))
            }
          >
            <Button type="link" size="small" danger icon={<DeleteOutlined />} disabled={!ws.canWrite}>
              {t('common.delete')}
            </Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];

  if (campaigns.isError) return <QueryError error={campaigns.error} onRetry={() => campaigns.refetch()} />;

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('nav.campaigns')}
        </Typography.Title>
        <Button
          type="primary"
          icon={<PlusOutlined />}
          disabled={!ws.canWrite}
          onClick={() => setEditing({ kind: 'campaign' })}
        >
          {t('campaigns.create')}
        </Button>
      </div>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('campaigns.intro')}
      </Typography.Paragraph>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        <Table<Campaign>
          rowKey="id"
          columns={columns}
          dataSource={campaigns.data?.items}
          loading={campaigns.isPending}
          pagination={false}
          expandable={{ expandedRowRender: (c) => subTable(c.id, c.subCampaigns) }}
          locale={{
            emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('campaigns.empty')} />,
          }}
          data-testid="campaign-table"
        />
      </Card>
      <Card size="small" title={t('campaigns.independent')} loading={subCampaigns.isPending}>
        <Typography.Paragraph type="secondary">{t('campaigns.independentHint')}</Typography.Paragraph>
        {subTable(null, independent)}
      </Card>
      {/* Mounted only while open: each opening gets a new form, so no value of an earlier dialog
          (another campaign's name, the campaign a sub-campaign was added to) carries over. */}
      {editing && (
        <EditModal
          editing={editing}
          campaigns={campaigns.data?.items ?? []}
          onClose={(done) => {
            setEditing(null);
            if (done) refresh();
          }}
        />
      )}
    </Space>
  );
}

function EditModal({
  editing,
  campaigns,
  onClose,
}: {
  editing: Editing;
  campaigns: Campaign[];
  onClose: (done: boolean) => void;
}) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const [form] = Form.useForm<EditValues>();
  const [busy, setBusy] = useState(false);
  const isCampaign = editing.kind === 'campaign';
  const existing = editing.kind === 'campaign' ? editing.campaign : editing.subCampaign;
  const title = isCampaign
    ? existing
      ? t('campaigns.editCampaign')
      : t('campaigns.create')
    : existing
      ? t('campaigns.editSubCampaign')
      : t('campaigns.addSubCampaign');

  const submit = async (v: EditValues) => {
    setBusy(true);
    try {
      const name = v.name.trim();
      if (editing.kind === 'campaign') {
        const description = v.description?.trim() ?? '';
        if (editing.campaign) await api.campaigns.update(ws.id, editing.campaign.id, { name, description });
        else await api.campaigns.create(ws.id, name, description);
      } else {
        const campaignId = v.campaignId === INDEPENDENT || v.campaignId === undefined ? null : v.campaignId;
        if (editing.subCampaign)
          await api.campaigns.updateSubCampaign(ws.id, editing.subCampaign.id, { name, campaignId });
        else await api.campaigns.createSubCampaign(ws.id, name, campaignId);
      }
      message.success(t('campaigns.saved', { name }));
      onClose(true);
    } catch (error) {
      message.error(errorMessage(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={title}
      open
      onCancel={() => onClose(false)}
      onOk={() => form.submit()}
      okText={t('common.save')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      destroyOnHidden
    >
      <Form<EditValues>
        form={form}
        layout="vertical"
        onFinish={submit}
        initialValues={{
          name: existing?.name ?? '',
          description: editing.kind === 'campaign' ? editing.campaign?.description : undefined,
          campaignId: editing.kind === 'subCampaign' ? (editing.campaignId ?? INDEPENDENT) : undefined,
        }}
      >
        <Form.Item
          name="name"
          label={t('common.name')}
          rules={[{ required: true, whitespace: true, message: t('form.required') }]}
        >
          <Input maxLength={200} autoFocus />
        </Form.Item>
        {isCampaign ? (
          <Form.Item name="description" label={t('campaigns.description')}>
            <Input.TextArea rows={3} maxLength={2000} />
          </Form.Item>
        ) : (
          <Form.Item name="campaignId" label={t('campaigns.campaign')}>
            <Select
              options={[
                { value: INDEPENDENT, label: t('form.independentSubCampaigns') },
                ...campaigns.map((c) => ({ value: c.id, label: c.name })),
              ]}
            />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}
