/**
 * Apps: one mobile app on one platform, with the provider it sends through and that provider's
 * configuration. Creating an app (or rotating its secrets) shows the receipt secret and the SDK
 * credentials once. Each app shows how its devices integrate (SDK key, endpoints, code). Each app's
 * registered devices can be browsed — all of them, or only those whose push token the provider
 * called invalid — with what each device reported about itself, and imported from a CSV file, with
 * upload progress.
 */

import {
  ApiOutlined,
  DeleteOutlined,
  EditOutlined,
  InboxOutlined,
  KeyOutlined,
  MobileOutlined,
  MoreOutlined,
  PlusOutlined,
} from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Drawer,
  Dropdown,
  Empty,
  Input,
  Radio,
  Space,
  Table,
  type TableProps,
  Tag,
  Tooltip,
  Typography,
  Upload,
  type UploadFile,
} from 'antd';
import { useState } from 'react';
import { api } from '../../api/client.ts';
import { ApiError, errorMessage } from '../../api/http.ts';
import type { App, Device, TokenStatus } from '../../api/types.ts';
import { PlatformIcon } from '../../components/PlatformIcon.tsx';
import { usePageTitle } from '../../components/page-title.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { type Secret, ShownOnce } from '../../components/ShownOnce.tsx';
import { UploadProgress } from '../../components/UploadProgress.tsx';
import { utcOffsetLabel } from '../../i18n/date-time.ts';
import { formatCount, formatDateTime, formatShortDateTime } from '../../i18n/format.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { DeliverySettingsCell } from './AppDeliverySection.tsx';
import { AppFormModal } from './AppFormModal.tsx';
import { IntegrationDrawer } from './IntegrationDrawer.tsx';
import { configOf, PROVIDER_COLOR } from './providers.ts';

function secretsOf(app: App, t: Translate): Secret[] {
  return [
    { label: t('apps.receiptSecret'), value: app.receiptSecret },
    { label: t('apps.sdkKeyShownLater'), value: app.sdkKey },
    { label: t('apps.sdkSecret'), value: app.sdkSecret },
  ];
}

/** Which credentials an app sends with, in a line: Umeng appKey, FCM project, APNs bundle and environment. */
function ProviderDetail({ app }: { app: App }) {
  const { t } = useI18n();
  const umeng = configOf(app, 'umeng');
  const fcm = configOf(app, 'fcm');
  const apns = configOf(app, 'apns');
  const detail = umeng
    ? `appKey ${umeng.appKey}`
    : fcm
      ? `${t('apps.fcmProjectId')} ${fcm.serviceAccount.project_id}`
      : apns
        ? `${apns.bundleId} · ${t(`apps.${apns.environment}`)}`
        : null;
  if (!detail) return null;
  return (
    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
      {detail}
    </Typography.Text>
  );
}

/** The device list an app's drawer opens on: which app, and which token status it is filtered to. */
interface DevicesView {
  app: App;
  tokenStatus?: TokenStatus;
}

/** Which app form is open: a new app, or a change to one. */
type FormView = { app: App | null } | null;

