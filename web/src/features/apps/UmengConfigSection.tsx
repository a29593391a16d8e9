/**
 * The Umeng config section of the app form: the appKey and App Master Secret (kept masked on a
 * change unless a new one is typed), production mode, and on Android the vendor-channel options.
 */
import { Col, Form, Input, Row, Switch } from 'antd';
import type { ReactNode } from 'react';
import type { App, Platform } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { parseChannelProperties } from './app-form-values.ts';
import { BaseUrlItem, RateLimitItem } from './config-items.tsx';
import { configOf } from './providers.ts';

/** The Umeng credentials and options of `app` (null: a new app of `platform`); `secretWarning` sits under the appKey. */
export function UmengConfigSection({
  app,
  platform,
  secretWarning,
}: {
  app: App | null;
  platform: Platform;
  secretWarning: ReactNode;
}) {
  const { t } = useI18n();
  const editing = app !== null;
  const umeng = configOf(app, 'umeng');
  return (
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
        <Input.Password autoComplete="new-password" placeholder={umeng ? umeng.appMasterSecret : undefined} />
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
}
