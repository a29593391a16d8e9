/**
 * Apps: one mobile app on one platform, with the provider it sends through and that provider's
 * configuration. Creating an app (or rotating its secrets) shows the receipt secret and the SDK
 * credentials once. Each app's registered devices can be browsed and imported from a CSV file,
 * with upload progress.
 */
import { DeleteOutlined, InboxOutlined, KeyOutlined, MobileOutlined, PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Col,
  Drawer,
  Empty,
  Form,
  Input,
  InputNumber,
  Modal,
  Popconfirm,
  Radio,
  Row,
  Space,
  Switch,
  Table,
  type TableProps,
  Tag,
  Typography,
  Upload,
  type UploadFile,
} from 'antd';
import { useState } from 'react';
import { api } from '../../api/client.ts';
import { ApiError, errorMessage } from '../../api/http.ts';
import type { App, AppCreate, Device, Platform, ProviderName } from '../../api/types.ts';
import { applyFieldErrors } from '../../components/form-errors.ts';
import { PlatformIcon } from '../../components/PlatformIcon.tsx';
import { QueryError } from '../../components/QueryError.tsx';
import { type Secret, ShownOnce } from '../../components/ShownOnce.tsx';
import { UploadProgress } from '../../components/UploadProgress.tsx';
import { formatCount, formatDateTime } from '../../i18n/format.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';

const RATES = ['acceptRate', 'deliveryRate', 'impressionRate', 'openRate', 'dismissalRate'] as const;

function secretsOf(app: App, t: Translate): Secret[] {
  return [
    { label: t('apps.receiptSecret'), value: app.receiptSecret },
    { label: t('apps.sdkKey'), value: app.sdkKey },
    { label: t('apps.sdkSecret'), value: app.sdkSecret },
  ];
}

export function AppsPage() {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message, modal } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [secrets, setSecrets] = useState<{ title: string; secrets: Secret[] } | null>(null);
  const [devicesOf, setDevicesOf] = useState<App | null>(null);

  const apps = useQuery({ queryKey: ['ws', ws.id, 'apps'], queryFn: () => api.apps.list(ws.id) });
  const invalidate = () => queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'apps'] });
  const remove = useMutation({
    mutationFn: (app: App) => api.apps.remove(ws.id, app.id),
    onSuccess: (_, app) => {
      message.success(t('apps.deleted', { name: app.name }));
      void invalidate();
    },
    onError: (error) => modal.error({ title: t('apps.notDeleted'), content: errorMessage(error) }),
  });
  const rotate = useMutation({
    mutationFn: (app: App) => api.apps.rotateSecrets(ws.id, app.id),
    onSuccess: (app) =>
      setSecrets({ title: t('apps.newSecretsOf', { name: app.name }), secrets: secretsOf(app, t) }),
    onError: (error) => message.error(errorMessage(error)),
  });

  const columns: TableProps<App>['columns'] = [
    {
      title: t('common.name'),
      key: 'name',
      render: (_, a) => (
        <div>
          <div style={{ fontWeight: 500 }}>
            <PlatformIcon platform={a.platform} /> {a.name}
          </div>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {a.id}
          </Typography.Text>
        </div>
      ),
    },
    { title: t('apps.platform'), key: 'platform', render: (_, a) => t(`platform.${a.platform}`) },
    {
      title: t('apps.provider'),
      key: 'provider',
      render: (_, a) => (
        <Space orientation="vertical" size={0}>
          <Tag color={a.provider === 'umeng' ? 'orange' : 'cyan'}>{t(`provider.${a.provider}`)}</Tag>
          {a.provider === 'umeng' && 'appKey' in a.providerConfig && (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              appKey {a.providerConfig.appKey}
            </Typography.Text>
          )}
        </Space>
      ),
    },
    {
      title: t('apps.devices'),
      key: 'devices',
      align: 'right',
      render: (_, a) => formatCount(a.devices),
    },
    { title: t('common.createdAt'), key: 'createdAt', render: (_, a) => formatDateTime(a.createdAt) },
    {
      title: t('common.actions'),
      key: 'actions',
      width: 330,
      render: (_, a) => (
        <Space size={0}>
          <Button type="link" size="small" icon={<MobileOutlined />} onClick={() => setDevicesOf(a)}>
            {t('apps.devices')}
          </Button>
          <Popconfirm
            title={t('apps.rotateConfirm')}
            description={t('apps.rotateHint')}
            okText={t('apps.rotate')}
            cancelText={t('common.cancel')}
            onConfirm={() => rotate.mutateAsync(a).catch(() => {})}
            disabled={!ws.canWrite}
          >
            <Button type="link" size="small" icon={<KeyOutlined />} disabled={!ws.canWrite}>
              {t('apps.rotate')}
            </Button>
          </Popconfirm>
          <Popconfirm
            title={t('apps.deleteConfirm', { name: a.name })}
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
        </Space>
      ),
    },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('nav.apps')}
        </Typography.Title>
        <Button
          type="primary"
          icon={<PlusOutlined />}
          onClick={() => setCreating(true)}
          disabled={!ws.canWrite}
        >
          {t('apps.create')}
        </Button>
      </div>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('apps.intro')}
      </Typography.Paragraph>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        {apps.isError ? (
          <QueryError error={apps.error} onRetry={() => apps.refetch()} />
        ) : (
          <Table<App>
            rowKey="id"
            columns={columns}
            dataSource={apps.data?.items}
            loading={apps.isPending}
            pagination={false}
            data-testid="app-table"
            locale={{
              emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('apps.empty')} />,
            }}
          />
        )}
      </Card>
      <CreateAppModal
        open={creating}
        onClose={(created) => {
          setCreating(false);
          if (created)
            setSecrets({
              title: t('apps.secretsOf', { name: created.name }),
              secrets: secretsOf(created, t),
            });
        }}
      />
      <ShownOnce
        title={secrets?.title ?? ''}
        secrets={secrets?.secrets ?? null}
        onClose={() => setSecrets(null)}
      />
      <DevicesDrawer app={devicesOf} onClose={() => setDevicesOf(null)} />
    </Space>
  );
}

