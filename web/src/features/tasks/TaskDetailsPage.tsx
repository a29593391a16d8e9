/**
 * One task's sending details: its basic information, the aggregate statistics labelled by their
 * source (push service or device SDK), a funnel from planned sends to opens, the timeline of its
 * receipts and its breakdown per channel, the 72-hour windows with their countdowns, and the
 * device-level results. While the task is sending or collecting receipts the page follows its live
 * statistics stream; when the stream is not available it polls instead. The delivery controls
 * (Stop, Test push, Duplicate, and what they did) are in TaskControls.tsx, the statistics cards and
 * funnel in TaskStatistics.tsx.
 */

import { DeleteOutlined, EditOutlined, ReloadOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Col,
  Descriptions,
  Popconfirm,
  Progress,
  Row,
  Skeleton,
  Space,
  Tag,
  Tooltip,
  Typography,
} from 'antd';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import type { Task } from '../../api/types.ts';
import { PlatformIcon } from '../../components/PlatformIcon.tsx';
import { usePageTitle } from '../../components/page-title.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { timeZoneLabel } from '../../i18n/date-time.ts';
import { formatDateTime, formatDuration, formatHours, NONE } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { DeviceResults } from './DeviceResults.tsx';
import { type LiveState, taskQueryKey, useTaskEvents } from './live.ts';
import { ChannelsCard, FailureReasonsCard, TimelineCard, useTaskBreakdown } from './TaskBreakdown.tsx';
import {
  DeliveryNotes,
  DuplicateButton,
  StopButton,
  StoppingTag,
  TaskTestPushButton,
} from './TaskControls.tsx';
import { Funnel, StatisticsPanel } from './TaskStatistics.tsx';
import { deleteRefusal, editRefusal, TaskStatusBadge } from './task-parts.tsx';
import { DUE_CHECK_MS, refreshInterval, useNow } from './task-refresh.ts';
import { ttlFields } from './ttl.ts';
import { useTaskWindows } from './windows.ts';

