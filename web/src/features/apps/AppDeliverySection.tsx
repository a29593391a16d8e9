/**
 * An app's delivery settings (docs/delivery-controls.md): the frequency cap (fatigue control) and
 * the quiet hours that apply to its marketing tasks. The form section, the values it maps to and
 * from the API, and the summary the app list shows.
 */
import { Col, Divider, Form, Input, InputNumber, Row, Select, Space, Switch, Tag, Typography } from 'antd';
import type { App, FrequencyCap, QuietHours } from '../../api/types.ts';
import { NONE } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';

/** Most marketing tasks a cap may allow a day / a week (the server's `MAX_PER_DAY`, `MAX_PER_WEEK`). */
const MAX_PER_DAY = 100;
const MAX_PER_WEEK = 700;

/** A time of day as the API takes it: `HH:MM`, 00:00 to 23:59. */
const TIME_OF_DAY = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/** The delivery settings as the form holds them. */
export interface DeliveryValues {
  capPerDay?: number | null;
  capPerWeek?: number | null;
  quietEnabled?: boolean;
  quietStart?: string;
  quietEnd?: string;
  quietTimeZone?: string;
}

/** The browser's time zone: the quiet hours' default. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Every IANA time zone the browser knows, UTC included. */
function timeZones(): string[] {
  const zones = Intl.supportedValuesOf('timeZone');
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
}

/** The form's delivery values for an app (or a new one: no cap, no quiet hours, the browser's zone). */
export function deliveryValuesOf(app: App | null): DeliveryValues {
  const cap = app?.frequencyCap;
  const quiet = app?.quietHours;
  return {
    capPerDay: cap?.perDay ?? null,
    capPerWeek: cap?.perWeek ?? null,
    quietEnabled: quiet !== null && quiet !== undefined,
    quietStart: quiet?.start ?? '22:00',
    quietEnd: quiet?.end ?? '08:00',
    quietTimeZone: quiet?.timeZone ?? browserTimeZone(),
  };
}

/** The frequency cap and quiet hours the form describes; null removes one. */
export function deliverySettingsOf(v: DeliveryValues): {
  frequencyCap: FrequencyCap | null;
  quietHours: QuietHours | null;
} {
  const perDay = typeof v.capPerDay === 'number' ? v.capPerDay : undefined;
  const perWeek = typeof v.capPerWeek === 'number' ? v.capPerWeek : undefined;
  return {
    frequencyCap:
      perDay === undefined && perWeek === undefined
        ? null
        : { ...(perDay !== undefined && { perDay }), ...(perWeek !== undefined && { perWeek }) },
    quietHours: v.quietEnabled
      ? {
          start: v.quietStart?.trim() ?? '',
          end: v.quietEnd?.trim() ?? '',
          timeZone: v.quietTimeZone ?? browserTimeZone(),
        }
      : null,
  };
}

/** The delivery form item an API field path points at (`quietHours.timeZone` → `quietTimeZone`), or null. */
export function deliveryItemOf(path: string): keyof DeliveryValues | null {
  const items: Record<string, keyof DeliveryValues> = {
    frequencyCap: 'capPerDay',
    'frequencyCap.perDay': 'capPerDay',
    'frequencyCap.perWeek': 'capPerWeek',
    quietHours: 'quietStart',
    'quietHours.start': 'quietStart',
    'quietHours.end': 'quietEnd',
    'quietHours.timeZone': 'quietTimeZone',
  };
  return items[path] ?? null;
}