interface AppValues {
  name: string;
  platform: Platform;
  provider: ProviderName;
  appKey?: string;
  appMasterSecret?: string;
  baseUrl?: string;
  productionMode?: boolean;
  seed?: number | null;
  acceptRate?: number | null;
  deliveryRate?: number | null;
  impressionRate?: number | null;
  openRate?: number | null;
  dismissalRate?: number | null;
  timeScale?: number | null;
}

/** The provider config the form describes; empty simulator fields fall back to its defaults. */
function providerConfigOf(v: AppValues): AppCreate['providerConfig'] {
  if (v.provider === 'umeng') {
    return {
      appKey: v.appKey?.trim() ?? '',
      appMasterSecret: v.appMasterSecret?.trim() ?? '',
      ...(v.baseUrl?.trim() && { baseUrl: v.baseUrl.trim() }),
      productionMode: v.productionMode ?? true,
    };
  }
  const config: Record<string, number> = {};
  for (const key of [...RATES, 'seed', 'timeScale'] as const) {
    const value = v[key];
    if (typeof value === 'number') config[key] = value;
  }
  return config;
}

function CreateAppModal({ open, onClose }: { open: boolean; onClose: (created: App | null) => void }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<AppValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const provider = Form.useWatch('provider', form) ?? 'simulator';

  const submit = async (v: AppValues) => {
    setBusy(true);
    setError(null);
    try {
      const app = await api.apps.create(ws.id, {
        name: v.name.trim(),
        platform: v.platform,
        provider: v.provider,
        providerConfig: providerConfigOf(v),
      });
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'apps'] });
      form.resetFields();
      onClose(app);
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length > 0) {
        const rest = applyFieldErrors(form, err.fieldErrors, (path) => {
          const last = path.split('.').pop() ?? '';
          return last in form.getFieldsValue(true) || ['name', 'platform', 'provider'].includes(last)
            ? [last]
            : null;
        });
        setError(rest.length > 0 ? rest.join('\n') : null);
      } else {
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('apps.create')}
      open={open}
      onCancel={() => onClose(null)}
      onOk={() => form.submit()}
      okText={t('common.create')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      width={620}
    >
      <Form<AppValues>
        form={form}
        layout="vertical"
        onFinish={submit}
        initialValues={{ platform: 'android', provider: 'simulator', productionMode: true }}
      >
        {error && (
          <Alert type="error" showIcon title={error} style={{ marginBottom: 16, whiteSpace: 'pre-line' }} />
        )}
        <Form.Item
          name="name"
          label={t('common.name')}
          rules={[{ required: true, whitespace: true, message: t('form.required') }]}
        >
          <Input maxLength={200} placeholder={t('apps.namePlaceholder')} />
        </Form.Item>
        <Row gutter={16}>
          <Col span={12}>
            <Form.Item name="platform" label={t('apps.platform')} extra={t('apps.platformHint')}>
              <Radio.Group
                optionType="button"
                options={[
                  { value: 'android', label: t('platform.android') },
                  { value: 'ios', label: t('platform.ios') },
                ]}
              />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item
              name="provider"
              label={t('apps.provider')}
              extra={ws.isOwner ? undefined : t('apps.credentialsOwnerOnly')}
            >
              <Radio.Group
                optionType="button"
                options={[
                  { value: 'simulator', label: t('provider.simulator') },
                  // Provider credentials are written by owners only (the API answers 403 otherwise).
                  { value: 'umeng', label: t('provider.umeng'), disabled: !ws.isOwner },
                ]}
              />
            </Form.Item>
          </Col>
        </Row>
        {provider === 'umeng' ? (
          <>
            <Form.Item
              name="appKey"
              label="appKey"
              rules={[{ required: true, whitespace: true, message: t('form.required') }]}
            >
              <Input autoComplete="off" />
            </Form.Item>
            <Form.Item
              name="appMasterSecret"
              label="appMasterSecret"
              rules={[{ required: true, whitespace: true, message: t('form.required') }]}
              extra={t('apps.masterSecretHint')}
            >
              <Input.Password autoComplete="new-password" />
            </Form.Item>
            <Form.Item name="baseUrl" label={t('apps.baseUrl')} extra={t('apps.baseUrlHint')}>
              <Input placeholder="https://msgapi.umeng.com" />
            </Form.Item>
            <Form.Item
              name="productionMode"
              label={t('apps.productionMode')}
              valuePropName="checked"
              extra={t('apps.productionModeHint')}
            >
              <Switch />
            </Form.Item>
          </>
        ) : (
          <>
            <Typography.Paragraph type="secondary">{t('apps.simulatorHint')}</Typography.Paragraph>
            <Row gutter={16}>
              {RATES.map((key) => (
                <Col span={8} key={key}>
                  <Form.Item name={key} label={t(`apps.${key}`)}>
                    <InputNumber
                      min={0}
                      max={1}
                      step={0.05}
                      placeholder={t('apps.default')}
                      style={{ width: '100%' }}
                    />
                  </Form.Item>
                </Col>
              ))}
              <Col span={8}>
                <Form.Item name="timeScale" label={t('apps.timeScale')} tooltip={t('apps.timeScaleHint')}>
                  <InputNumber min={0.001} placeholder={t('apps.default')} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item name="seed" label={t('apps.seed')} tooltip={t('apps.seedHint')}>
                  <InputNumber precision={0} placeholder={t('apps.default')} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
            </Row>
          </>
        )}
      </Form>
    </Modal>
  );
}