export function TaskDetailsPage() {
  const { taskId = '' } = useParams();
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { message } = AntApp.useApp();
  const tasksPath = `/w/${encodeURIComponent(ws.id)}/tasks`;

  // Ticks so that a scheduled task becoming due starts being followed.
  useNow(DUE_CHECK_MS);
  const [live, setLive] = useState<LiveState>('off');
  const query = useQuery({
    queryKey: taskQueryKey(ws.id, taskId),
    queryFn: () => api.tasks.get(ws.id, taskId),
    // The live stream writes every change into this query; polling is only its fallback.
    refetchInterval: (q) =>
      live === 'live' || live === 'connecting' ? false : refreshInterval(q.state.data),
  });
  const follow = query.data !== undefined && refreshInterval(query.data) !== false;
  const liveState = useTaskEvents(ws.id, taskId, follow);
  useEffect(() => setLive(liveState), [liveState]);
  const breakdown = useTaskBreakdown(ws.id, query.data);
  usePageTitle(query.data?.name, t('nav.normalTasks'));
  const remove = useMutation({
    mutationFn: () => api.tasks.remove(ws.id, taskId),
    onSuccess: () => {
      message.success(t('tasks.deleted', { name: query.data?.name ?? taskId }));
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'tasks'] });
      navigate(tasksPath);
    },
    onError: (error) => {
      message.error(error instanceof ApiError ? error.message : String(error));
      void query.refetch();
    },
  });

  if (query.isPending) return <Skeleton active paragraph={{ rows: 14 }} />;
  if (query.isError) return <QueryError error={query.error} onRetry={() => query.refetch()} />;
  const task = query.data;
  const noEdit = editRefusal(task, ws, t);
  const noDelete = deleteRefusal(task, ws, t);

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }} data-testid="task-details">
      <div>
        <Link to={tasksPath}>← {t('nav.normalTasks')}</Link>
        <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center', marginTop: 8 }}>
          <Space size="middle" align="center">
            <Typography.Title level={4} style={{ margin: 0 }}>
              {task.name}
            </Typography.Title>
            <TaskStatusBadge status={task.status} />
            <StoppingTag task={task} />
            <LiveTag state={liveState} />
          </Space>
          <Space>
            <Tooltip title={t('common.refresh')}>
              <Button
                icon={<ReloadOutlined />}
                aria-label={t('common.refresh')}
                onClick={() => query.refetch()}
                loading={query.isFetching}
              />
            </Tooltip>
            <StopButton task={task} />
            <TaskTestPushButton task={task} />
            <DuplicateButton task={task} />
            <Tooltip title={noEdit}>
              <Button
                icon={<EditOutlined />}
                disabled={noEdit !== null}
                onClick={() => navigate('edit')}
                data-testid="details-edit"
              >
                {t('common.edit')}
              </Button>
            </Tooltip>
            {noDelete === null ? (
              <Popconfirm
                title={t('tasks.deleteConfirmTitle')}
                description={t('tasks.deleteConfirm', { name: task.name })}
                okText={t('common.delete')}
                okButtonProps={{ danger: true }}
                cancelText={t('common.cancel')}
                onConfirm={() => remove.mutateAsync().catch(() => {})}
              >
                <Button danger icon={<DeleteOutlined />} data-testid="details-delete">
                  {t('common.delete')}
                </Button>
              </Popconfirm>
            ) : (
              <Tooltip title={noDelete}>
                <Button danger icon={<DeleteOutlined />} disabled data-testid="details-delete">
                  {t('common.delete')}
                </Button>
              </Tooltip>
            )}
          </Space>
        </div>
      </div>

      {task.status === 'failed' && task.failureReason && (
        <Alert type="error" showIcon title={t('details.failed')} description={task.failureReason} />
      )}

      <DeliveryNotes task={task} />
      <Windows task={task} />
      <UmengReceiptsNote task={task} />
      <StatisticsPanel task={task} />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Funnel statistics={task.statistics} />
        </Col>
        <Col xs={24} xl={14}>
          <TimelineCard task={task} breakdown={breakdown} />
        </Col>
      </Row>
      <ChannelsCard task={task} breakdown={breakdown} />
      {task.statistics.failures > 0 && <FailureReasonsCard task={task} breakdown={breakdown} />}

      <Card
        title={t('details.basicInfo')}
        size="small"
        extra={
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('time.zoneShort', { zone: timeZoneLabel() })}
          </Typography.Text>
        }
      >
        <Descriptions
          column={{ xs: 1, md: 2, xl: 3 }}
          size="small"
          items={[
            {
              key: 'id',
              label: t('details.id'),
              children: <Typography.Text copyable>{task.id}</Typography.Text>,
            },
            {
              key: 'app',
              label: t('form.app'),
              children: (
                <span>
                  <PlatformIcon platform={task.platform} /> {task.appName}
                </span>
              ),
            },
            {
              key: 'audience',
              label: t('form.audience'),
              children: task.audienceName ?? (
                <Typography.Text type="secondary">
                  {t('details.audienceDeleted', { id: task.audienceId })}
                </Typography.Text>
              ),
            },
            { key: 'sendType', label: t('form.sendType'), children: t(`sendType.${task.sendType}`) },
            {
              key: 'scheduledAt',
              label: t('form.scheduledAt'),
              children: task.sendType === 'scheduled' ? formatDateTime(task.scheduledAt) : NONE,
            },
            { key: 'category', label: t('form.category'), children: t(`category.${task.category}`) },
            {
              key: 'ttl',
              label: t('form.ttl'),
              children: `${ttlFields(task.ttlSeconds).ttlAmount} ${t(`ttlUnit.${ttlFields(task.ttlSeconds).ttlUnit}`)}`,
            },
            {
              key: 'pacing',
              label: t('form.pacing'),
              children:
                task.spreadMinutes === null ? t('pacing.none') : t('pacing.over', { n: task.spreadMinutes }),
            },
            {
              key: 'subCampaigns',
              label: t('form.subCampaigns'),
              children:
                task.subCampaigns.length === 0
                  ? NONE
                  : task.subCampaigns.map((sc) => <Tag key={sc.id}>{sc.name}</Tag>),
            },
            { key: 'createdAt', label: t('details.createdAt'), children: formatDateTime(task.createdAt) },
            { key: 'startedAt', label: t('details.startedAt'), children: formatDateTime(task.startedAt) },
            {
              key: 'completedAt',
              label: t('details.completedAt'),
              children: formatDateTime(task.completedAt),
            },
            { key: 'title', label: t('form.title'), children: task.title, span: 'filled' },
            { key: 'content', label: t('form.content'), children: task.content, span: 'filled' },
            {
              key: 'click',
              label: t('form.clickAction'),
              span: 'filled',
              children: (
                <span>
                  {t(`click.${task.clickAction.type}`)}
                  {task.clickAction.url && <> · {task.clickAction.url}</>}
                  {task.clickAction.page && <> · {task.clickAction.page}</>}
                  {Object.entries(task.clickAction.params ?? {}).map(([k, v]) => (
                    <Tag key={k} style={{ marginInlineStart: 8 }}>
                      {k}={v}
                    </Tag>
                  ))}
                </span>
              ),
            },
          ]}
        />
      </Card>

      <DeviceResults task={task} />
    </Space>
  );
}

