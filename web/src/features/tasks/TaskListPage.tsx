/**
 * PUSH › Normal Tasks: every task with its status, delivery statistics, send type, sub-campaigns
 * and times, filtered and paged by the API's own query parameters. The filters live in the page's
 * URL, so a filtered list can be shared and survives a visit to a task's details.
 */

import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  DatePicker,
  Empty,
  Input,
  Popconfirm,
  Select,
  Space,
  Table,
  type TableProps,
  Tooltip,
  Typography,
} from 'antd';
import dayjs from 'dayjs';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import {
  type SendType,
  TASK_STATUSES,
  type Task,
  type TaskListQuery,
  type TaskSortKey,
  type TaskStatus,
} from '../../api/types.ts';
import { PlatformIcon } from '../../components/PlatformIcon.tsx';
import { usePageTitle } from '../../components/page-title.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { formatCountdown, formatDateTimeInZone, utcOffsetLabel } from '../../i18n/date-time.ts';
import { formatCount, formatDuration, formatHours, formatRate, NONE } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import {
  Clamped,
  deleteRefusal,
  editRefusal,
  SourceLabel,
  type StatisticSource,
  SubCampaignsCell,
  TaskStatusBadge,
  useSubCampaignTree,
} from './task-parts.tsx';
import { DUE_CHECK_MS, refreshInterval, useNow } from './task-refresh.ts';
import { useDeploymentWindows } from './windows.ts';

const SORTABLE: readonly TaskSortKey[] = ['createdAt', 'startedAt', 'name', 'plannedSends', 'deliveries'];
const PAGE_SIZES = [10, 20, 50, 100];
/**
 * The sum of the column widths: the whole table fits a 1280 px window (1,038 px beside the
 * navigation, less a vertical scroll bar), in both languages; narrower ones scroll it rather than
 * squeeze its headers. Long names are cut to two lines (the whole name on hover) and texts wrap
 * between words, so no cell needs more than its column.
 */
const WIDTHS = {
  name: 140,
  status: 130,
  plannedSends: 90,
  deliveries: 90,
  impressions: 90,
  opens: 70,
  dismissals: 84,
  subCampaigns: 104,
  times: 156,
  actions: 66,
};
const TABLE_WIDTH = Object.values(WIDTHS).reduce((sum, width) => sum + width, 0);
/** The headers' text: smaller than the body's, so that the longest word of each fits its column. */
const HEADER_STYLE: React.CSSProperties = { fontSize: 12, lineHeight: '16px' };
/** The list refreshes at most this often while a row can still change, in ms. */
const LIVE_REFRESH_MS = 5000;

/** Reads the list query from the page's URL (unknown values are ignored). */
function queryFromUrl(params: URLSearchParams): TaskListQuery {
  const positive = (name: string, fallback: number) => {
    const n = Number(params.get(name));
    return Number.isInteger(n) && n > 0 ? n : fallback;
  };
  const status = (params.get('status') ?? '')
    .split(',')
    .filter((s): s is TaskStatus => (TASK_STATUSES as readonly string[]).includes(s));
  const sendType = params.get('sendType');
  const sort = params.get('sort');
  return {
    page: positive('page', 1),
    pageSize: Math.min(positive('pageSize', 20), 200),
    status: status.length > 0 ? status : undefined,
    sendType: sendType === 'immediate' || sendType === 'scheduled' ? sendType : undefined,
    appId: params.get('appId') || undefined,
    subCampaignId: params.get('subCampaignId') || undefined,
    q: params.get('q') || undefined,
    createdFrom: params.get('createdFrom') || undefined,
    createdTo: params.get('createdTo') || undefined,
    sort: SORTABLE.includes(sort as TaskSortKey) ? (sort as TaskSortKey) : undefined,
    order: params.get('order') === 'asc' ? 'asc' : undefined,
  };
}

function queryToUrl(query: TaskListQuery): URLSearchParams {
  const params = new URLSearchParams();
  const put = (name: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') params.set(name, String(value));
  };
  put('q', query.q);
  put('status', query.status?.join(','));
  put('sendType', query.sendType);
  put('appId', query.appId);
  put('subCampaignId', query.subCampaignId);
  put('createdFrom', query.createdFrom);
  put('createdTo', query.createdTo);
  put('sort', query.sort);
  put('order', query.order);
  if (query.page !== 1) put('page', query.page);
  if (query.pageSize !== 20) put('pageSize', query.pageSize);
  return params;
}