const DEVICE_PAGE = 20;

function DevicesDrawer({ app, onClose }: { app: App | null; onClose: () => void }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [q, setQ] = useState('');
  const [files, setFiles] = useState<UploadFile[]>([]);
  const [progress, setProgress] = useState<number | null>(null);
  const [importError, setImportError] = useState<string | null>(null);

  const devices = useQuery({
    queryKey: ['ws', ws.id, 'apps', app?.id, 'devices', { page, q }],
    queryFn: () => api.apps.devices(ws.id, app!.id, page, DEVICE_PAGE, q || undefined),
    enabled: app !== null,
    placeholderData: keepPreviousData,
  });

  const importFile = async () => {
    const file = files[0]?.originFileObj;
    if (!app || !file) return;
    setImportError(null);
    setProgress(0);
    try {
      const result = await api.apps.importDevices(ws.id, app.id, file, setProgress);
      message.success(
        t('apps.imported', {
          lines: formatCount(result.lines),
          inserted: formatCount(result.inserted),
          updated: formatCount(result.updated),
        }),
      );
      setFiles([]);
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'apps'] });
    } catch (err) {
      const details =
        err instanceof ApiError
          ? (err.details as { errors?: { line: number; message: string }[] })
          : undefined;
      const lines = (details?.errors ?? [])
        .slice(0, 5)
        .map((e) => t('audiences.badLine', { line: e.line, message: e.message }));
      setImportError([errorMessage(err), ...lines].join('\n'));
    } finally {
      setProgress(null);
    }
  };

  const columns: TableProps<Device>['columns'] = [
    {
      title: t('devices.deviceId'),
      dataIndex: 'deviceId',
      key: 'deviceId',
      render: (v: string) => <code>{v}</code>,
    },
    {
      title: t('apps.pushToken'),
      dataIndex: 'pushToken',
      key: 'pushToken',
      ellipsis: true,
      render: (v: string) => <code>{v}</code>,
    },
    { title: t('devices.channel'), dataIndex: 'channel', key: 'channel', width: 100 },
    {
      title: t('apps.updatedAt'),
      key: 'updatedAt',
      width: 170,
      render: (_, d) => formatDateTime(d.updatedAt),
    },
  ];

  return (
    <Drawer
      title={app ? t('apps.devicesOf', { name: app.name }) : ''}
      open={app !== null}
      onClose={onClose}
      size={820}
      destroyOnHidden
    >
      <Card size="small" title={t('apps.import')} style={{ marginBottom: 16 }}>
        <Typography.Paragraph type="secondary">{t('apps.importHint')}</Typography.Paragraph>
        {importError && (
          <Alert
            type="error"
            showIcon
            title={importError}
            style={{ marginBottom: 12, whiteSpace: 'pre-line' }}
          />
        )}
        <Upload.Dragger
          beforeUpload={() => false}
          maxCount={1}
          accept=".csv,text/csv"
          fileList={files}
          onChange={({ fileList }) => setFiles(fileList.slice(-1))}
          disabled={!ws.canWrite}
        >
          <p className="ant-upload-drag-icon">
            <InboxOutlined />
          </p>
          <p className="ant-upload-text">{t('apps.importDrop')}</p>
        </Upload.Dragger>
        <UploadProgress fraction={progress} fileName={files[0]?.name} />
        <Button
          type="primary"
          style={{ marginTop: 12 }}
          disabled={files.length === 0 || !ws.canWrite}
          loading={progress !== null}
          onClick={importFile}
        >
          {t('apps.importButton')}
        </Button>
      </Card>
      <Input.Search
        allowClear
        placeholder={t('apps.searchDevices')}
        onSearch={(value) => {
          setQ(value.trim());
          setPage(1);
        }}
        style={{ width: 280, marginBottom: 12 }}
      />
      {devices.isError ? (
        <QueryError error={devices.error} onRetry={() => devices.refetch()} />
      ) : (
        <Table<Device>
          rowKey="deviceId"
          size="small"
          columns={columns}
          dataSource={devices.data?.items}
          loading={devices.isFetching}
          locale={{
            emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('apps.noDevices')} />,
          }}
          pagination={{
            current: page,
            pageSize: DEVICE_PAGE,
            total: devices.data?.total ?? 0,
            onChange: setPage,
            showSizeChanger: false,
            showTotal: (total) => t('common.totalItems', { n: formatCount(total) }),
          }}
        />
      )}
    </Drawer>
  );
}
