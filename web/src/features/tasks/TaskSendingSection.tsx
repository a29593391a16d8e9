/**
 * The sending card of the task form: send type and time, category, time to live within the
 * provider's maximum, pacing, and the sub-campaigns the task serves (a new one can be made on the
 * spot, without leaving the half-filled form).
 */
import { PlusOutlined } from '@ant-design/icons';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  App as AntApp,
  Button,
  Card,
  DatePicker,
  Form,
  type FormInstance,
  Input,
  InputNumber,
  Modal,
  Radio,
  Select,
  Space,
  TreeSelect,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../api/client.ts';
import { errorMessage } from '../../api/http.ts';
import type { SendType } from '../../api/types.ts';
import { DATE_TIME_PATTERN, formatCountdown, timeZoneLabel } from '../../i18n/date-time.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { CAMPAIGN_NODE, type TaskFormValues } from './task-form-values.ts';
import { useSubCampaignTree } from './task-parts.tsx';
import { TTL_UNITS, type TtlUnit } from './ttl.ts';

/** The shortest and longest pacing a task takes, in minutes (the server's `MIN_/MAX_SPREAD_MINUTES`). */
const MIN_SPREAD_MINUTES = 1;
const MAX_SPREAD_MINUTES = 1440;

/** The task form's sending card; `maxTtlSeconds` is the longest time to live the app's provider takes. */
export function TaskSendingSection({
  form,
  sendType,
  maxTtlSeconds,
}: {
  form: FormInstance<TaskFormValues>;
  /** The send type as currently chosen. */
  sendType: SendType | undefined;
  maxTtlSeconds: number;
}) {
  const { t } = useI18n();
  return (
    <Card title={t('form.section.sending')} size="small" style={{ marginBottom: 16 }}>
      <Form.Item name="sendType" label={t('form.sendType')}>
        <Radio.Group
          options={[
            { value: 'immediate', label: t('sendType.immediate') },
            { value: 'scheduled', label: t('sendType.scheduled') },
          ]}
        />
      </Form.Item>
      {sendType === 'scheduled' && (
        <Form.Item
          name="scheduledAt"
          label={t('form.scheduledAt')}
          rules={[
            { required: true, message: t('form.scheduledAtRequired') },
            {
              validator: async (_, at: Dayjs | undefined) => {
                if (at && !at.isAfter(dayjs())) throw new Error(t('form.scheduledAtPast'));
              },
            },
          ]}
          extra={<ScheduleHint form={form} />}
        >
          <DatePicker
            showTime={{ format: 'HH:mm' }}
            format={DATE_TIME_PATTERN}
            disabledDate={(d) => d.isBefore(dayjs().startOf('day'))}
            style={{ width: 240 }}
          />
        </Form.Item>
      )}
      <Form.Item name="category" label={t('form.category')} extra={t('form.categoryHint')}>
        <Radio.Group
          options={[
            { value: 'marketing', label: t('category.marketing') },
            { value: 'service', label: t('category.service') },
          ]}
        />
      </Form.Item>
      <Form.Item label={t('form.ttl')} required extra={t('form.ttlHint', { days: maxTtlSeconds / 86_400 })}>
        <Space.Compact>
          <Form.Item
            name="ttlAmount"
            noStyle
            rules={[
              { required: true, message: t('form.required') },
              {
                validator: async (_, amount: number | null) => {
                  if (amount === null || amount === undefined) return;
                  const unit = (form.getFieldValue('ttlUnit') as TtlUnit | undefined) ?? 'days';
                  const seconds = amount * TTL_UNITS[unit];
                  if (seconds < 60) throw new Error(t('form.ttlTooShort'));
                  if (seconds > maxTtlSeconds) {
                    throw new Error(t('form.ttlTooLong', { days: maxTtlSeconds / 86_400 }));
                  }
                },
              },
            ]}
          >
            <InputNumber min={1} precision={0} style={{ width: 120 }} data-testid="ttl-amount" />
          </Form.Item>
          <Form.Item name="ttlUnit" noStyle>
            <Select
              data-testid="ttl-unit"
              style={{ width: 120 }}
              options={(['minutes', 'hours', 'days'] as const).map((unit) => ({
                value: unit,
                label: t(`ttlUnit.${unit}`),
              }))}
              onChange={() => void form.validateFields(['ttlAmount']).catch(() => undefined)}
            />
          </Form.Item>
        </Space.Compact>
      </Form.Item>
      <Form.Item
        name="spreadMinutes"
        label={t('form.pacing')}
        extra={t('form.pacingHint')}
        rules={[
          {
            type: 'integer',
            min: MIN_SPREAD_MINUTES,
            max: MAX_SPREAD_MINUTES,
            message: t('form.pacingRange', { min: MIN_SPREAD_MINUTES, max: MAX_SPREAD_MINUTES }),
          },
        ]}
      >
        <InputNumber
          min={MIN_SPREAD_MINUTES}
          max={MAX_SPREAD_MINUTES}
          precision={0}
          placeholder={t('form.pacingPlaceholder')}
          prefix={t('form.pacingPrefix')}
          suffix={t('form.pacingSuffix')}
          style={{ width: 300 }}
          aria-label={t('form.pacing')}
          data-testid="spread-minutes"
        />
      </Form.Item>
      <SubCampaignPicker form={form} />
    </Card>
  );
}