export function AppsPage() {
  const { t } = useI18n();
  usePageTitle(t('nav.apps'));
  const ws = useCurrentWorkspace();
  const { message, modal } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [formOf, setFormOf] = useState<FormView>(null);
  const [secrets, setSecrets] = useState<{ title: string; secrets: Secret[] } | null>(null);
  const [devicesOf, setDevicesOf] = useState<DevicesView | null>(null);
  // By ID, so that the drawer shows the app as the list reads it now (a new SDK key after a rotation).
  const [integrationOf, setIntegrationOf] = useState<string | null>(null);

  const apps = useQuery({ queryKey: ['ws', ws.id, 'apps'], queryFn: () => api.apps.list(ws.id) });
  const integrating = apps.data?.items.find((a) => a.id === integrationOf);
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
    onSuccess: (app) => {
      setSecrets({ title: t('apps.newSecretsOf', { name: app.name }), secrets: secretsOf(app, t) });
      // The SDK key is read in full, so the list (and an open integration drawer) must show the new one.
      void invalidate();
    },
    onError: (error) => message.error(errorMessage(error)),
  });

  const confirmRotate = (app: App) =>
    modal.confirm({
      title: t('apps.rotateConfirm'),
      content: t('apps.rotateHint'),
      okText: t('apps.rotate'),
      cancelText: t('common.cancel'),
      onOk: () => rotate.mutateAsync(app).catch(() => {}),
    });
  const confirmDelete = (app: App) =>
    modal.confirm({
      title: t('apps.deleteConfirm', { name: app.name }),
      okText: t('common.delete'),
      okButtonProps: { danger: true },
      cancelText: t('common.cancel'),
      onOk: () => remove.mutateAsync(app).catch(() => {}),
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
          <Tag color={PROVIDER_COLOR[a.provider]} data-testid={`provider-of-${a.id}`}>
            {t(`provider.${a.provider}`)}
          </Tag>
          <ProviderDetail app={a} />
        </Space>
      ),
    },
    {
      title: t('apps.devices'),
      key: 'devices',
      align: 'right',
      render: (_, a) => formatCount(a.devices),
    },
    {
      title: (
        <Tooltip title={t('apps.invalidTokensHint')}>
          <span style={{ whiteSpace: 'nowrap' }}>{t('apps.invalidTokens')}</span>
        </Tooltip>
      ),
      key: 'invalidTokens',
      align: 'right',
      render: (_, a) =>
        a.invalidTokens > 0 ? (
          <Button
            type="link"
            size="small"
            danger
            style={{ padding: 0 }}
            onClick={() => setDevicesOf({ app: a, tokenStatus: 'invalid' })}
            data-testid={`invalid-tokens-of-${a.id}`}
          >
            {formatCount(a.invalidTokens)}
          </Button>
        ) : (
          <Typography.Text type="secondary" data-testid={`invalid-tokens-of-${a.id}`}>
            0
          </Typography.Text>
        ),
    },
    {
      title: <Tooltip title={t('delivery.columnHint')}>{t('delivery.column')}</Tooltip>,
      key: 'delivery',
      render: (_, a) => <DeliverySettingsCell app={a} />,
    },
    {
      title: t('time.columnIn', { label: t('common.createdAt'), zone: utcOffsetLabel() }),
      key: 'createdAt',
      render: (_, a) => formatDateTime(a.createdAt),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      width: 300,
      render: (_, a) => (
        <Space size={0}>
          <Button
            type="link"
            size="small"
            icon={<ApiOutlined />}
            onClick={() => setIntegrationOf(a.id)}
            data-testid={`integrate-${a.id}`}
          >
            {t('apps.integrate')}
          </Button>
          <Button type="link" size="small" icon={<MobileOutlined />} onClick={() => setDevicesOf({ app: a })}>
            {t('apps.devices')}
          </Button>
          <Button
            type="link"
            size="small"
            icon={<EditOutlined />}
            onClick={() => setFormOf({ app: a })}
            disabled={!ws.canWrite}
          >
            {t('common.edit')}
          </Button>
          <Dropdown
            trigger={['click']}
            menu={{
              items: [
                { key: 'rotate', icon: <KeyOutlined />, label: t('apps.rotate'), disabled: !ws.isOwner },
                {
                  key: 'delete',
                  icon: <DeleteOutlined />,
                  label: t('common.delete'),
                  danger: true,
                  disabled: !ws.canWrite,
                },
              ],
              onClick: ({ key }) => (key === 'rotate' ? confirmRotate(a) : confirmDelete(a)),
            }}
          >
            <Button
              type="link"
              size="small"
              icon={<MoreOutlined />}
              aria-label={t('common.more')}
              data-testid={`more-of-${a.id}`}
            />
          </Dropdown>
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
          onClick={() => setFormOf({ app: null })}
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
      {formOf && (
        <AppFormModal
          app={formOf.app}
          onClose={(created) => {
            setFormOf(null);
            if (created)
              setSecrets({
                title: t('apps.secretsOf', { name: created.name }),
                secrets: secretsOf(created, t),
              });
          }}
        />
      )}
      <ShownOnce
        title={secrets?.title ?? ''}
        secrets={secrets?.secrets ?? null}
        onClose={() => setSecrets(null)}
      />
      {devicesOf && (
        <DevicesDrawer key={devicesOf.app.id} view={devicesOf} onClose={() => setDevicesOf(null)} />
      )}
      {integrating && (
        <IntegrationDrawer
          key={integrating.id}
          app={integrating}
          onRotate={() => rotate.mutateAsync(integrating)}
          onClose={() => setIntegrationOf(null)}
        />
      )}
    </Space>
  );
}

