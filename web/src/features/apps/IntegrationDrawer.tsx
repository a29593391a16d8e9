/**
 * How an app's devices talk to Pushboard (docs/devices.md#sdk-registration): the SDK key in full, the two endpoints as
 * absolute URLs with the headers that authenticate them, and code to copy in TypeScript, Kotlin and
 * Swift, opened on the app's own platform. The SDK secret shows masked, as every read has it: it
 * was shown in full once, and rotating the secrets is the way to a new one.
 */
import { CheckOutlined, CopyOutlined, KeyOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Descriptions, Drawer, Popconfirm, Space, Tabs, Typography, theme } from 'antd';
import { type CSSProperties, useState } from 'react';
import type { App } from '../../api/types.ts';
import { PlatformIcon } from '../../components/PlatformIcon.tsx';
import type { MessageKey } from '../../i18n/en.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import {
  defaultSnippetLanguage,
  SDK_DEVICES_PATH,
  SDK_RECEIPTS_PATH,
  SNIPPET_LANGUAGES,
  type SnippetLanguage,
  sdkSnippet,
} from './sdk-snippets.ts';

const TAB_LABEL: Record<SnippetLanguage, MessageKey> = {
  typescript: 'integrate.tab.typescript',
  kotlin: 'integrate.tab.kotlin',
  swift: 'integrate.tab.swift',
};
const TAB_HINT: Record<SnippetLanguage, MessageKey> = {
  typescript: 'integrate.hint.typescript',
  kotlin: 'integrate.hint.kotlin',
  swift: 'integrate.hint.swift',
};

const CODE_BLOCK: CSSProperties = {
  margin: 0,
  padding: '12px 16px',
  background: '#f6f8fa',
  border: '1px solid #eaecef',
  borderRadius: 6,
  fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
  fontSize: 12,
  lineHeight: 1.6,
  whiteSpace: 'pre',
  overflowX: 'auto',
};

/** An endpoint as one copyable line, `POST https://…/path`. */
function Endpoint({ url, testId }: { url: string; testId: string }) {
  return (
    <Typography.Text code copyable={{ text: url }} style={{ wordBreak: 'break-all' }} data-testid={testId}>
      POST {url}
    </Typography.Text>
  );
}