/** Whether the page follows the task live (the stream) or by polling; nothing once it cannot change. */
function LiveTag({ state }: { state: LiveState }) {
  const { t } = useI18n();
  if (state === 'live') {
    return (
      <Tooltip title={t('details.liveStreamHint')}>
        <Tag color="processing" data-testid="live-tag">
          {t('details.liveStream')}
        </Tag>
      </Tooltip>
    );
  }
  if (state === 'fallback') {
    return (
      <Tooltip title={t('details.pollingHint')}>
        <Tag data-testid="live-tag">{t('details.polling')}</Tag>
      </Tooltip>
    );
  }
  return null;
}

/** The statistics window and the device-detail retention, with countdowns. */
function Windows({ task }: { task: Task }) {
  const { t } = useI18n();
  const windows = useTaskWindows(task);
  const now = useNow(1000);
  if (!task.startedAt || !task.statisticsFinalAt || !task.detailsExpireAt) {
    return (
      <Alert
        type="info"
        showIcon
        title={
          task.sendType === 'scheduled' && task.scheduledAt
            ? t('details.notStartedScheduled', { time: formatDateTime(task.scheduledAt) })
            : t('details.notStartedImmediate')
        }
        description={t('details.windowsExplained', {
          hours: formatHours(windows.statisticsHours, t),
          retention: formatHours(windows.retentionHours, t),
        })}
      />
    );
  }
  const started = Date.parse(task.startedAt);
  const statsEnd = Date.parse(task.statisticsFinalAt);
  const detailsEnd = Date.parse(task.detailsExpireAt);
  const collecting = now < statsEnd;
  const held = now < detailsEnd;
  const fraction = Math.min(1, Math.max(0, (now - started) / (statsEnd - started)));
  return (
    <Card
      size="small"
      title={t('details.windows')}
      extra={
        <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="windows-time-zone">
          {t('time.zoneShort', { zone: timeZoneLabel() })}
        </Typography.Text>
      }
      data-testid="task-windows"
    >
      <Row gutter={[24, 12]}>
        <Col xs={24} lg={12}>
          <Typography.Text strong>
            {t('details.statisticsWindow', { hours: formatHours(windows.statisticsHours, t) })}
          </Typography.Text>
          <div style={{ fontSize: 13, marginTop: 4 }}>
            {collecting
              ? t('details.collectingUntil', {
                  time: formatDateTime(task.statisticsFinalAt),
                  left: formatDuration(statsEnd - now, t),
                })
              : t('details.statisticsFinal', { time: formatDateTime(task.statisticsFinalAt) })}
          </div>
          <Tooltip title={t('details.elapsedHint')}>
            <Progress
              percent={Math.round(fraction * 1000) / 10}
              status={collecting ? 'active' : 'success'}
              format={() =>
                collecting
                  ? t('details.elapsed', { time: formatDuration(now - started, t) })
                  : t('details.final')
              }
              styles={{ indicator: { width: 'auto', whiteSpace: 'nowrap' } }}
              data-testid="elapsed"
            />
          </Tooltip>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {formatDateTime(task.startedAt)} → {formatDateTime(task.statisticsFinalAt)}
          </Typography.Text>
        </Col>
        <Col xs={24} lg={12}>
          <Typography.Text strong>{t('details.retention')}</Typography.Text>
          <div style={{ fontSize: 13, marginTop: 4 }} data-testid="details-expiry">
            {held ? (
              <span>
                {t('details.detailsKeptFor')}{' '}
                <Typography.Text strong type={detailsEnd - now < 6 * 3600_000 ? 'warning' : undefined}>
                  {formatDuration(detailsEnd - now, t)}
                </Typography.Text>{' '}
                ({t('details.until', { time: formatDateTime(task.detailsExpireAt) })})
              </span>
            ) : (
              t('details.detailsExpired', { time: formatDateTime(task.detailsExpireAt) })
            )}
          </div>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('details.retentionHint')}
          </Typography.Text>
        </Col>
      </Row>
    </Card>
  );
}

/**
 * For a task sent through Umeng with nothing reported back yet: Umeng sends delivery and click
 * receipts only on its Pro tier (docs/providers.md#umeng), so a marketer must learn why the numbers stay empty.
 */
function UmengReceiptsNote({ task }: { task: Task }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const app = useQuery({
    queryKey: ['ws', ws.id, 'app', task.appId],
    queryFn: () => api.apps.get(ws.id, task.appId),
    staleTime: 5 * 60_000,
  });
  const s = task.statistics;
  const nothingBack =
    task.startedAt !== null && s.totalSent > 0 && s.deliveries + s.opens + s.impressions === 0;
  if (app.data?.provider !== 'umeng' || !nothingBack) return null;
  return (
    <Alert
      type="info"
      showIcon
      title={t('details.umengReceiptsTitle')}
      description={t('details.umengReceipts')}
      data-testid="umeng-receipts-note"
    />
  );
}