export function TaskListPage() {
  const { t } = useI18n();
  usePageTitle(t('nav.normalTasks'));
  const windows = useDeploymentWindows();
  const ws = useCurrentWorkspace();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { message } = AntApp.useApp();
  const [searchParams, setSearchParams] = useSearchParams();
  const query = queryFromUrl(searchParams);
  const [search, setSearch] = useState(query.q ?? '');

  // Ticks so that a row becoming due starts being followed and the windows' countdowns move.
  const now = useNow(DUE_CHECK_MS);
  const tasks = useQuery({
    queryKey: ['ws', ws.id, 'tasks', query],
    queryFn: () => api.tasks.list(ws.id, query),
    placeholderData: keepPreviousData,
    // Followed while any row can still change: sending, due within the minute, or collecting receipts
    // (its statistics move for the whole window), at most every LIVE_REFRESH_MS.
    refetchInterval: (q) => {
      const periods = (q.state.data?.items ?? []).flatMap((task) => {
        const period = refreshInterval(task, now);
        return period === false ? [] : [period];
      });
      return periods.length === 0 ? false : Math.max(LIVE_REFRESH_MS, Math.min(...periods));
    },
  });
  const apps = useQuery({ queryKey: ['ws', ws.id, 'apps'], queryFn: () => api.apps.list(ws.id) });
  const subCampaignTree = useSubCampaignTree(ws.id);

  const remove = useMutation({
    mutationFn: (task: Task) => api.tasks.remove(ws.id, task.id),
    onSuccess: (_, task) => {
      message.success(t('tasks.deleted', { name: task.name }));
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'tasks'] });
    },
    onError: (error) => {
      message.error(error instanceof ApiError ? error.message : String(error));
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'tasks'] });
    },
  });

  /** Changes some filters; any filter change goes back to the first page. */
  const update = (change: Partial<TaskListQuery>) => {
    setSearchParams(queryToUrl({ ...query, page: 1, ...change }));
  };
  const filtered =
    query.q ||
    query.status ||
    query.sendType ||
    query.appId ||
    query.subCampaignId ||
    query.createdFrom ||
    query.createdTo;

  const head = (label: string) => <span style={HEADER_STYLE}>{label}</span>;
  const statTitle = (label: string, source: StatisticSource) => (
    <span style={{ ...HEADER_STYLE, wordBreak: 'keep-all', overflowWrap: 'normal' }}>
      <SourceLabel source={source} compact />
      {label}
    </span>
  );
  const countWithRate = (count: number, rate: number | null, label: string) => (
    <div>
      <div>{formatCount(count)}</div>
      <Typography.Text type="secondary" style={{ fontSize: 12 }} aria-label={label}>
        {formatRate(rate)}
      </Typography.Text>
    </div>
  );
  const sortOrder = (key: TaskSortKey) =>
    (query.sort ?? 'createdAt') === key ? (query.order === 'asc' ? 'ascend' : 'descend') : null;

  const columns: TableProps<Task>['columns'] = [
    {
      title: head(t('tasks.col.name')),
      dataIndex: 'name',
      key: 'name',
      width: WIDTHS.name,
      fixed: 'left',
      sorter: true,
      sortOrder: sortOrder('name'),
      render: (_, task) => (
        <div>
          <Clamped text={task.name} rows={2}>
            <Link to={`${task.id}`} style={{ fontWeight: 500 }}>
              {task.name}
            </Link>
          </Clamped>
          <Clamped text={task.appName} rows={1} style={{ fontSize: 12, color: '#8c8c8c' }}>
            <PlatformIcon platform={task.platform} /> {task.appName}
          </Clamped>
        </div>
      ),
    },
    {
      title: head(t('tasks.col.statusAndSendType')),
      key: 'status',
      width: WIDTHS.status,
      render: (_, task) => (
        <div>
          <TaskStatusBadge status={task.status} />
          <div style={{ fontSize: 12, color: '#8c8c8c', paddingInlineStart: 14 }}>
            {t(`sendType.${task.sendType}`)}
          </div>
          <WindowState task={task} now={now} />
        </div>
      ),
    },
    {
      title: statTitle(t('stat.plannedSends'), 'provider'),
      key: 'plannedSends',
      width: WIDTHS.plannedSends,
      align: 'right',
      sorter: true,
      sortOrder: sortOrder('plannedSends'),
      render: (_, task) => <PlannedSends task={task} />,
    },
    {
      title: statTitle(t('stat.deliveries'), 'provider'),
      key: 'deliveries',
      width: WIDTHS.deliveries,
      align: 'right',
      sorter: true,
      sortOrder: sortOrder('deliveries'),
      render: (_, task) => formatCount(task.statistics.deliveries),
    },
    {
      title: statTitle(t('stat.impressions'), 'sdk'),
      key: 'impressions',
      width: WIDTHS.impressions,
      align: 'right',
      render: (_, task) =>
        countWithRate(task.statistics.impressions, task.statistics.impressionRate, t('stat.impressionRate')),
    },
    {
      title: statTitle(t('stat.opens'), 'provider'),
      key: 'opens',
      width: WIDTHS.opens,
      align: 'right',
      render: (_, task) => countWithRate(task.statistics.opens, task.statistics.openRate, t('stat.openRate')),
    },
    {
      title: statTitle(t('stat.dismissals'), 'sdk'),
      key: 'dismissals',
      width: WIDTHS.dismissals,
      align: 'right',
      render: (_, task) =>
        task.platform === 'ios' ? (
          <Tooltip title={t('stat.dismissalsIos')}>
            <div>
              <div>0</div>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {NONE}
              </Typography.Text>
            </div>
          </Tooltip>
        ) : (
          countWithRate(task.statistics.dismissals, task.statistics.dismissalRate, t('stat.dismissalRate'))
        ),
    },
    {
      title: <span style={{ ...HEADER_STYLE, whiteSpace: 'nowrap' }}>{t('tasks.col.subCampaigns')}</span>,
      key: 'subCampaigns',
      width: WIDTHS.subCampaigns,
      render: (_, task) => <SubCampaignsCell subCampaigns={task.subCampaigns} />,
    },
    {
      // The zone is named once, here; every time of the column is in it.
      title: head(t('tasks.col.timesIn', { zone: utcOffsetLabel() })),
      key: 'createdAt',
      width: WIDTHS.times,
      sorter: true,
      sortOrder: sortOrder('createdAt'),
      render: (_, task) => <TaskTimes task={task} now={now} />,
    },
    {
      title: head(t('tasks.col.actions')),
      key: 'actions',
      width: WIDTHS.actions,
      fixed: 'right',
      render: (_, task) => {
        const noEdit = editRefusal(task, ws, t);
        const noDelete = deleteRefusal(task, ws, t);
        return (
          // One above the other: three side by side took the width of two statistics.
          <Space orientation="vertical" size={0} align="start">
            <Button type="link" size="small" style={LINK_STYLE} onClick={() => navigate(task.id)}>
              {t('tasks.details')}
            </Button>
            <Tooltip title={noEdit}>
              <Button
                type="link"
                size="small"
                style={LINK_STYLE}
                disabled={noEdit !== null}
                onClick={() => navigate(`${task.id}/edit`)}
                data-testid={`edit-${task.id}`}
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
                onConfirm={() => remove.mutateAsync(task).catch(() => {})}
              >
                <Button type="link" size="small" style={LINK_STYLE} danger data-testid={`delete-${task.id}`}>
                  {t('common.delete')}
                </Button>
              </Popconfirm>
            ) : (
              <Tooltip title={noDelete}>
                <Button
                  type="link"
                  size="small"
                  style={LINK_STYLE}
                  danger
                  disabled
                  data-testid={`delete-${task.id}`}
                >
                  {t('common.delete')}
                </Button>
              </Tooltip>
            )}
          </Space>
        );
      },
    },
  ];

  const onTableChange: TableProps<Task>['onChange'] = (pagination, _filters, sorter, extra) => {
    if (extra.action === 'sort' && !Array.isArray(sorter)) {
      const key = sorter.columnKey as TaskSortKey | undefined;
      update({
        sort: sorter.order && key ? key : undefined,
        order: sorter.order === 'ascend' ? 'asc' : undefined,
      });
      return;
    }
    setSearchParams(
      queryToUrl({ ...query, page: pagination.current ?? 1, pageSize: pagination.pageSize ?? 20 }),
    );
  };

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('nav.normalTasks')}
        </Typography.Title>
        <Space>
          <Tooltip title={t('common.refresh')}>
            <Button
              icon={<ReloadOutlined />}
              aria-label={t('common.refresh')}
              onClick={() => tasks.refetch()}
              loading={tasks.isFetching && !tasks.isPending}
            />
          </Tooltip>
          <Tooltip title={ws.canWrite ? null : t('tasks.readOnlyRole')}>
            <Button
              type="primary"
              icon={<PlusOutlined />}
              disabled={!ws.canWrite}
              onClick={() => navigate('new')}
            >
              {t('tasks.create')}
            </Button>
          </Tooltip>
        </Space>
      </div>

      <Alert
        type="info"
        showIcon
        closable
        title={t('tasks.note.title')}
        description={
          <ul style={{ margin: '4px 0 0', paddingInlineStart: 18 }}>
            <li>
              {t('tasks.note.sources')} <SourceLabel source="provider" /> <SourceLabel source="sdk" />
            </li>
            <li>
              {t('tasks.note.window', {
                hours: formatHours(windows.statisticsHours, t),
                retention: formatHours(windows.retentionHours, t),
              })}
            </li>
            <li>{t('tasks.note.matching')}</li>
            <li>{t('tasks.note.rates')}</li>
          </ul>
        }
      />

      <Card size="small">
        <Space wrap size={[12, 12]}>
          <Input.Search
            allowClear
            placeholder={t('tasks.filter.search')}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            onSearch={(value) => update({ q: value.trim() || undefined })}
            style={{ width: 220 }}
            aria-label={t('tasks.filter.search')}
          />
          <Select<TaskStatus[]>
            mode="multiple"
            allowClear
            placeholder={t('tasks.filter.status')}
            value={query.status ?? []}
            onChange={(value) => update({ status: value.length > 0 ? value : undefined })}
            options={TASK_STATUSES.map((s) => ({ value: s, label: t(`status.${s}`) }))}
            style={{ minWidth: 170 }}
            maxTagCount="responsive"
            aria-label={t('tasks.filter.status')}
          />
          <Select<SendType>
            allowClear
            placeholder={t('tasks.filter.sendType')}
            value={query.sendType}
            onChange={(value) => update({ sendType: value })}
            options={[
              { value: 'immediate', label: t('sendType.immediate') },
              { value: 'scheduled', label: t('sendType.scheduled') },
            ]}
            style={{ width: 150 }}
            aria-label={t('tasks.filter.sendType')}
          />
          <Select<string>
            allowClear
            showSearch={{ optionFilterProp: 'label' }}
            placeholder={t('tasks.filter.app')}
            value={query.appId}
            onChange={(value) => update({ appId: value })}
            loading={apps.isPending}
            options={(apps.data?.items ?? []).map((a) => ({ value: a.id, label: a.name }))}
            style={{ width: 190 }}
            aria-label={t('tasks.filter.app')}
          />
          <Select<string>
            allowClear
            showSearch={{ optionFilterProp: 'label' }}
            placeholder={t('tasks.filter.subCampaign')}
            value={query.subCampaignId}
            onChange={(value) => update({ subCampaignId: value })}
            loading={subCampaignTree.isPending}
            options={subCampaignTree.groups.map((g) => ({
              label: g.label,
              title: g.label,
              options: g.subCampaigns.map((s) => ({ value: s.id, label: s.name })),
            }))}
            style={{ width: 200 }}
            aria-label={t('tasks.filter.subCampaign')}
          />
          {/* Two pickers, not a range picker: the range picker kept Tab on its first input. */}
          <DatePicker
            value={query.createdFrom ? dayjs(query.createdFrom) : null}
            placeholder={t('tasks.filter.createdFrom')}
            aria-label={t('tasks.filter.createdFrom')}
            onChange={(day) => update({ createdFrom: day?.startOf('day').toISOString() })}
            disabledDate={(day) => query.createdTo !== undefined && day.isAfter(dayjs(query.createdTo))}
            style={{ width: 150 }}
          />
          <DatePicker
            value={query.createdTo ? dayjs(query.createdTo) : null}
            placeholder={t('tasks.filter.createdTo')}
            aria-label={t('tasks.filter.createdTo')}
            onChange={(day) => update({ createdTo: day?.endOf('day').toISOString() })}
            disabledDate={(day) =>
              query.createdFrom !== undefined && day.isBefore(dayjs(query.createdFrom).startOf('day'))
            }
            style={{ width: 150 }}
          />
          {filtered && (
            <Button
              onClick={() => {
                setSearch('');
                setSearchParams(new URLSearchParams());
              }}
            >
              {t('common.resetFilters')}
            </Button>
          )}
        </Space>
      </Card>

      <Card size="small" styles={{ body: { padding: 0 } }}>
        {tasks.isError ? (
          <QueryError error={tasks.error} onRetry={() => tasks.refetch()} />
        ) : (
          <Table<Task>
            rowKey="id"
            columns={columns}
            dataSource={tasks.data?.items}
            loading={tasks.isPending || (tasks.isFetching && tasks.isPlaceholderData)}
            onChange={onTableChange}
            scroll={{ x: TABLE_WIDTH }}
            tableLayout="fixed"
            size="small"
            data-testid="task-table"
            locale={{
              emptyText: (
                <Empty
                  image={Empty.PRESENTED_IMAGE_SIMPLE}
                  description={filtered ? t('tasks.emptyFiltered') : t('tasks.empty')}
                >
                  {!filtered && ws.canWrite && (
                    <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('new')}>
                      {t('tasks.create')}
                    </Button>
                  )}
                </Empty>
              ),
            }}
            pagination={{
              current: query.page,
              pageSize: query.pageSize,
              total: tasks.data?.total ?? 0,
              showSizeChanger: true,
              pageSizeOptions: PAGE_SIZES,
              showTotal: (total) => t('common.totalItems', { n: formatCount(total) }),
              style: { paddingInline: 16 },
            }}
          />
        )}
      </Card>
    </Space>
  );
}