/** The integration drawer of one app; `onRotate` replaces its secrets (the page shows the new ones). */
export function IntegrationDrawer({
  app,
  onRotate,
  onClose,
}: {
  app: App;
  onRotate: () => Promise<unknown>;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { token } = theme.useToken();
  const [language, setLanguage] = useState<SnippetLanguage>(defaultSnippetLanguage(app.platform));
  // The console is served by the API server, so its own origin is the base URL devices call.
  const baseUrl = window.location.origin;
  const values = { baseUrl, sdkKey: app.sdkKey };

  return (
    <Drawer
      title={
        <span>
          <PlatformIcon platform={app.platform} /> {t('integrate.title', { name: app.name })}
        </span>
      }
      open
      onClose={onClose}
      size={920}
      rootClassName="integration-drawer"
    >
      <Space orientation="vertical" size={16} style={{ width: '100%' }}>
        <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
          {t('integrate.intro')}
        </Typography.Paragraph>

        <Card size="small" title={t('integrate.credentials')}>
          <Descriptions column={1} size="small" styles={{ label: { width: 150 } }}>
            <Descriptions.Item label={t('apps.sdkKey')}>
              <div>
                <Typography.Text code copyable data-testid="sdk-key">
                  {app.sdkKey}
                </Typography.Text>
                <div>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t('integrate.sdkKeyHint')}
                  </Typography.Text>
                </div>
              </div>
            </Descriptions.Item>
            <Descriptions.Item label={t('integrate.sdkSecret')}>
              <div>
                <Typography.Text code data-testid="sdk-secret">
                  {app.sdkSecret}
                </Typography.Text>
                <div style={{ marginTop: 4 }}>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t('integrate.sdkSecretHint')}
                  </Typography.Text>
                </div>
                <Popconfirm
                  title={t('apps.rotateConfirm')}
                  description={t('integrate.rotateHint')}
                  okText={t('apps.rotate')}
                  cancelText={t('common.cancel')}
                  onConfirm={() => onRotate().catch(() => {})}
                  disabled={!ws.isOwner}
                >
                  <Button
                    size="small"
                    icon={<KeyOutlined />}
                    disabled={!ws.isOwner}
                    style={{ marginTop: 8 }}
                    data-testid="integrate-rotate"
                  >
                    {t('apps.rotate')}
                  </Button>
                </Popconfirm>
              </div>
            </Descriptions.Item>
          </Descriptions>
        </Card>

        <Card size="small" title={t('integrate.endpoints')}>
          <Descriptions column={1} size="small" styles={{ label: { width: 150 } }}>
            <Descriptions.Item label={t('integrate.register')}>
              <div>
                <Endpoint url={`${baseUrl}${SDK_DEVICES_PATH}`} testId="endpoint-devices" />
                <div>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t('integrate.registerHint')}
                  </Typography.Text>
                </div>
              </div>
            </Descriptions.Item>
            <Descriptions.Item label={t('integrate.receipts')}>
              <div>
                <Endpoint url={`${baseUrl}${SDK_RECEIPTS_PATH}`} testId="endpoint-receipts" />
                <div>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t('integrate.receiptsHint')}
                  </Typography.Text>
                </div>
              </div>
            </Descriptions.Item>
            <Descriptions.Item label={t('integrate.headers')}>
              <div data-testid="sdk-headers">
                <div>
                  <Typography.Text code>X-Pushboard-Key: {app.sdkKey}</Typography.Text>
                </div>
                <div style={{ marginTop: 4 }}>
                  <Typography.Text code>X-Pushboard-Signature</Typography.Text>{' '}
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t('integrate.signatureHint')}
                  </Typography.Text>
                </div>
              </div>
            </Descriptions.Item>
          </Descriptions>
        </Card>

        <Card size="small" title={t('integrate.code')} styles={{ body: { paddingTop: 0 } }}>
          <Tabs
            activeKey={language}
            onChange={(key) => setLanguage(key as SnippetLanguage)}
            destroyOnHidden
            renderTabBar={(props, DefaultTabBar) => (
              // The tabs and the copy button stay in sight while a long snippet scrolls by, at the
              // very top of the drawer's body (whose padding would otherwise show code above them).
              <div
                style={{
                  position: 'sticky',
                  top: -token.paddingLG,
                  zIndex: 2,
                  background: token.colorBgContainer,
                }}
              >
                <DefaultTabBar {...props} />
              </div>
            )}
            items={SNIPPET_LANGUAGES.map((key) => ({
              key,
              label: t(TAB_LABEL[key]),
              children: (
                <>
                  <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
                    {t(TAB_HINT[key])}
                  </Typography.Paragraph>
                  {key === 'typescript' && (
                    <Alert
                      type="info"
                      showIcon
                      title={<code>npm install @pushboard/sdk</code>}
                      style={{ marginBottom: 12 }}
                    />
                  )}
                  <pre style={CODE_BLOCK} data-testid="snippet-code">
                    <code>{sdkSnippet(key, values)}</code>
                  </pre>
                </>
              ),
            }))}
            tabBarExtraContent={
              <Typography.Text
                // A new tab's code is not copied yet: its button starts again at Copy.
                key={language}
                copyable={{
                  text: sdkSnippet(language, values),
                  // The button's own words say Copy and Copied already.
                  tooltips: false,
                  icon: [
                    <span key="copy">
                      <CopyOutlined /> {t('integrate.copyCode')}
                    </span>,
                    <span key="copied">
                      <CheckOutlined /> {t('common.copied')}
                    </span>,
                  ],
                }}
                data-testid="copy-snippet"
              />
            }
          />
        </Card>
      </Space>
    </Drawer>
  );
}
