/**
 * The FCM config section of the app form: the service-account key file (read in the browser; a
 * stored one is kept on a change unless another is chosen), what the key names, and the options.
 */
import { CheckCircleFilled } from '@ant-design/icons';
import { Alert, Col, Descriptions, Form, Input, Row, Typography } from 'antd';
import type { ReactNode } from 'react';
import type { App, ServiceAccountKey } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { BaseUrlItem, SendingLimits } from './config-items.tsx';
import { KeptKey, KeyFileInput, keyFileRule } from './KeyFileInput.tsx';
import { type KeyFile, parseServiceAccountKey } from './key-files.ts';
import { configOf } from './providers.ts';

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

/**
 * The FCM credentials and options of `app` (null: a new app); `serviceAccount` is the key file
 * chosen in the form, if any, and `secretWarning` sits under it.
 */
export function FcmConfigSection({
  app,
  serviceAccount,
  secretWarning,
}: {
  app: App | null;
  serviceAccount: KeyFile<ServiceAccountKey> | undefined;
  secretWarning: ReactNode;
}) {
  const { t } = useI18n();
  const editing = app !== null;
  const fcm = configOf(app, 'fcm');
  const shown = serviceAccount?.ok ? serviceAccount.content : fcm?.serviceAccount;
  const otherAccount =
    fcm &&
    serviceAccount?.ok &&
    (serviceAccount.content.project_id !== fcm.serviceAccount.project_id ||
      serviceAccount.content.client_email !== fcm.serviceAccount.client_email);
  return (
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
}
