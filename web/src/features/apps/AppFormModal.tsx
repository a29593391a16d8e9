/**
 * The form that creates an app or changes one: its name, platform and provider (platform and
 * provider are fixed once created), and the provider's config. FCM and APNs keys are uploaded as
 * the files Google and Apple give and read in the browser (key-files.ts). On a change, stored
 * secrets are shown masked and kept unless a new one is given; when the credentials' identity or
 * endpoint changes, the form says a new key is needed, as the server requires (docs/providers.md#endpoints-and-credentials).
 */
import { CheckCircleFilled, FileTextOutlined, UploadOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Col,
  ConfigProvider,
  Descriptions,
  Form,
  Input,
  InputNumber,
  Modal,
  Radio,
  Row,
  Space,
  Switch,
  Typography,
} from 'antd';
import { type ReactNode, useRef, useState } from 'react';
import { api } from '../../api/client.ts';
import { ApiError, errorMessage } from '../../api/http.ts';
import type {
  ApnsEnvironment,
  App,
  Platform,
  ProviderConfig,
  ProviderName,
  ServiceAccountKey,
} from '../../api/types.ts';
import { applyFieldErrors } from '../../components/form-errors.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import {
  type KeyFile,
  type KeyFileProblem,
  type KeyFileRead,
  MAX_KEY_FILE_BYTES,
  parseP8Key,
  parseServiceAccountKey,
  readKeyFile,
} from './key-files.ts';
import { configOf, PROVIDERS_OF_PLATFORM } from './providers.ts';

const RATES = ['acceptRate', 'deliveryRate', 'impressionRate', 'openRate', 'dismissalRate'] as const;

/** Most requests in flight at once for one app, as the server allows. */
const MAX_CONCURRENCY = 1000;

/** The form's fields; the provider config's fields keep their API names, so API errors find them. */
interface AppValues {
  name: string;
  platform: Platform;
  provider: ProviderName;
  appKey?: string;
  appMasterSecret?: string;
  productionMode?: boolean;
  channelActivity?: string;
  /** Umeng vendor-channel options as typed: one `name=value` a line. */
  channelProperties?: string;
  serviceAccount?: KeyFile<ServiceAccountKey>;
  androidChannelId?: string;
  teamId?: string;
  keyId?: string;
  bundleId?: string;
  environment?: ApnsEnvironment;
  privateKey?: KeyFile<string>;
  baseUrl?: string;
  concurrency?: number | null;
  rateLimitPerSecond?: number | null;
  seed?: number | null;
  acceptRate?: number | null;
  deliveryRate?: number | null;
  impressionRate?: number | null;
  openRate?: number | null;
  dismissalRate?: number | null;
  timeScale?: number | null;
}

/** Every form item an API field path may point at (`providerConfig.teamId` → `teamId`). */
const FORM_ITEMS = new Set<string>([
  'name',
  'platform',
  'provider',
  'appKey',
  'appMasterSecret',
  'productionMode',
  'channelActivity',
  'channelProperties',
  'serviceAccount',
  'androidChannelId',
  'teamId',
  'keyId',
  'bundleId',
  'environment',
  'privateKey',
  'baseUrl',
  'concurrency',
  'rateLimitPerSecond',
  'seed',
  'timeScale',
  ...RATES,
]);

/** The form item showing an API field path, or null: `providerConfig.serviceAccount.private_key` → `serviceAccount`. */
function itemOf(path: string): string | null {
  const parts = path.split('.');
  const name = parts[0] === 'providerConfig' ? parts[1] : parts[0];
  return name !== undefined && FORM_ITEMS.has(name) ? name : null;
}

/** The form item holding each provider's secret. */
const SECRET_ITEM: Partial<Record<ProviderName, 'appMasterSecret' | 'serviceAccount' | 'privateKey'>> = {
  umeng: 'appMasterSecret',
  fcm: 'serviceAccount',
  apns: 'privateKey',
};

/** A text field as sent: trimmed, and left out when empty. */
function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Vendor-channel options as the form shows them: one `name=value` a line. */
function channelPropertiesText(properties: Record<string, string> | undefined): string | undefined {
  if (!properties || Object.keys(properties).length === 0) return undefined;
  return Object.entries(properties)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n');
}

/**
 * The vendor-channel options typed as `name=value` lines (blank lines skipped), or the first line
 * that is not one (1-based) for the form to point at.
 */