/** The app form's section for the frequency cap and the quiet hours. */
export function AppDeliverySection() {
  const { t } = useI18n();
  const form = Form.useFormInstance<DeliveryValues>();
  const quietEnabled = Form.useWatch('quietEnabled', form);
  const timeOfDay = {
    validator: async (_: unknown, value: string | undefined) => {
      if (!TIME_OF_DAY.test(value?.trim() ?? '')) throw new Error(t('delivery.timeInvalid'));
    },
  };
  return (
    <div data-testid="app-delivery">
      <Divider titlePlacement="start" style={{ marginTop: 8 }}>
        {t('delivery.title')}
      </Divider>
      <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
        {t('delivery.explained')}
      </Typography.Paragraph>
      <Form.Item
        label={t('delivery.frequencyCap')}
        extra={t('delivery.frequencyCapHint')}
        style={{ marginBottom: 8 }}
      >
        <Row gutter={16}>
          <Col span={12}>
            <Form.Item
              name="capPerDay"
              noStyle
              rules={[
                {
                  type: 'integer',
                  min: 1,
                  max: MAX_PER_DAY,
                  message: t('delivery.capRange', { max: MAX_PER_DAY }),
                },
              ]}
            >
              <InputNumber
                min={1}
                max={MAX_PER_DAY}
                precision={0}
                prefix={t('delivery.atMost')}
                suffix={t('delivery.perDay')}
                placeholder={t('delivery.noLimit')}
                aria-label={t('delivery.perDayLabel')}
                style={{ width: '100%' }}
                data-testid="cap-per-day"
                onChange={() => void form.validateFields(['capPerWeek']).catch(() => undefined)}
              />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item
              name="capPerWeek"
              dependencies={['capPerDay']}
              rules={[
                {
                  type: 'integer',
                  min: 1,
                  max: MAX_PER_WEEK,
                  message: t('delivery.capRange', { max: MAX_PER_WEEK }),
                },
                {
                  validator: async (_, perWeek: number | null | undefined) => {
                    const perDay = form.getFieldValue('capPerDay') as number | null | undefined;
                    if (typeof perWeek === 'number' && typeof perDay === 'number' && perWeek < perDay) {
                      throw new Error(t('delivery.weekBelowDay', { n: perDay }));
                    }
                  },
                },
              ]}
              style={{ marginBottom: 0 }}
            >
              <InputNumber
                min={1}
                max={MAX_PER_WEEK}
                precision={0}
                prefix={t('delivery.atMost')}
                suffix={t('delivery.perWeek')}
                placeholder={t('delivery.noLimit')}
                aria-label={t('delivery.perWeekLabel')}
                style={{ width: '100%' }}
                data-testid="cap-per-week"
              />
            </Form.Item>
          </Col>
        </Row>
      </Form.Item>
      <Form.Item
        name="quietEnabled"
        label={t('delivery.quietHours')}
        valuePropName="checked"
        extra={t('delivery.quietHoursHint')}
      >
        <Switch aria-label={t('delivery.quietHours')} data-testid="quiet-enabled" />
      </Form.Item>
      {quietEnabled && (
        <Row gutter={16}>
          <Col span={6}>
            <Form.Item name="quietStart" label={t('delivery.quietStart')} rules={[timeOfDay]}>
              <Input placeholder="22:00" maxLength={5} data-testid="quiet-start" />
            </Form.Item>
          </Col>
          <Col span={6}>
            <Form.Item
              name="quietEnd"
              label={t('delivery.quietEnd')}
              dependencies={['quietStart']}
              rules={[
                timeOfDay,
                {
                  validator: async (_, end: string | undefined) => {
                    if (end?.trim() && end.trim() === (form.getFieldValue('quietStart') as string)?.trim()) {
                      throw new Error(t('delivery.sameStartEnd'));
                    }
                  },
                },
              ]}
            >
              <Input placeholder="08:00" maxLength={5} data-testid="quiet-end" />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item
              name="quietTimeZone"
              label={t('delivery.timeZone')}
              rules={[{ required: true, message: t('delivery.timeZoneRequired') }]}
            >
              <Select
                showSearch
                options={timeZones().map((zone) => ({ value: zone, label: zone }))}
                data-testid="quiet-time-zone"
              />
            </Form.Item>
          </Col>
        </Row>
      )}
    </div>
  );
}

/** An app's delivery settings in a few words for the app list: its cap and its quiet hours. */
export function DeliverySettingsCell({ app }: { app: App }) {
  const { t } = useI18n();
  const cap = app.frequencyCap;
  const quiet = app.quietHours;
  if (!cap && !quiet) return <Typography.Text type="secondary">{NONE}</Typography.Text>;
  return (
    <Space orientation="vertical" size={2} data-testid={`delivery-of-${app.id}`}>
      {cap && (
        <Tag color="purple" style={{ marginInlineEnd: 0 }}>
          {[
            cap.perDay !== undefined && t('delivery.capPerDayShort', { n: cap.perDay }),
            cap.perWeek !== undefined && t('delivery.capPerWeekShort', { n: cap.perWeek }),
          ]
            .filter(Boolean)
            .join(' · ')}
        </Tag>
      )}
      {quiet && (
        <Tag color="geekblue" style={{ marginInlineEnd: 0 }}>
          {t('delivery.quietShort', { start: quiet.start, end: quiet.end, zone: quiet.timeZone })}
        </Tag>
      )}
    </Space>
  );
}
