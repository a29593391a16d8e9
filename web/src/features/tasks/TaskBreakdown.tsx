/**
 * The breakdown of a task's details page (docs/console.md): its device results per channel — so that a weak
 * OEM vendor channel stands out —, why its devices failed, and the timeline of its receipts over the
 * statistics window. All three
 * come from `GET …/tasks/{id}/breakdown`, which is counted from the device-level details from the start
 * of the send, refreshed as the statistics move, and kept by the server when retention deletes them.
 */
import { QuestionCircleOutlined, SyncOutlined } from '@ant-design/icons';
import { type UseQueryResult, useQuery } from '@tanstack/react-query';
import {
  Alert,
  Button,
  Card,
  Empty,
  Segmented,
  Skeleton,
  Space,
  Table,
  type TableProps,
  Tooltip,
  Typography,
} from 'antd';
import { useState } from 'react';
import { api } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import type { ChannelBreakdown, FailureReasonCount, Task, TaskBreakdown } from '../../api/types.ts';
import { formatCount, formatDateTime, formatHours, formatRate, rateOf } from '../../i18n/format.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import { channelKind, channelLabel } from './channels.ts';
import { refreshGapMs, statisticsSignature, useRefreshOnChange } from './live.ts';
import { labelledRate, type RateBase } from './TaskStatistics.tsx';
import { TimelineChart, type TimelineKind, type TimelineSeries } from './TimelineChart.tsx';
import { SourceLabel, type StatisticSource } from './task-parts.tsx';

/** The breakdown read of a task, or why there is none. */
export interface BreakdownState {
  query: UseQueryResult<TaskBreakdown>;
  /** Whether the task has started sending: before that there is nothing to break down. */
  started: boolean;
}

/** Least time between two refreshes while the window is open, so that the timeline's axis moves on. */
const WINDOW_REFRESH_MS = 60_000;

/**
 * Reads the breakdown of `task` (when it has started) and refreshes it when its statistics move, at
 * most once per `refreshGapMs` of its size, and every minute while the statistics window is open.
 */
export function useTaskBreakdown(workspaceId: string, task: Task | undefined): BreakdownState {
  const started = task !== undefined && task.startedAt !== null && task.status !== 'scheduled';
  const windowOpen =
    started && task.statisticsFinalAt !== null && Date.parse(task.statisticsFinalAt) > Date.now();
  const gap = refreshGapMs(task?.statistics.totalSent ?? 0);
  const query = useQuery({
    queryKey: ['ws', workspaceId, 'task', task?.id, 'breakdown'],
    queryFn: () => api.tasks.breakdown(workspaceId, task!.id),
    enabled: started,
    // 410 (details expired) and 404 will not change by asking again.
    retry: (count, error) =>
      !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
    refetchInterval: windowOpen ? Math.max(gap, WINDOW_REFRESH_MS) : false,
  });
  useRefreshOnChange(
    task ? statisticsSignature(task) : '',
    query.refetch,
    query.dataUpdatedAt,
    gap,
    started && !query.isError,
  );
  return { query, started };
}

/** The message of a breakdown that cannot be shown: expired details, or a failed read with a retry. */
function BreakdownProblem({ task, query }: { task: Task; query: UseQueryResult<TaskBreakdown> }) {
  const { t } = useI18n();
  if (query.error instanceof ApiError && query.error.status === 410) {
    return (
      <Alert
        type="info"
        showIcon
        title={t('breakdown.expiredTitle')}
        description={t('breakdown.expired', { time: formatDateTime(task.detailsExpireAt) })}
      />
    );
  }
  return (
    <Alert
      type="error"
      showIcon
      title={t('breakdown.loadFailed')}
      description={query.error instanceof Error ? query.error.message : String(query.error)}
      action={
        <Button size="small" onClick={() => query.refetch()}>
          {t('common.retry')}
        </Button>
      }
    />
  );
}

/** The series of a timeline: deliveries and opens (push service), impressions and dismissals (SDK). */
function timelineSeries(task: Task, t: Translate): TimelineSeries[] {
  const series: TimelineSeries[] = [
    { kind: 'deliveries', label: t('stat.deliveries'), color: '#4096ff' },
    { kind: 'impressions', label: t('stat.impressions'), color: '#36cfc9' },
    { kind: 'opens', label: t('stat.opens'), color: '#52c41a' },
    { kind: 'dismissals', label: t('stat.dismissals'), color: '#fa8c16' },
  ];
  // iOS reports no dismissals: no series that would always be empty.
  return task.platform === 'ios' ? series.filter((s) => s.kind !== 'dismissals') : series;
}

