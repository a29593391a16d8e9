/**
 * Pieces the task pages share: the status badge, the sub-campaigns cell with its hover list, the
 * label of where a statistic comes from, and the reasons an action is refused.
 */
import { useQuery } from '@tanstack/react-query';
import { Badge, Popover, Tag, Tooltip, Typography } from 'antd';
import { api } from '../../api/client.ts';
import type { SubCampaignRef, Task, TaskStatus } from '../../api/types.ts';
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
  if (subCampaigns.length === 1) return <span>{subCampaigns[0]!.name}</span>;
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
      <Tag color="blue" style={{ cursor: 'default' }} data-testid="sub-campaign-count">
        {t('tasks.subCampaignCount', { n: subCampaigns.length })}
      </Tag>
    </Popover>
  );
}

/** Where a statistic comes from: the push service (provider) or the SDK on the device. */
export type StatisticSource = 'provider' | 'sdk';

const SOURCE_COLOR: Record<StatisticSource, string> = { provider: '#2f54eb', sdk: '#52c41a' };

/** The source as a tag, or as a coloured dot (`compact`) for narrow table headers; both explain on hover. */
export function SourceLabel({ source, compact = false }: { source: StatisticSource; compact?: boolean }) {
  const { t } = useI18n();
  const name = t(source === 'provider' ? 'source.provider' : 'source.sdk');
  return (
    <Tooltip title={t(source === 'provider' ? 'source.providerHint' : 'source.sdkHint')}>
      {compact ? (
        <span
          role="img"
          aria-label={name}
          style={{
            display: 'inline-block',
            width: 7,
            height: 7,
            borderRadius: '50%',
            background: SOURCE_COLOR[source],
            marginInlineEnd: 6,
            verticalAlign: 'middle',
          }}
        />
      ) : (
        <Tag
          color={source === 'provider' ? 'geekblue' : 'green'}
          variant="outlined"
          style={{ fontSize: 11, lineHeight: '16px', marginInlineEnd: 0, fontWeight: 'normal' }}
        >
          {name}
        </Tag>
      )}
    </Tooltip>
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
