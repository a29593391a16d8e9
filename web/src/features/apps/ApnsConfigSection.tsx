/**
 * The APNs config section of the app form: the team, key and bundle IDs, the environment, and the
 * `.p8` key file (read in the browser; a stored one is kept on a change unless another is chosen).
 */
import { Col, Form, Input, Radio, Row } from 'antd';
import type { ReactNode } from 'react';
import type { App } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { BaseUrlItem, SendingLimits } from './config-items.tsx';
import { KeptKey, KeyFileInput, keyFileRule } from './KeyFileInput.tsx';
import { parseP8Key } from './key-files.ts';
import { configOf } from './providers.ts';

/** The APNs credentials and options of `app` (null: a new app); `secretWarning` sits under the key file. */
export function ApnsConfigSection({ app, secretWarning }: { app: App | null; secretWarning: ReactNode }) {
  const { t } = useI18n();
  const editing = app !== null;
  const apns = configOf(app, 'apns');
  return (
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
}