const SERIES_SOURCE: Record<TimelineKind, StatisticSource> = {
  deliveries: 'provider',
  impressions: 'sdk',
  opens: 'provider',
  dismissals: 'sdk',
};

/** A bucket size in words: "5 min", "1 h". */
function bucketLabel(minutes: number, t: Translate): string {
  return minutes % 60 === 0 ? t('unit.hours', { n: minutes / 60 }) : t('unit.minutes', { n: minutes });
}

/** The timeline card: receipts per time bucket since the send started, per interval or cumulative. */
export function TimelineCard({ task, breakdown }: { task: Task; breakdown: BreakdownState }) {
  const { t } = useI18n();
  const [cumulative, setCumulative] = useState(false);
  const [hidden, setHidden] = useState<ReadonlySet<TimelineKind>>(new Set());
  const { query, started } = breakdown;
  const all = timelineSeries(task, t);
  const series = all.filter((s) => !hidden.has(s.kind));
  const toggle = (kind: TimelineKind) =>
    setHidden((before) => {
      const next = new Set(before);
      if (!next.delete(kind)) next.add(kind);
      return next;
    });

  const windowHours =
    task.startedAt && task.statisticsFinalAt
      ? Math.round((Date.parse(task.statisticsFinalAt) - Date.parse(task.startedAt)) / 3_600_000)
      : 72;
  const windowOpen = task.statisticsFinalAt !== null && Date.parse(task.statisticsFinalAt) > Date.now();

  let body: React.ReactNode;
  if (!started) {
    body = <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('timeline.notStarted')} />;
  } else if (query.isPending) {
    body = <Skeleton active paragraph={{ rows: 5 }} />;
  } else if (query.isError) {
    body = <BreakdownProblem task={task} query={query} />;
  } else {
    const { buckets, bucketMinutes } = query.data.timeline;
    const empty = buckets.every((b) => all.every((s) => b[s.kind] === 0));
    body = (
      <>
        <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginBottom: 8 }}>
          {windowOpen && task.startedAt
            ? t('timeline.caption', {
                bucket: bucketLabel(bucketMinutes, t),
                hours: formatHours(windowHours, t),
              })
            : t('timeline.captionFinal', {
                bucket: bucketLabel(bucketMinutes, t),
                hours: formatHours(windowHours, t),
              })}
        </Typography.Paragraph>
        <div style={{ position: 'relative' }}>
          <TimelineChart
            buckets={buckets}
            bucketMinutes={bucketMinutes}
            series={series}
            cumulative={cumulative}
            windowOpen={windowOpen}
          />
          {empty && (
            <Typography.Text
              type="secondary"
              style={{ position: 'absolute', top: '40%', width: '100%', textAlign: 'center' }}
            >
              {t('timeline.noReceipts')}
            </Typography.Text>
          )}
        </div>
        <Space size={16} wrap style={{ marginTop: 8 }} data-testid="timeline-legend">
          {all.map((s) => (
            <button
              key={s.kind}
              type="button"
              onClick={() => toggle(s.kind)}
              aria-pressed={!hidden.has(s.kind)}
              style={{
                border: 'none',
                background: 'none',
                padding: 0,
                cursor: 'pointer',
                fontSize: 12,
                opacity: hidden.has(s.kind) ? 0.4 : 1,
                display: 'inline-flex',
                alignItems: 'center',
                gap: 6,
              }}
            >
              <span style={{ width: 10, height: 10, borderRadius: 2, background: s.color }} />
              {s.label}
              <SourceLabel source={SERIES_SOURCE[s.kind]} compact />
            </button>
          ))}
        </Space>
      </>
    );
  }

  return (
    <Card
      size="small"
      title={t('timeline.title')}
      style={{ height: '100%' }}
      extra={
        started && (
          <Segmented<'interval' | 'cumulative'>
            size="small"
            value={cumulative ? 'cumulative' : 'interval'}
            onChange={(value) => setCumulative(value === 'cumulative')}
            options={[
              { value: 'interval', label: t('timeline.perInterval') },
              { value: 'cumulative', label: t('timeline.cumulative') },
            ]}
          />
        )
      }
      data-testid="timeline"
    >
      {body}
    </Card>
  );
}

/** A count with its rate beneath, as in the task list. */
function CountAndRate({ count, rate }: { count: number; rate?: string }) {
  return (
    <div>
      <div>{formatCount(count)}</div>
      {rate !== undefined && (
        <Typography.Text type="secondary" style={{ fontSize: 12, whiteSpace: 'nowrap' }}>
          {rate}
        </Typography.Text>
      )}
    </div>
  );
}

