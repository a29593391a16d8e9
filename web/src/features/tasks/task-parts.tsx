/**
 * Pieces the task pages share: the status badge, the sub-campaigns cell with its hover list, a text
 * cut to a few lines, the label of where a statistic comes from and its legend, a label with its
 * definition behind ⓘ, and the reasons an action is refused.
 */
import { InfoCircleOutlined } from '@ant-design/icons';
import { useQuery } from '@tanstack/react-query';
import { Badge, Popover, Tag, Tooltip, Typography } from 'antd';
import { api } from '../../api/client.ts';
import type { SubCampaignRef, Task, TaskStatus } from '../../api/types.ts';
import type { MessageKey } from '../../i18n/en.ts';
import { NONE } from '../../i18n/format.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import type { CurrentWorkspace } from '../layout/workspace.ts';

const STATUS_BADGE: Record<TaskStatus, 'default' | 'processing' | 'success' | 'warning' | 'error'> = {
  scheduled: 'default',
  sending: 'processing',
  completed: 'success',
  // Its own colour: ended on purpose, neither completed nor failed.
  stopped: 'warning',
  failed: 'error',
};

export function TaskStatusBadge({ status }: { status: TaskStatus }) {
  const { t } = useI18n();
  return (
    <Badge status={STATUS_BADGE[status]} text={t(`status.${status}`)} data-testid={`status-${status}`} />
  );
}

/** One name; several as a count whose hover lists them all (like the product it is modelled on). */
export function SubCampaignsCell({ subCampaigns }: { subCampaigns: SubCampaignRef[] }) {
  const { t } = useI18n();
  if (subCampaigns.length === 0) return <Typography.Text type="secondary">{NONE}</Typography.Text>;
  if (subCampaigns.length === 1) {
    const { name } = subCampaigns[0]!;
    return (
      <Clamped text={name} rows={3}>
        {name}
      </Clamped>
    );
  }
  return (
    <Popover
      title={t('tasks.subCampaignsOf', { n: subCampaigns.length })}
      content={
        <ul style={{ margin: 0, paddingInlineStart: 18 }} data-testid="sub-campaign-list">
          {subCampaigns.map((s) => (
            <li key={s.id}>{s.name}</li>
          ))}
        </ul>
      }
    >
      <Tag color="blue" style={{ cursor: 'default', whiteSpace: 'normal' }} data-testid="sub-campaign-count">
        {t('tasks.subCampaignCount', { n: subCampaigns.length })}
      </Tag>
    </Popover>
  );
}

/**
 * `children` cut to `rows` lines with an ellipsis (a word too long for the column is broken rather
 * than run under the next one); `text` in full on hover, only when something was cut.
 */
export function Clamped({
  text,
  rows,
  style,
  children,
}: {
  text: string;
  rows: number;
  style?: React.CSSProperties;
  children: React.ReactNode;
}) {
  return (
    <Typography.Paragraph
      ellipsis={{ rows, tooltip: text }}
      style={{ margin: 0, overflowWrap: 'anywhere', ...style }}
    >
      {children}
    </Typography.Paragraph>
  );
}

/**
 * Where a statistic comes from: the push service (provider), the SDK on the device, or Pushboard
 * itself (counted from the audience and the send: planned sends, unmatched, pending…).
 */
export type StatisticSource = 'provider' | 'sdk' | 'pushboard';

const SOURCES: Record<StatisticSource, { color: string; tag: string; name: MessageKey; hint: MessageKey }> = {
  provider: { color: '#2f54eb', tag: 'geekblue', name: 'source.provider', hint: 'source.providerHint' },
  sdk: { color: '#52c41a', tag: 'green', name: 'source.sdk', hint: 'source.sdkHint' },
  pushboard: { color: '#8c8c8c', tag: 'default', name: 'source.pushboard', hint: 'source.pushboardHint' },
};

