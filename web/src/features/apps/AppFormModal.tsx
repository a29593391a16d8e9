/**
 * The form that creates an app or changes one: its name, platform and provider (platform and
 * provider are fixed once created), and the provider's config. FCM and APNs keys are uploaded as
 * the files Google and Apple give and read in the browser (key-files.ts). On a change, stored
 * secrets are shown masked and kept unless a new one is given; when the credentials' identity or
 * endpoint changes, the form says a new key is needed, as the server requires (docs/providers.md#endpoints-and-credentials).
 * Below the provider, the app's delivery settings: frequency cap and quiet hours (AppDeliverySection.tsx).
 */
import { Alert, Col, ConfigProvider, Form, Input, Modal, Radio, Row } from 'antd';
import type { ReactNode } from 'react';
import type { App } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { ApnsConfigSection } from './ApnsConfigSection.tsx';
import { AppDeliverySection } from './AppDeliverySection.tsx';
import { type AppValues, changedWithoutSecret, initialValues } from './app-form-values.ts';
import { useAppSubmit } from './app-submit.ts';
import { FcmConfigSection } from './FcmConfigSection.tsx';
import { PROVIDERS_OF_PLATFORM } from './providers.ts';
import { SimulatorConfigSection } from './SimulatorConfigSection.tsx';
import { UmengConfigSection } from './UmengConfigSection.tsx';

/**
 * Creates an app (`app` null) or changes `app`. Closes with the created app, whose secrets the
 * caller shows once, or with null (cancelled, or a change saved).
 */
export function AppFormModal({ app, onClose }: { app: App | null; onClose: (created: App | null) => void }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const [form] = Form.useForm<AppValues>();
  const editing = app !== null;
  const platform = Form.useWatch('platform', form) ?? app?.platform ?? 'android';
  const provider = Form.useWatch('provider', form) ?? app?.provider ?? 'simulator';
  const values = Form.useWatch((all: AppValues) => all, form);
  const serviceAccount = Form.useWatch('serviceAccount', form);
  // Provider credentials are written by owners only (the API answers 403 otherwise); the
  // simulator's settings are no credentials.
  const mayWriteConfig = ws.isOwner || provider === 'simulator';
  const needsSecret = values ? changedWithoutSecret(values, app, t) : [];
  const { submit, busy, error } = useAppSubmit({ form, app, provider, mayWriteConfig, onClose });

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
    config = <UmengConfigSection app={app} platform={platform} secretWarning={secretWarning} />;
  } else if (provider === 'fcm') {
    config = <FcmConfigSection app={app} serviceAccount={serviceAccount} secretWarning={secretWarning} />;
  } else if (provider === 'apns') {
    config = <ApnsConfigSection app={app} secretWarning={secretWarning} />;
  } else {
    config = <SimulatorConfigSection />;
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
        <AppDeliverySection />
      </Form>
    </Modal>
  );
}