/** Whether the channel counts add up to other numbers than the header's: the table is being refreshed. */
function lagsBehind(channels: ChannelBreakdown[], task: Task): boolean {
  const s = task.statistics;
  const sum = (key: 'totalSent' | 'deliveries' | 'impressions' | 'opens') =>
    channels.reduce((n, c) => n + c[key], 0);
  return (
    sum('totalSent') !== s.totalSent ||
    sum('deliveries') !== s.deliveries ||
    sum('impressions') !== s.impressions ||
    sum('opens') !== s.opens
  );
}

/** One column of the channel table: its heading and how a channel's row (or the total row) reads. */
interface ChannelColumn {
  key: string;
  title: React.ReactNode;
  cell: (c: ChannelBreakdown) => React.ReactNode;
}

/** The channel table: each statistic per channel the devices were reached through, and their total. */
export function ChannelsCard({ task, breakdown }: { task: Task; breakdown: BreakdownState }) {
  const { t } = useI18n();
  const { query, started } = breakdown;
  const ios = task.platform === 'ios';
  const channels = query.data?.channels ?? [];
  const sum = (key: keyof Omit<ChannelBreakdown, 'channel'>) => channels.reduce((n, c) => n + c[key], 0);
  const sentTotal = sum('totalSent');
  const ofBase = (part: number, whole: number, base: RateBase) => labelledRate(part, whole, base, t);

  const head = (label: string, source: StatisticSource, hint?: string) => (
    <span style={{ whiteSpace: 'nowrap' }}>
      <SourceLabel source={source} compact />
      {label}
      {hint && (
        <Tooltip title={hint}>
          <QuestionCircleOutlined style={{ marginInlineStart: 4, color: '#8c8c8c' }} />
        </Tooltip>
      )}
    </span>
  );

  const figures: ChannelColumn[] = [
    {
      key: 'totalSent',
      title: head(t('stat.totalSent'), 'provider'),
      cell: (c) => (
        <CountAndRate count={c.totalSent} rate={ofBase(c.totalSent, sentTotal, 'rate.ofChannels')} />
      ),
    },
    {
      key: 'deliveries',
      title: head(t('stat.deliveries'), 'provider', t('breakdown.deliveryRate')),
      cell: (c) => (
        <CountAndRate count={c.deliveries} rate={ofBase(c.deliveries, c.totalSent, 'rate.ofSent')} />
      ),
    },
    { key: 'failures', title: head(t('stat.failures'), 'provider'), cell: (c) => formatCount(c.failures) },
    // iOS has no "no feedback" and no dismissals (docs/statistics.md#counters): no columns that would always read 0.
    ...(ios
      ? []
      : [
          {
            key: 'noFeedback',
            title: head(t('stat.noFeedback'), 'provider'),
            cell: (c: ChannelBreakdown) => formatCount(c.noFeedback),
          },
        ]),
    {
      key: 'impressions',
      title: head(t('stat.impressions'), 'sdk'),
      cell: (c) => (
        <CountAndRate count={c.impressions} rate={ofBase(c.impressions, c.deliveries, 'rate.ofDeliveries')} />
      ),
    },
    {
      key: 'opens',
      title: head(t('stat.opens'), 'provider'),
      cell: (c) => <CountAndRate count={c.opens} rate={ofBase(c.opens, c.deliveries, 'rate.ofDeliveries')} />,
    },
    ...(ios
      ? []
      : [
          {
            key: 'dismissals',
            title: head(t('stat.dismissals'), 'sdk'),
            cell: (c: ChannelBreakdown) => (
              <CountAndRate
                count={c.dismissals}
                rate={ofBase(c.dismissals, c.deliveries, 'rate.ofDeliveries')}
              />
            ),
          },
        ]),
  ];
  const columns: TableProps<ChannelBreakdown>['columns'] = [
    {
      title: t('breakdown.channel'),
      key: 'channel',
      render: (_, c) => {
        const kind = channelKind(c.channel, t);
        return (
          <div>
            <div style={{ fontWeight: 500 }}>{channelLabel(c.channel, t)}</div>
            {kind && (
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {kind}
              </Typography.Text>
            )}
          </div>
        );
      },
    },
    ...figures.map((f) => ({
      key: f.key,
      title: f.title,
      align: 'right' as const,
      render: (_: unknown, c: ChannelBreakdown) => f.cell(c),
    })),
  ];

  let body: React.ReactNode;
  if (!started) {
    body = <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('breakdown.notStarted')} />;
  } else if (query.isPending) {
    body = <Skeleton active paragraph={{ rows: 4 }} />;
  } else if (query.isError) {
    body = <BreakdownProblem task={task} query={query} />;
  } else if (channels.length === 0) {
    body = <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('breakdown.noDevices')} />;
  } else {
    const all: ChannelBreakdown = {
      channel: '',
      totalSent: sentTotal,
      deliveries: sum('deliveries'),
      failures: sum('failures'),
      noFeedback: sum('noFeedback'),
      impressions: sum('impressions'),
      opens: sum('opens'),
      dismissals: sum('dismissals'),
    };
    body = (
      <>
        <Table<ChannelBreakdown>
          rowKey="channel"
          columns={columns}
          dataSource={channels}
          pagination={false}
          size="small"
          scroll={{ x: 760 }}
          data-testid="channel-table"
          summary={() =>
            channels.length > 1 && (
              <Table.Summary.Row style={{ background: '#fafafa', fontWeight: 500 }}>
                <Table.Summary.Cell index={0}>{t('breakdown.allChannels')}</Table.Summary.Cell>
                {figures.map((f, i) => (
                  <Table.Summary.Cell key={f.key} index={i + 1} align="right">
                    {f.cell(all)}
                  </Table.Summary.Cell>
                ))}
              </Table.Summary.Row>
            )
          }
        />
        <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: 8, marginBottom: 0 }}>
          {t('breakdown.ratesLegend')}
        </Typography.Paragraph>
        {lagsBehind(channels, task) && (
          <Typography.Paragraph
            type="secondary"
            style={{ fontSize: 12, marginTop: 4, marginBottom: 0 }}
            data-testid="channels-updating"
          >
            <SyncOutlined spin style={{ marginInlineEnd: 6 }} />
            {t('breakdown.updating')}
          </Typography.Paragraph>
        )}
      </>
    );
  }

  return (
    <Card
      size="small"
      title={
        <Space size={6}>
          {t('breakdown.channels')}
          <Tooltip title={t('breakdown.channelsHint')}>
            <QuestionCircleOutlined style={{ color: '#8c8c8c' }} />
          </Tooltip>
        </Space>
      }
      data-testid="channels"
    >
      {body}
    </Card>
  );
}