/** The source as a tag, or as a coloured dot (`compact`) for narrow table headers; both explain on hover. */
export function SourceLabel({ source, compact = false }: { source: StatisticSource; compact?: boolean }) {
  const { t } = useI18n();
  const { color, tag, name, hint } = SOURCES[source];
  return (
    <Tooltip title={t(hint)}>
      {compact ? (
        <span
          role="img"
          aria-label={t(name)}
          data-source={source}
          style={{
            display: 'inline-block',
            width: 7,
            height: 7,
            borderRadius: '50%',
            background: color,
            marginInlineEnd: 6,
            verticalAlign: 'middle',
          }}
        />
      ) : (
        <Tag
          color={tag}
          variant="outlined"
          style={{ fontSize: 11, lineHeight: '16px', marginInlineEnd: 0, fontWeight: 'normal' }}
        >
          {t(name)}
        </Tag>
      )}
    </Tooltip>
  );
}

/** The legend of the source dots: which figures are push-service data, device-SDK data or Pushboard's own. */
export function SourceLegend() {
  const { t } = useI18n();
  return (
    <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="source-legend">
      {t('source.legend')}{' '}
      {(Object.keys(SOURCES) as StatisticSource[]).map((source) => (
        <span key={source} style={{ marginInlineEnd: 12, whiteSpace: 'nowrap' }}>
          <SourceLabel source={source} compact />
          {t(SOURCES[source].name)}
        </span>
      ))}
    </Typography.Text>
  );
}

/** A label with its definition behind an ⓘ icon, reachable by keyboard (the icon takes focus). */
export function Defined({ label, definition }: { label: React.ReactNode; definition: string }) {
  return (
    <span style={{ whiteSpace: 'nowrap' }}>
      {label}
      <Tooltip title={definition} trigger={['hover', 'focus']}>
        <InfoCircleOutlined
          tabIndex={0}
          aria-label={definition}
          data-testid="definition"
          style={{ marginInlineStart: 4, color: '#8c8c8c', fontSize: 12 }}
        />
      </Tooltip>
    </span>
  );
}

/** Why the current user may not edit a task, or null when they may. */
export function editRefusal(task: Task, ws: CurrentWorkspace, t: Translate): string | null {
  if (!ws.canWrite) return t('tasks.readOnlyRole');
  if (task.status !== 'scheduled') return t('tasks.notEditable', { status: t(`status.${task.status}`) });
  return null;
}

/** Why the current user may not delete a task, or null when they may. */
export function deleteRefusal(task: Task, ws: CurrentWorkspace, t: Translate): string | null {
  if (!ws.canWrite) return t('tasks.readOnlyRole');
  if (task.status !== 'scheduled') return t('tasks.notDeletable', { status: t(`status.${task.status}`) });
  return null;
}

/**
 * The sub-campaigns of the workspace grouped by campaign, independent ones under "-": the shape of
 * both the list filter and the task form's picker.
 */
export function useSubCampaignTree(workspaceId: string) {
  const campaigns = useQuery({
    queryKey: ['ws', workspaceId, 'campaigns'],
    queryFn: () => api.campaigns.list(workspaceId),
  });
  const subCampaigns = useQuery({
    queryKey: ['ws', workspaceId, 'sub-campaigns'],
    queryFn: () => api.campaigns.subCampaigns(workspaceId),
  });
  const independent = (subCampaigns.data?.items ?? []).filter((s) => s.campaignId === null);
  const groups = [
    ...(campaigns.data?.items ?? [])
      .filter((c) => c.subCampaigns.length > 0)
      .map((c) => ({ key: c.id, label: c.name, subCampaigns: c.subCampaigns })),
    ...(independent.length > 0
      ? [{ key: '-', label: '-', subCampaigns: independent.map((s) => ({ id: s.id, name: s.name })) }]
      : []),
  ];
  return { groups, isPending: campaigns.isPending || subCampaigns.isPending };
}
