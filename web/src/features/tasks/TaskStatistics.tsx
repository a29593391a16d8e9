/**
 * A task's aggregate statistics as the details page shows them: the counters in two groups by
 * source (push service or device SDK), each with its definition on hover, and the funnel from
 * planned sends to opens. The counters only a delivery control fills (`capped`, `cancelled`) are
 * shown only when not zero (docs/statistics.md#counters).
 */
import { Card, Col, Row, Space, Statistic, Tooltip, Typography } from 'antd';
import type { Task, TaskStatistics } from '../../api/types.ts';
import { formatCount, formatHours, formatRate, NONE, rateOf } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { SourceLabel, type StatisticSource } from './task-parts.tsx';
import { useTaskWindows } from './windows.ts';

/** One counter: its label with its definition on hover, its count, and a rate when it has one. */
function Figure({
  label,
  value,
  rate,
  hint,
  testId,
}: {
  label: string;
  value: number | string;
  rate?: string;
  hint?: string;
  testId?: string;
}) {
  return (
    <Col xs={12} md={8} xl={6}>
      <Statistic
        title={hint ? <Tooltip title={hint}>{label}</Tooltip> : label}
        value={typeof value === 'number' ? formatCount(value) : value}
        suffix={
          rate !== undefined ? <span style={{ fontSize: 14, color: '#8c8c8c' }}>{rate}</span> : undefined
        }
        data-testid={testId}
      />
    </Col>
  );
}

/** The aggregate statistics in two groups by source. */
export function StatisticsPanel({ task }: { task: Task }) {
  const windows = useTaskWindows(task);
  const { t } = useI18n();
  const s = task.statistics;
  const ios = task.platform === 'ios';
  const sourceTitle = (label: string, source: StatisticSource) => (
    <Space>
      {label}
      <SourceLabel source={source} />
    </Space>
  );
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} xl={14}>
        <Card
          size="small"
          title={sourceTitle(t('details.providerStats'), 'provider')}
          style={{ height: '100%' }}
        >
          <Row gutter={[16, 16]}>
            <Figure
              label={t('stat.plannedSends')}
              value={s.plannedSends}
              hint={t('stat.plannedSendsHint')}
              testId="stat-planned"
            />
            <Figure label={t('stat.unmatched')} value={s.unmatched} hint={t('stat.unmatchedHint')} />
            {s.capped > 0 && (
              <Figure
                label={t('stat.capped')}
                value={s.capped}
                hint={t('stat.cappedHint')}
                testId="stat-capped"
              />
            )}
            <Figure label={t('stat.totalSent')} value={s.totalSent} hint={t('stat.totalSentHint')} />
            <Figure
              label={t('stat.deliveries')}
              value={s.deliveries}
              hint={t('stat.deliveriesHint')}
              testId="stat-deliveries"
            />
            <Figure label={t('stat.failures')} value={s.failures} hint={t('stat.failuresHint')} />
            <Figure
              label={t('stat.noFeedback')}
              value={ios ? 0 : s.noFeedback}
              hint={ios ? t('stat.noFeedbackIos') : t('stat.noFeedbackHint')}
            />
            <Figure
              label={t('stat.opens')}
              value={s.opens}
              rate={formatRate(s.openRate)}
              hint={t('stat.opensHint')}
              testId="stat-opens"
            />
            {(task.status === 'sending' || s.pending > 0) && (
              <Figure label={t('stat.pending')} value={s.pending} hint={t('stat.pendingHint')} />
            )}
            {s.cancelled > 0 && (
              <Figure
                label={t('stat.cancelled')}
                value={s.cancelled}
                hint={t('stat.cancelledHint')}
                testId="stat-cancelled"
              />
            )}
          </Row>
        </Card>
      </Col>
      <Col xs={24} xl={10}>
        <Card size="small" title={sourceTitle(t('details.sdkStats'), 'sdk')} style={{ height: '100%' }}>
          <Row gutter={[16, 16]}>
            <Col span={12}>
              <Statistic
                title={<Tooltip title={t('stat.impressionsHint')}>{t('stat.impressions')}</Tooltip>}
                value={formatCount(s.impressions)}
                suffix={
                  <span style={{ fontSize: 14, color: '#8c8c8c' }}>{formatRate(s.impressionRate)}</span>
                }
                data-testid="stat-impressions"
              />
            </Col>
            <Col span={12}>
              <Statistic
                title={<Tooltip title={t('stat.dismissalsHint')}>{t('stat.dismissals')}</Tooltip>}
                value={ios ? '0' : formatCount(s.dismissals)}
                suffix={
                  <span style={{ fontSize: 14, color: '#8c8c8c' }}>
                    {ios ? NONE : formatRate(s.dismissalRate)}
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
    </Row>
  );
}

/** Planned sends → sent → delivered → impressions → opens, each as a share of planned sends. */
export function Funnel({ statistics: s }: { statistics: TaskStatistics }) {
  const { t } = useI18n();
  const steps = [
    { label: t('stat.plannedSends'), value: s.plannedSends, color: '#91caff' },
    { label: t('stat.totalSent'), value: s.totalSent, color: '#69b1ff' },
    { label: t('stat.deliveries'), value: s.deliveries, color: '#4096ff' },
    { label: t('stat.impressions'), value: s.impressions, color: '#36cfc9' },
    { label: t('stat.opens'), value: s.opens, color: '#52c41a' },
  ];
  return (
    <Card size="small" title={t('details.funnel')} style={{ height: '100%' }} data-testid="funnel">
      {s.plannedSends === 0 ? (
        <Typography.Text type="secondary">{t('details.funnelEmpty')}</Typography.Text>
      ) : (
        <Space orientation="vertical" size={10} style={{ width: '100%' }}>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('details.funnelLegend')}
          </Typography.Text>
          {steps.map((step, i) => {
            const share = rateOf(step.value, s.plannedSends) ?? 0;
            const fromPrevious = i === 0 ? null : rateOf(step.value, steps[i - 1]!.value);
            return (
              <div key={step.label} data-testid={`funnel-${i}`}>
                <div style={{ display: 'flex', justifyContent: 'space-between', gap: 12, fontSize: 13 }}>
                  <span>{step.label}</span>
                  <span>
                    {formatCount(step.value)} · {formatRate(share)}
                    {i > 0 && (
                      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                        {' '}
                        (↓ {formatRate(fromPrevious)})
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