/**
 * The failure reasons card: why the provider refused devices, most devices first, each with its
 * share of the task's failures. Reasons are the provider's words (`UNREGISTERED`, `BadDeviceToken`,
 * Umeng `4020`…); a token the provider calls invalid is skipped by the next sends (docs/devices.md#push-token-lifecycle).
 */
export function FailureReasonsCard({ task, breakdown }: { task: Task; breakdown: BreakdownState }) {
  const { t } = useI18n();
  const { query, started } = breakdown;
  const reasons = query.data?.failureReasons ?? [];
  // The share is of the failures counted from the same device-level details as the reasons.
  const failures = (query.data?.channels ?? []).reduce((n, c) => n + c.failures, 0);
  const listed = reasons.reduce((n, r) => n + r.devices, 0);

  const columns: TableProps<FailureReasonCount>['columns'] = [
    {
      title: t('failureReasons.reason'),
      key: 'reason',
      render: (_, r) => r.reason || t('failureReasons.unknown'),
    },
    {
      title: t('failureReasons.devices'),
      key: 'devices',
      align: 'right',
      width: 120,
      render: (_, r) => formatCount(r.devices),
    },
    {
      title: t('failureReasons.share'),
      key: 'share',
      align: 'right',
      width: 160,
      render: (_, r) => formatRate(rateOf(r.devices, failures)),
    },
  ];

  let body: React.ReactNode;
  if (!started) {
    body = <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('breakdown.notStarted')} />;
  } else if (query.isPending) {
    body = <Skeleton active paragraph={{ rows: 2 }} />;
  } else if (query.isError) {
    body = <BreakdownProblem task={task} query={query} />;
  } else if (reasons.length === 0) {
    body = <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('failureReasons.none')} />;
  } else {
    body = (
      <>
        <Table<FailureReasonCount>
          rowKey="reason"
          columns={columns}
          dataSource={reasons}
          pagination={false}
          size="small"
          data-testid="failure-reason-table"
        />
        {listed < failures && (
          <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: 8, marginBottom: 0 }}>
            {t('failureReasons.more', { n: formatCount(failures - listed) })}
          </Typography.Paragraph>
        )}
      </>
    );
  }

  return (
    <Card
      size="small"
      title={
        <Space size={6}>
          <SourceLabel source="provider" compact />
          {t('failureReasons.title')}
          <Tooltip title={t('failureReasons.hint')}>
            <QuestionCircleOutlined style={{ color: '#8c8c8c' }} />
          </Tooltip>
        </Space>
      }
      data-testid="failure-reasons"
    >
      {body}
    </Card>
  );
}