function parseChannelProperties(
  typed: string | undefined,
): { ok: true; properties: Record<string, string> } | { ok: false; line: number } {
  const properties: Record<string, string> = {};
  const lines = (typed ?? '').split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, line: index + 1 };
    properties[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return { ok: true, properties };
}

/** Numbers typed in the form, left out when empty (the provider's default then applies). */
function numbers<K extends keyof AppValues>(v: AppValues, keys: readonly K[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) {
    const value = v[key];
    if (typeof value === 'number') out[key] = value;
  }
  return out;
}

/** The form's values for a new app, or for the app being changed (its secrets stay with the server). */
function initialValues(app: App | null): Partial<AppValues> {
  if (!app)
    return { platform: 'android', provider: 'simulator', productionMode: true, environment: 'production' };
  const base = { name: app.name, platform: app.platform, provider: app.provider };
  const umeng = configOf(app, 'umeng');
  if (umeng)
    return {
      ...base,
      ...umeng,
      appMasterSecret: undefined,
      productionMode: umeng.productionMode ?? true,
      channelProperties: channelPropertiesText(umeng.channelProperties),
    };
  const fcm = configOf(app, 'fcm');
  if (fcm) {
    const { serviceAccount: _, ...options } = fcm;
    return { ...base, ...options };
  }
  const apns = configOf(app, 'apns');
  if (apns) {
    const { privateKey: _, ...fields } = apns;
    return { ...base, ...fields };
  }
  return { ...base, ...configOf(app, 'simulator') };
}

/**
 * The provider config the form describes. A secret not given again is left out (FCM: the key read
 * from the app is sent back, its private key masked), so that the server keeps the stored one.
 */
function providerConfigOf(v: AppValues, app: App | null): ProviderConfig {
  const shared = {
    ...(text(v.baseUrl) && { baseUrl: text(v.baseUrl) }),
    ...numbers(v, ['rateLimitPerSecond']),
  };
  switch (v.provider) {
    case 'umeng': {
      // Vendor channels are Android's (Xiaomi, Huawei, OPPO, vivo…); an iOS app sends none.
      const android = v.platform === 'android';
      const typed = parseChannelProperties(v.channelProperties);
      const properties = typed.ok ? typed.properties : {};
      return {
        appKey: text(v.appKey) ?? '',
        ...(text(v.appMasterSecret) && { appMasterSecret: text(v.appMasterSecret) }),
        productionMode: v.productionMode ?? true,
        ...(android && text(v.channelActivity) && { channelActivity: text(v.channelActivity) }),
        ...(android && Object.keys(properties).length > 0 && { channelProperties: properties }),
        ...shared,
        // The type wants the secret; the server fills one left out from the stored config.
      } as ProviderConfig;
    }
    case 'fcm': {
      const typed = v.serviceAccount?.ok ? v.serviceAccount.content : undefined;
      return {
        serviceAccount: typed ?? (configOf(app, 'fcm')?.serviceAccount as ServiceAccountKey),
        ...(text(v.androidChannelId) && { androidChannelId: text(v.androidChannelId) }),
        ...numbers(v, ['concurrency']),
        ...shared,
      };
    }
    case 'apns':
      return {
        teamId: text(v.teamId) ?? '',
        keyId: text(v.keyId) ?? '',
        bundleId: text(v.bundleId) ?? '',
        environment: v.environment ?? 'production',
        ...(v.privateKey?.ok && { privateKey: v.privateKey.content }),
        ...numbers(v, ['concurrency']),
        ...shared,
      } as ProviderConfig;
    default:
      return { ...numbers(v, [...RATES, 'seed', 'timeScale']), ...shared };
  }
}

/**
 * The credential fields changed from the stored config while the secret is not given again: the
 * server refuses such a change (PROVIDER_SECRET_REQUIRED), so the form says so before saving.
 */