/** Under the send time: the zone it is read in, and how long until it ("in 2 h 5 min"). */
function ScheduleHint({ form }: { form: FormInstance<TaskFormValues> }) {
  const { t } = useI18n();
  const at = Form.useWatch('scheduledAt', form) as Dayjs | undefined;
  const countdown = at ? formatCountdown(at.toISOString(), Date.now(), t) : null;
  return (
    <span data-testid="schedule-hint">
      {t('form.scheduledAtHint', { zone: timeZoneLabel(at?.toDate()) })}
      {countdown && ` · ${countdown}`}
    </span>
  );
}

/** The sub-campaigns a task serves, picked from a tree of the workspace's campaigns. */
function SubCampaignPicker({ form }: { form: FormInstance<TaskFormValues> }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const subCampaignTree = useSubCampaignTree(ws.id);
  const [creating, setCreating] = useState(false);
  const treeData = subCampaignTree.groups.map((g) => ({
    title: g.key === '-' ? t('form.independentSubCampaigns') : g.label,
    value: `${CAMPAIGN_NODE}${g.key}`,
    key: `${CAMPAIGN_NODE}${g.key}`,
    children: g.subCampaigns.map((s) => ({ title: s.name, value: s.id, key: s.id })),
  }));

  return (
    <Form.Item
      label={t('form.subCampaigns')}
      extra={
        <span>
          {t('form.subCampaignsHint')}{' '}
          <Link to={`/w/${encodeURIComponent(ws.id)}/campaigns`}>{t('form.manageCampaigns')}</Link>
        </span>
      }
    >
      <Space.Compact style={{ width: '100%' }}>
        <Form.Item name="subCampaignIds" noStyle>
          <TreeSelect
            treeData={treeData}
            treeCheckable
            showCheckedStrategy={TreeSelect.SHOW_CHILD}
            treeDefaultExpandAll
            placeholder={t('form.subCampaignsPlaceholder')}
            loading={subCampaignTree.isPending}
            notFoundContent={t('form.noSubCampaigns')}
            showSearch={{ treeNodeFilterProp: 'title' }}
            maxTagCount={6}
            data-testid="sub-campaign-select"
          />
        </Form.Item>
        {ws.canWrite && (
          <Button icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="new-sub-campaign">
            {t('form.newSubCampaign')}
          </Button>
        )}
      </Space.Compact>
      {creating && (
        <NewSubCampaignDialog
          onClose={(createdId) => {
            setCreating(false);
            if (createdId) {
              const chosen = (form.getFieldValue('subCampaignIds') as string[] | undefined) ?? [];
              form.setFieldValue('subCampaignIds', [...chosen, createdId]);
            }
          }}
        />
      )}
    </Form.Item>
  );
}

/** The "-" choice of the campaign select: a sub-campaign of no campaign. */
const INDEPENDENT = '-';

/**
 * Creates a sub-campaign from inside the task form (under a campaign or none); closes with its ID
 * once the picker's tree holds it, so the form can select it.
 */
function NewSubCampaignDialog({ onClose }: { onClose: (createdId: string | null) => void }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const queryClient = useQueryClient();
  const { message } = AntApp.useApp();
  const [name, setName] = useState('');
  const [campaignId, setCampaignId] = useState<string>(INDEPENDENT);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const campaigns = useQuery({
    queryKey: ['ws', ws.id, 'campaigns'],
    queryFn: () => api.campaigns.list(ws.id),
  });

  const create = async () => {
    if (name.trim() === '') {
      setProblem(t('form.required'));
      return;
    }
    setBusy(true);
    try {
      const created = await api.campaigns.createSubCampaign(
        ws.id,
        name.trim(),
        campaignId === INDEPENDENT ? null : campaignId,
      );
      // The picker shows a chosen ID by its tree node: have the node before choosing it.
      await Promise.all([
        queryClient.refetchQueries({ queryKey: ['ws', ws.id, 'campaigns'] }),
        queryClient.refetchQueries({ queryKey: ['ws', ws.id, 'sub-campaigns'] }),
      ]);
      message.success(t('campaigns.saved', { name: created.name }));
      onClose(created.id);
    } catch (error) {
      setProblem(errorMessage(error));
    } finally {
      setBusy(false);
    }
  };

  // No <Form> here: the dialog sits inside the task form, whose submit it must never trigger.
  return (
    <Modal
      open
      title={t('campaigns.addSubCampaign')}
      onCancel={() => onClose(null)}
      onOk={create}
      okText={t('common.create')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      destroyOnHidden
    >
      <Space orientation="vertical" style={{ width: '100%' }}>
        <label htmlFor="new-sub-campaign-name">{t('common.name')}</label>
        <Input
          id="new-sub-campaign-name"
          autoFocus
          maxLength={200}
          value={name}
          status={problem ? 'error' : undefined}
          onChange={(e) => {
            setName(e.target.value);
            setProblem(null);
          }}
          onPressEnter={(e) => {
            e.preventDefault();
            void create();
          }}
        />
        {problem && (
          <div role="alert" style={{ color: '#ff4d4f' }}>
            {problem}
          </div>
        )}
        <label htmlFor="new-sub-campaign-campaign">{t('campaigns.campaign')}</label>
        <Select<string>
          id="new-sub-campaign-campaign"
          value={campaignId}
          onChange={setCampaignId}
          loading={campaigns.isPending}
          style={{ width: '100%' }}
          options={[
            { value: INDEPENDENT, label: t('form.independentSubCampaigns') },
            ...(campaigns.data?.items ?? []).map((c) => ({ value: c.id, label: c.name })),
          ]}
        />
      </Space>
    </Modal>
  );
}