/** Buttons of the actions column: links without side padding, left-aligned one above the other. */
const LINK_STYLE: React.CSSProperties = { paddingInline: 0, height: 22 };

/**
 * Whether a started task's statistics still move ("Collecting · 2 d 23 h left") or are final, under
 * its status in the list; nothing for a task that has not started.
 */
function WindowState({ task, now }: { task: Task; now: number }) {
  const { t } = useI18n();
  if (!task.startedAt || !task.statisticsFinalAt) return null;
  const left = Date.parse(task.statisticsFinalAt) - now;
  return (
    <div style={{ fontSize: 12, color: '#8c8c8c', paddingInlineStart: 14 }} data-testid="window-state">
      {left > 0 ? (
        // "Collecting ·" and "2 d 23 h left" each keep together, so a narrow column breaks between them.
        <>
          {t('tasks.collecting')}{' '}
          <span style={{ whiteSpace: 'nowrap' }}>
            {t('tasks.timeLeft', { left: formatDuration(left, t) })}
          </span>
        </>
      ) : (
        t('details.final')
      )}
    </div>
  );
}

/**
 * A task's planned sends. Until the send starts the statistics hold 0 (docs/statistics.md: planned
 * sends are the audience at send time), so a scheduled task shows its audience's size now, marked
 * as planned, rather than a 0 that reads like an empty audience.
 */