function changedWithoutSecret(v: AppValues, app: App | null, t: Translate): string[] {
  if (!app) return [];
  const changed = (label: string, now: string | undefined, before: string | undefined) =>
    text(now) !== text(before) ? [label] : [];
  const umeng = configOf(app, 'umeng');
  if (umeng && !text(v.appMasterSecret)) {
    return [
      ...changed('appKey', v.appKey, umeng.appKey),
      ...changed(t('apps.baseUrl'), v.baseUrl, umeng.baseUrl),
    ];
  }
  const fcm = configOf(app, 'fcm');
  // A new key file brings its own private key with its project and client email.
  if (fcm && !v.serviceAccount?.ok) return changed(t('apps.baseUrl'), v.baseUrl, fcm.baseUrl);
  const apns = configOf(app, 'apns');
  if (apns && !v.privateKey?.ok) {
    return [
      ...changed(t('apps.teamId'), v.teamId, apns.teamId),
      ...changed(t('apps.keyId'), v.keyId, apns.keyId),
      ...changed(t('apps.baseUrl'), v.baseUrl, apns.baseUrl),
    ];
  }
  return [];
}

/** A key file's problem in words. */
function keyFileProblemText(problem: KeyFileProblem, t: Translate): string {
  switch (problem.code) {
    case 'TOO_LARGE':
      return t('keyFile.tooLarge', { kb: MAX_KEY_FILE_BYTES / 1024 });
    case 'NOT_JSON':
      return t('keyFile.notJson');
    case 'NOT_SERVICE_ACCOUNT':
      return t('keyFile.notServiceAccount', { type: problem.type });
    case 'FIELD_MISSING':
      return t('keyFile.fieldMissing', { field: problem.field });
    case 'NOT_PEM_KEY':
      return t('keyFile.notPemKey', { field: problem.field });
    case 'NOT_P8':
      return t('keyFile.notP8');
  }
}

/** A form rule for a key file: its problem, if any; required unless a stored key is kept. */
function keyFileRule<T>(required: boolean, t: Translate) {
  return {
    validator: (_: unknown, value: KeyFile<T> | undefined) => {
      if (value && !value.ok) return Promise.reject(new Error(keyFileProblemText(value.problem, t)));
      if (!value && required) return Promise.reject(new Error(t('keyFile.required')));
      return Promise.resolve();
    },
  };
}

/** Picks a key file and reads it in the browser; a form item gives it `value` and `onChange`. */
function KeyFileInput<T>({
  value,
  onChange,
  testId,
  accept,
  parse,
  keeping,
}: {
  value?: KeyFile<T>;
  onChange?: (value: KeyFile<T> | undefined) => void;
  testId: string;
  accept: string;
  parse: (text: string) => KeyFileRead<T>;
  /** Shown while no file is chosen on a change: the stored key is kept. */
  keeping?: ReactNode;
}) {
  const { t } = useI18n();
  const input = useRef<HTMLInputElement>(null);
  return (
    <Space wrap size={[12, 4]}>
      <Button icon={<UploadOutlined />} onClick={() => input.current?.click()}>
        {value || keeping ? t('keyFile.chooseAnother') : t('keyFile.choose')}
      </Button>
      <input
        ref={input}
        type="file"
        accept={accept}
        style={{ display: 'none' }}
        data-testid={testId}
        onChange={async (event) => {
          const file = event.target.files?.[0];
          // Cleared so that choosing the same file again (after fixing it) reads it again.
          event.target.value = '';
          if (file) onChange?.(await readKeyFile(file, parse));
        }}
      />
      {value ? (
        <Space size={8}>
          <Typography.Text>
            <FileTextOutlined /> {value.fileName}
          </Typography.Text>
          <Button type="link" size="small" onClick={() => onChange?.(undefined)} style={{ padding: 0 }}>
            {keeping ? t('keyFile.keepStored') : t('keyFile.remove')}
          </Button>
        </Space>
      ) : (
        keeping
      )}
    </Space>
  );
}

/**
 * "A key is stored: kept unless you choose a new file." The masked form the API reads is not shown:
 * every PEM key ends alike, so its last characters tell nothing.
 */
function KeptKey() {
  const { t } = useI18n();
  return (
    <Typography.Text type="secondary" data-testid="kept-key">
      {t('keyFile.kept')}
    </Typography.Text>
  );
}

