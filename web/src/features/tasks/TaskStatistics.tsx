/**
 * A task's aggregate statistics as the details page shows them: the counters in two groups (delivery,
 * on the device), each with its source dot (push service, device SDK or Pushboard's own count) and
 * its definition behind ⓘ, every rate labelled with its base, and the funnel from planned sends to opens. The counters only a delivery control fills (`capped`, `cancelled`) are
 * shown only when not zero (docs/statistics.md#counters).
 */
import { Card, Col, Row, Space, Statistic, Typography } from 'antd';
import type { Task, TaskStatistics } from '../../api/types.ts';
import { formatCount, formatHours, formatRate, NONE, rateOf } from '../../i18n/format.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import { Defined, SourceLabel, SourceLegend, type StatisticSource } from './task-parts.tsx';
import { useTaskWindows } from './windows.ts';

/** One counter: its source dot, its label with its definition behind ⓘ, its count, and a rate with its base. */
function Figure({
  label,
  value,
  rate,
  hint,
  source,
  testId,
  span = { xs: 12, md: 8, xl: 6 },
}: {
  label: string;
  value: number | string;
  rate?: string;
  hint: string;
  source: StatisticSource;
  testId?: string;
  span?: { xs?: number; md?: number; xl?: number; span?: number };
}) {
  return (
    <Col {...span}>
      <Statistic
        title={
          <>
            <SourceLabel source={source} compact />
            <Defined label={label} definition={hint} />
          </>
        }
        value={typeof value === 'number' ? formatCount(value) : value}
        suffix={
          rate !== undefined ? (
            <span style={{ fontSize: 13, color: '#8c8c8c' }} data-testid={testId && `${testId}-rate`}>
              {rate}
            </span>
          ) : undefined
        }
        data-testid={testId}
      />
    </Col>
  );
}

/** The base a rate is a share of, as its label's message. */
export type RateBase = 'rate.ofPlanned' | 'rate.ofSent' | 'rate.ofDeliveries' | 'rate.ofChannels';

/**
 * `part ÷ whole` labelled with its base ("5.1% of deliveries"), or "–" over a zero base: the one
 * way the details page writes a rate, so that the same rate reads the same wherever it appears.
 */
export function labelledRate(part: number, whole: number, base: RateBase, t: Translate): string {
  return whole === 0 ? NONE : t(base, { rate: formatRate(rateOf(part, whole)) });
}

/** The aggregate statistics in two groups by source. */
export function StatisticsPanel({ task }: { task: Task }) {
  const windows = useTaskWindows(task);
  const { t } = useI18n();
  const s = task.statistics;
  const ios = task.platform === 'ios';
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} xl={14}>
        <Card size="small" title={t('details.providerStats')} style={{ height: '100%' }}>
          <Row gutter={[16, 16]}>
            <Figure
              label={t('stat.plannedSends')}
              value={s.plannedSends}
              hint={t('stat.plannedSendsHint')}
              source="pushboard"
              testId="stat-planned"
            />
            <Figure
              label={t('stat.unmatched')}
              value={s.unmatched}
              hint={t('stat.unmatchedHint')}
              source="pushboard"
            />
            {s.capped > 0 && (
              <Figure
                label={t('stat.capped')}
                value={s.capped}
                hint={t('stat.cappedHint')}
                source="pushboard"
                testId="stat-capped"
              />
            )}
            <Figure
              label={t('stat.totalSent')}
              value={s.totalSent}
              hint={t('stat.totalSentHint')}
              source="provider"
            />
            <Figure
              label={t('stat.deliveries')}
              value={s.deliveries}
              rate={
                s.totalSent === 0
                  ? undefined
                  : t('rate.ofSent', { rate: formatRate(rateOf(s.deliveries, s.totalSent)) })
              }
              hint={t('stat.deliveriesHint')}
              source="provider"
              testId="stat-deliveries"
            />
            <Figure
              label={t('stat.failures')}
              value={s.failures}
              hint={t('stat.failuresHint')}
              source="provider"
            />
            <Figure
              label={t('stat.noFeedback')}
              value={ios ? 0 : s.noFeedback}
              hint={ios ? t('stat.noFeedbackIos') : t('stat.noFeedbackHint')}
              source="provider"
            />
            <Figure
              label={t('stat.opens')}
              value={s.opens}
              rate={labelledRate(s.opens, s.deliveries, 'rate.ofDeliveries', t)}
              hint={t('stat.opensHint')}
              source="provider"
              testId="stat-opens"
            />
            {(task.status === 'sending' || s.pending > 0) && (
              <Figure
                label={t('stat.pending')}
                value={s.pending}
                hint={t('stat.pendingHint')}
                source="pushboard"
              />
            )}
            {s.cancelled > 0 && (
              <Figure
                label={t('stat.cancelled')}
                value={s.cancelled}
                hint={t('stat.cancelledHint')}
                source="pushboard"
                testId="stat-cancelled"
              />
            )}
          </Row>
        </Card>
      </Col>
      <Col xs={24} xl={10}>
        <Card size="small" title={t('details.sdkStats')} style={{ height: '100%' }}>
          <Row gutter={[16, 16]}>
            <Figure
              label={t('stat.impressions')}
              value={s.impressions}
              rate={labelledRate(s.impressions, s.deliveries, 'rate.ofDeliveries', t)}
              hint={t('stat.impressionsHint')}
              source="sdk"
              testId="stat-impressions"
              span={{ span: 12 }}
            />
            <Col span={12}>
              <Statistic
                title={
                  <>
                    <SourceLabel source="sdk" compact />
                    <Defined label={t('stat.dismissals')} definition={t('stat.dismissalsHint')} />
                  </>
                }
                value={ios ? '0' : formatCount(s.dismissals)}
                suffix={
                  <span style={{ fontSize: 13, color: '#8c8c8c' }}>
                    {ios ? NONE : labelledRate(s.dismissals, s.deliveries, 'rate.ofDeliveries', t)}
                  </span>
                }
              />
              {ios && (
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {t('stat.dismissalsIos')}
                </Typography.Text>
              )}
            </Col>
          </Row>
          {s.late > 0 && (
            <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: 12, marginBottom: 0 }}>
              {t('stat.late', { n: formatCount(s.late), hours: formatHours(windows.statisticsHours, t) })}
            </Typography.Paragraph>
          )}
          <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: 12, marginBottom: 0 }}>
            {t('details.ratesExplained')}
          </Typography.Paragraph>
        </Card>
      </Col>
      <Col span={24}>
        <SourceLegend />
      </Col>
    </Row>
  );
}