const DEVICE_PAGE = 20;

/** The filter of the device list: every device, or only those with an active or an invalid token. */
type TokenFilter = TokenStatus | 'all';

function DevicesDrawer({ view, onClose }: { view: DevicesView; onClose: () => void }) {
  const { app } = view;
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [q, setQ] = useState('');
  const [tokenFilter, setTokenFilter] = useState<TokenFilter>(view.tokenStatus ?? 'all');
  const [files, setFiles] = useState<UploadFile[]>([]);
  const [progress, setProgress] = useState<number | null>(null);
  const [importError, setImportError] = useState<string | null>(null);

  const devices = useQuery({
    queryKey: ['ws', ws.id, 'apps', app.id, 'devices', { page, q, tokenFilter }],
    queryFn: () =>
      api.apps.devices(ws.id, app.id, {
        page,
        pageSize: DEVICE_PAGE,
        q: q || undefined,
        tokenStatus: tokenFilter === 'all' ? undefined : tokenFilter,
      }),
    placeholderData: keepPreviousData,
  });

  const importFile = async () => {
    const file = files[0]?.originFileObj;
    if (!file) return;
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
      const lines = (err instanceof ApiError ? err.csvLineErrors : [])
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
    { title: t('devices.channel'), dataIndex: 'channel', key: 'channel', width: 90 },
    {
      title: t('apps.tokenStatus'),
      key: 'tokenStatus',
      width: 170,
      // One column for the token's state: an invalid token says since when and the provider's word.
      render: (_, d) =>
        d.tokenStatus === 'invalid' ? (
          <div>
            <Tag color="red">{t('tokenStatus.invalid')}</Tag>
            <div>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t('apps.tokenInvalidSince', { time: formatShortDateTime(d.tokenInvalidAt) })}
              </Typography.Text>
            </div>
            {d.tokenInvalidReason && <code style={{ fontSize: 12 }}>{d.tokenInvalidReason}</code>}
          </div>
        ) : (
          <Tag color="green">{t('tokenStatus.active')}</Tag>
        ),
    },
    {
      title: t('apps.timeZone'),
      key: 'timeZone',
      width: 140,
      ellipsis: true,
      render: (_, d) => d.timeZone ?? '–',
    },
    { title: t('apps.locale'), key: 'locale', width: 80, render: (_, d) => d.locale ?? '–' },
    {
      title: t('apps.appVersion'),
      key: 'appVersion',
      width: 110,
      ellipsis: true,
      render: (_, d) => d.appVersion ?? '–',
    },
    {
      title: t('time.columnIn', { label: t('apps.updatedAt'), zone: utcOffsetLabel() }),
      key: 'updatedAt',
      width: 160,
      render: (_, d) => formatDateTime(d.updatedAt),
    },
  ];

  return (
    <Drawer title={t('apps.devicesOf', { name: app.name })} open onClose={onClose} size={1100}>
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
      <Space wrap style={{ marginBottom: 12 }}>
        <Input.Search
          allowClear
          placeholder={t('apps.searchDevices')}
          onSearch={(value) => {
            setQ(value.trim());
            setPage(1);
          }}
          style={{ width: 280 }}
        />
        <span data-testid="token-status-filter">
          <Radio.Group
            optionType="button"
            value={tokenFilter}
            onChange={(event) => {
              setTokenFilter(event.target.value as TokenFilter);
              setPage(1);
            }}
            options={[
              { value: 'all', label: t('apps.allTokens') },
              { value: 'active', label: t('tokenStatus.active') },
              {
                value: 'invalid',
                label: t('apps.invalidTokensCount', { n: formatCount(app.invalidTokens) }),
              },
            ]}
          />
        </span>
      </Space>
      {tokenFilter === 'invalid' && (
        <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
          {t('apps.invalidTokensHint')}
        </Typography.Paragraph>
      )}
      {devices.isError ? (
        <QueryError error={devices.error} onRetry={() => devices.refetch()} />
      ) : (
        <Table<Device>
          rowKey="deviceId"
          size="small"
          data-testid="device-table"
          scroll={{ x: 1000 }}
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
