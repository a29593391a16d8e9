/**
 * The simulator config section of the app form: the outcome rates, time scale, seed and rate
 * limit of the simulated provider; every field falls back to the simulator's default when empty.
 */
import { Col, Form, InputNumber, Row, Typography } from 'antd';
import { useI18n } from '../../i18n/i18n.tsx';
import { RATES } from './app-form-values.ts';
import { RateLimitItem } from './config-items.tsx';

/** The simulator's settings; they are no credentials, so any member may change them. */
export function SimulatorConfigSection() {
  const { t } = useI18n();
  return (
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