/** The project and service account of an FCM key: the one just read, else the stored one. */
function ServiceAccountSummary({ account, stored }: { account: ServiceAccountKey; stored: boolean }) {
  const { t } = useI18n();
  return (
    <Descriptions
      size="small"
      column={1}
      bordered
      style={{ marginBottom: 16 }}
      data-testid="fcm-key-summary"
      items={[
        { key: 'project', label: t('apps.fcmProjectId'), children: <code>{account.project_id}</code> },
        { key: 'email', label: t('apps.fcmClientEmail'), children: <code>{account.client_email}</code> },
        { key: 'keyId', label: t('apps.fcmPrivateKeyId'), children: <code>{account.private_key_id}</code> },
        {
          key: 'key',
          label: t('apps.fcmPrivateKey'),
          children: stored ? (
            <Typography.Text type="secondary">{t('apps.fcmKeyStored')}</Typography.Text>
          ) : (
            <Typography.Text type="success">
              <CheckCircleFilled /> {t('apps.fcmKeyRead')}
            </Typography.Text>
          ),
        },
      ]}
    />
  );
}

/** The concurrency and rate limit of a per-device provider (FCM, APNs). */
function SendingLimits() {
  const { t } = useI18n();
  return (
    <Row gutter={16}>
      <Col span={12}>
        <Form.Item name="concurrency" label={t('apps.concurrency')} tooltip={t('apps.concurrencyHint')}>
          <InputNumber
            min={1}
            max={MAX_CONCURRENCY}
            precision={0}
            placeholder="100"
            style={{ width: '100%' }}
          />
        </Form.Item>
      </Col>
      <Col span={12}>
        <RateLimitItem />
      </Col>
    </Row>
  );
}

function RateLimitItem() {
  const { t } = useI18n();
  return (
    <Form.Item name="rateLimitPerSecond" label={t('apps.rateLimit')} tooltip={t('apps.rateLimitHint')}>
      <InputNumber min={0} precision={0} placeholder={t('apps.default')} style={{ width: '100%' }} />
    </Form.Item>
  );
}

/** The optional base URL of a provider's API (tests and proxies); the real endpoint when empty. */
function BaseUrlItem({ placeholder }: { placeholder: string }) {
  const { t } = useI18n();
  return (
    <Form.Item name="baseUrl" label={t('apps.baseUrl')} extra={t('apps.providerBaseUrlHint')}>
      <Input placeholder={placeholder} />
    </Form.Item>
  );
}

/**
 * Creates an app (`app` null) or changes `app`. Closes with the created app, whose secrets the
 * caller shows once, or with null (cancelled, or a change saved).
 */