function PlannedSends({ task }: { task: Task }) {
  const { t } = useI18n();
  if (task.startedAt !== null || task.status !== 'scheduled' || task.audienceSize === null) {
    return formatCount(task.statistics.plannedSends);
  }
  return (
    <Tooltip title={t('tasks.audienceSizeHint')}>
      <Typography.Text type="secondary" data-testid="planned-audience">
        {t('tasks.audienceSizePlanned', { n: formatCount(task.audienceSize) })}
      </Typography.Text>
    </Tooltip>
  );
}

/**
 * When a task was created and sent, or is due (with a countdown): each on a line of its own and
 * with the year, in the zone the column header names.
 */
function TaskTimes({ task, now }: { task: Task; now: number }) {
  const { t } = useI18n();
  const line = (label: string, value: string, testId?: string) => (
    <div data-testid={testId}>
      <span style={{ color: '#8c8c8c' }}>{label}</span> {value}
    </div>
  );
  const countdown = task.startedAt ? null : formatCountdown(task.scheduledAt, now, t);
  return (
    <div style={{ fontSize: 12, lineHeight: '20px', whiteSpace: 'nowrap' }}>
      {line(t('tasks.created'), formatDateTimeInZone(task.createdAt))}
      {task.startedAt
        ? line(t('tasks.sent'), formatDateTimeInZone(task.startedAt))
        : task.scheduledAt
          ? line(t('tasks.sends'), formatDateTimeInZone(task.scheduledAt), 'sends-at')
          : line(t('tasks.sent'), t('tasks.notSentYet'))}
      {countdown && (
        <div style={{ color: '#8c8c8c' }} data-testid="countdown">
          {countdown}
        </div>
      )}
    </div>
  );
}