/**
 * Planned sends → sent → delivered → impressions → opens. Each step shows the one rate it has
 * everywhere else, over its named base — sent over planned sends, deliveries over sent, impressions
 * and opens over deliveries — so the funnel, the cards and the channel table never disagree. The bars
 * are drawn to the scale of planned sends.
 */
export function Funnel({ statistics: s }: { statistics: TaskStatistics }) {
  const { t } = useI18n();
  const steps = [
    { label: t('stat.plannedSends'), value: s.plannedSends, color: '#91caff', rate: null },
    {
      label: t('stat.totalSent'),
      value: s.totalSent,
      color: '#69b1ff',
      rate: labelledRate(s.totalSent, s.plannedSends, 'rate.ofPlanned', t),
    },
    {
      label: t('stat.deliveries'),
      value: s.deliveries,
      color: '#4096ff',
      rate: labelledRate(s.deliveries, s.totalSent, 'rate.ofSent', t),
    },
    {
      label: t('stat.impressions'),
      value: s.impressions,
      color: '#36cfc9',
      rate: labelledRate(s.impressions, s.deliveries, 'rate.ofDeliveries', t),
    },
    {
      label: t('stat.opens'),
      value: s.opens,
      color: '#52c41a',
      rate: labelledRate(s.opens, s.deliveries, 'rate.ofDeliveries', t),
    },
  ];
  return (
    <Card
      size="small"
      title={<Defined label={t('details.funnel')} definition={t('details.funnelRates')} />}
      style={{ height: '100%' }}
      data-testid="funnel"
    >
      {s.plannedSends === 0 ? (
        <Typography.Text type="secondary">{t('details.funnelEmpty')}</Typography.Text>
      ) : (
        <Space orientation="vertical" size={10} style={{ width: '100%' }}>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('details.funnelLegend')}
          </Typography.Text>
          {steps.map((step, i) => {
            const share = rateOf(step.value, s.plannedSends) ?? 0;
            return (
              <div key={step.label} data-testid={`funnel-${i}`}>
                <div style={{ display: 'flex', justifyContent: 'space-between', gap: 12, fontSize: 13 }}>
                  <span>{step.label}</span>
                  <span>
                    {formatCount(step.value)}
                    {step.rate !== null && (
                      <Typography.Text
                        type="secondary"
                        style={{ fontSize: 12 }}
                        data-testid={`funnel-${i}-rate`}
                      >
                        {' · '}
                        {step.rate}
                      </Typography.Text>
                    )}
                  </span>
                </div>
                <div style={{ background: '#f5f5f5', borderRadius: 4, height: 14, marginTop: 2 }}>
                  <div
                    style={{
                      width: `${Math.max(share * 100, step.value > 0 ? 0.5 : 0)}%`,
                      background: step.color,
                      height: '100%',
                      borderRadius: 4,
                    }}
                  />
                </div>
              </div>
            );
          })}
          {(s.capped > 0 || s.cancelled > 0) && (
            <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="funnel-held-back">
              {[
                s.capped > 0 &&
                  t('details.funnelCapped', {
                    n: formatCount(s.capped),
                    share: formatRate(rateOf(s.capped, s.plannedSends)),
                  }),
                s.cancelled > 0 &&
                  t('details.funnelCancelled', {
                    n: formatCount(s.cancelled),
                    share: formatRate(rateOf(s.cancelled, s.plannedSends)),
                  }),
              ]
                .filter(Boolean)
                .join(' · ')}
            </Typography.Text>
          )}
        </Space>
      )}
    </Card>
  );
}