export function AppFormModal({ app, onClose }: { app: App | null; onClose: (created: App | null) => void }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<AppValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const editing = app !== null;
  const platform = Form.useWatch('platform', form) ?? app?.platform ?? 'android';
  const provider = Form.useWatch('provider', form) ?? app?.provider ?? 'simulator';
  const values = Form.useWatch((all: AppValues) => all, form);
  const serviceAccount = Form.useWatch('serviceAccount', form);
  // Provider credentials are written by owners only (the API answers 403 otherwise); the
  // simulator's settings are no credentials.
  const mayWriteConfig = ws.isOwner || provider === 'simulator';
  const needsSecret = values ? changedWithoutSecret(values, app, t) : [];
  const fcm = configOf(app, 'fcm');
  const apns = configOf(app, 'apns');
  const umeng = configOf(app, 'umeng');

  const showError = (err: unknown) => {
    if (!(err instanceof ApiError)) {
      setError(errorMessage(err));
      return;
    }
    const details = (err.details ?? {}) as { fields?: string[]; field?: string };
    if (err.code === 'PROVIDER_SECRET_REQUIRED') {
      const item = SECRET_ITEM[provider];
      if (item) {
        form.setFields([{ name: item, errors: [t('apps.secretRequired')] }]);
        return;
      }
    }
    if (err.code === 'PROVIDER_URL_NOT_ALLOWED' && details.field) {
      const item = itemOf(details.field);
      if (item) {
        form.setFields([{ name: item as keyof AppValues, errors: [t('apps.urlNotAllowed')] }]);
        return;
      }
    }
    if (err.fieldErrors.length > 0) {
      const rest = applyFieldErrors(form, err.fieldErrors, (path) => {
        const item = itemOf(path);
        return item ? [item] : null;
      });
      setError(rest.length > 0 ? rest.join('\n') : null);
      return;
    }
    setError(errorMessage(err));
  };

  const submit = async (v: AppValues) => {
    setBusy(true);
    setError(null);
    try {
      const providerConfig = mayWriteConfig ? providerConfigOf(v, app) : undefined;
      if (app) {
        await api.apps.update(ws.id, app.id, { name: v.name.trim(), providerConfig });
        message.success(t('apps.saved', { name: v.name.trim() }));
      }
      const created = app
        ? null
        : await api.apps.create(ws.id, {
            name: v.name.trim(),
            platform: v.platform,
            provider: v.provider,
            providerConfig,
          });
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'apps'] });
      onClose(created);
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  };

  const secretWarning = needsSecret.length > 0 && (
    <Alert
      type="warning"
      showIcon
      style={{ marginBottom: 16 }}
      data-testid="new-key-needed"
      title={t(`apps.newKeyNeeded.${provider as 'umeng' | 'fcm' | 'apns'}`, {
        fields: needsSecret.join(', '),
      })}
    />
  );

  let config: ReactNode;
  if (provider === 'umeng') {
    config = (
      <>
        <Form.Item
          name="appKey"
          label="appKey"
          rules={[{ required: true, whitespace: true, message: t('form.required') }]}
        >
          <Input autoComplete="off" />
        </Form.Item>
        {secretWarning}
        <Form.Item
          name="appMasterSecret"
          label="appMasterSecret"
          rules={editing ? [] : [{ required: true, whitespace: true, message: t('form.required') }]}
          extra={
            umeng ? t('apps.secretKeptHint', { masked: umeng.appMasterSecret }) : t('apps.masterSecretHint')
          }
        >
          <Input.Password
            autoComplete="new-password"
            placeholder={umeng ? umeng.appMasterSecret : undefined}
          />
        </Form.Item>
        <BaseUrlItem placeholder="https://msgapi.umeng.com" />
        <Row gutter={16}>
          <Col span={12}>
            <Form.Item
              name="productionMode"
              label={t('apps.productionMode')}
              valuePropName="checked"
              extra={t('apps.productionModeHint')}
            >
              <Switch />
            </Form.Item>
          </Col>
          <Col span={12}>
            <RateLimitItem />
          </Col>
        </Row>
        {platform === 'android' && (
          <>
            <Form.Item
              name="channelActivity"
              label={t('apps.channelActivity')}
              extra={t('apps.channelActivityHint')}
            >
              <Input autoComplete="off" placeholder="com.example.app.MfrMessageActivity" />
            </Form.Item>
            <Form.Item
              name="channelProperties"
              label={t('apps.channelProperties')}
              extra={t('apps.channelPropertiesHint')}
              rules={[
                {
                  validator: async (_, value: string | undefined) => {
                    const typed = parseChannelProperties(value);
                    if (!typed.ok) throw new Error(t('apps.channelPropertiesLine', { line: typed.line }));
                  },
                },
              ]}
            >
              <Input.TextArea
                rows={3}
                autoComplete="off"
                placeholder={'xiaomi_channel_id=high_system\nhuawei_channel_importance=NORMAL'}
                style={{ fontFamily: 'monospace' }}
              />
            </Form.Item>
          </>
        )}
      </>
    );
  } else if (provider === 'fcm') {
    const shown = serviceAccount?.ok ? serviceAccount.content : fcm?.serviceAccount;
    const otherAccount =
      fcm &&
      serviceAccount?.ok &&
      (serviceAccount.content.project_id !== fcm.serviceAccount.project_id ||
        serviceAccount.content.client_email !== fcm.serviceAccount.client_email);
    config = (
      <>
        <Form.Item
          name="serviceAccount"
          label={t('apps.fcmKeyFile')}
          required={!editing}
          rules={[keyFileRule<ServiceAccountKey>(!editing, t)]}
          extra={t('apps.fcmKeyFileHint')}
        >
          <KeyFileInput<ServiceAccountKey>
            testId="fcm-key-file"
            accept=".json,application/json"
            parse={parseServiceAccountKey}
            keeping={fcm && <KeptKey />}
          />
        </Form.Item>
        {secretWarning}
        {otherAccount && (
          <Alert type="info" showIcon style={{ marginBottom: 16 }} title={t('apps.fcmOtherAccount')} />
        )}
        {shown && <ServiceAccountSummary account={shown} stored={!serviceAccount?.ok} />}
        <Row gutter={16}>
          <Col span={24}>
            <Form.Item
              name="androidChannelId"
              label={t('apps.androidChannelId')}
              extra={t('apps.androidChannelIdHint')}
            >
              <Input placeholder="promotions" autoComplete="off" />
            </Form.Item>
          </Col>
        </Row>
        <SendingLimits />
        <BaseUrlItem placeholder="https://fcm.googleapis.com" />
      </>
    );
  } else if (provider === 'apns') {
    config = (
      <>
        <Row gutter={16}>
          <Col span={12}>
            <Form.Item
              name="teamId"
              label={t('apps.teamId')}
              rules={[{ required: true, whitespace: true, message: t('form.required') }]}
              extra={t('apps.apnsIdHint')}
            >
              <Input autoComplete="off" placeholder="AB12CD34EF" maxLength={10} />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item
              name="keyId"
              label={t('apps.keyId')}
              rules={[{ required: true, whitespace: true, message: t('form.required') }]}
            >
              <Input autoComplete="off" placeholder="XYZ987WVU6" maxLength={10} />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item
              name="bundleId"
              label={t('apps.bundleId')}
              rules={[{ required: true, whitespace: true, message: t('form.required') }]}
            >
              <Input autoComplete="off" placeholder="com.example.shop" />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="environment" label={t('apps.environment')} extra={t('apps.environmentHint')}>
              <Radio.Group
                optionType="button"
                options={[
                  { value: 'production', label: t('apps.production') },
                  { value: 'sandbox', label: t('apps.sandbox') },
                ]}
              />
            </Form.Item>
          </Col>
        </Row>
        <Form.Item
          name="privateKey"
          label={t('apps.p8KeyFile')}
          required={!editing}
          rules={[keyFileRule<string>(!editing, t)]}
          extra={t('apps.p8KeyFileHint')}
        >
          <KeyFileInput<string>
            testId="apns-key-file"
            accept=".p8,.pem,text/plain"
            parse={parseP8Key}
            keeping={apns && <KeptKey />}
          />
        </Form.Item>
        {secretWarning}
        <SendingLimits />
        <BaseUrlItem placeholder="https://api.push.apple.com" />
      </>
    );
  } else {
    config = (
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
          <Col span={8}>
            <RateLimitItem />
          </Col>
        </Row>
      </>
    );
  }

  return (
    <Modal
      title={app ? t('apps.editTitle', { name: app.name }) : t('apps.create')}
      open
      onCancel={() => onClose(null)}
      onOk={() => form.submit()}
      okText={app ? t('common.save') : t('common.create')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      width={660}
    >
      <Form<AppValues>
        form={form}
        layout="vertical"
        onFinish={submit}
        initialValues={initialValues(app)}
        onValuesChange={(changed: Partial<AppValues>) => {
          // FCM serves Android only and APNs iOS only: another platform falls back to the simulator.
          if (
            changed.platform &&
            !PROVIDERS_OF_PLATFORM[changed.platform].includes(form.getFieldValue('provider'))
          ) {
            form.setFieldValue('provider', 'simulator');
          }
        }}
        data-testid="app-form"
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
          <Col span={10}>
            <Form.Item
              name="platform"
              label={t('apps.platform')}
              extra={editing ? t('apps.fixedOnceCreated') : t('apps.platformHint')}
            >
              <Radio.Group
                optionType="button"
                disabled={editing}
                options={[
                  { value: 'android', label: t('platform.android') },
                  { value: 'ios', label: t('platform.ios') },
                ]}
              />
            </Form.Item>
          </Col>
          <Col span={14}>
            <Form.Item
              name="provider"
              label={t('apps.provider')}
              extra={
                editing
                  ? t('apps.fixedOnceCreated')
                  : ws.isOwner
                    ? t(`apps.providerHint.${platform}`)
                    : t('apps.credentialsOwnerOnly')
              }
              data-testid="provider-choice"
            >
              <Radio.Group
                optionType="button"
                disabled={editing}
                options={PROVIDERS_OF_PLATFORM[platform].map((value) => ({
                  value,
                  label: t(`provider.${value}`),
                  disabled: value !== 'simulator' && !ws.isOwner,
                }))}
              />
            </Form.Item>
          </Col>
        </Row>
        {!mayWriteConfig && (
          <Alert
            type="info"
            showIcon
            style={{ marginBottom: 16 }}
            title={t('apps.credentialsOwnerOnlyEdit')}
          />
        )}
        <ConfigProvider componentDisabled={!mayWriteConfig}>{config}</ConfigProvider>
      </Form>
    </Modal>
  );
}
