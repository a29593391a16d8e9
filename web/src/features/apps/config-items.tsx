/**
 * Form items several providers' config sections share: the sending limits, the rate limit and the
 * base URL of the provider's API.
 */
import { Col, Form, Input, InputNumber, Row } from 'antd';
import { useI18n } from '../../i18n/i18n.tsx';

/** Most requests in flight at once for one app, as the server allows. */
const MAX_CONCURRENCY = 1000;

/** The concurrency and rate limit of a per-device provider (FCM, APNs). */
export function SendingLimits() {
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

/** How many devices a second the app hands to its provider; the deployment's default when empty, 0 for no limit. */
export function RateLimitItem() {
  const { t } = useI18n();
  return (
    <Form.Item name="rateLimitPerSecond" label={t('apps.rateLimit')} tooltip={t('apps.rateLimitHint')}>
      <InputNumber min={0} precision={0} placeholder={t('apps.default')} style={{ width: '100%' }} />
    </Form.Item>
  );
}

/** The optional base URL of a provider's API (tests and proxies); the real endpoint when empty. */
export function BaseUrlItem({ placeholder }: { placeholder: string }) {
  const { t } = useI18n();
  return (
    <Form.Item name="baseUrl" label={t('apps.baseUrl')} extra={t('apps.providerBaseUrlHint')}>
      <Input placeholder={placeholder} />
    </Form.Item>
  );
}
