/**
 * The sending card of the task form: send type and time, category, time to live within the
 * provider's maximum, pacing, and the sub-campaigns the task serves.
 */
import {
  Card,
  DatePicker,
  Form,
  type FormInstance,
  InputNumber,
  Radio,
  Select,
  Space,
  TreeSelect,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { Link } from 'react-router';
import type { SendType } from '../../api/types.ts';
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
          extra={t('form.scheduledAtHint', {
            zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          })}
        >
          <DatePicker
            showTime={{ format: 'HH:mm' }}
            format="YYYY-MM-DD HH:mm"
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
      <SubCampaignPicker />
    </Card>
  );
}

/** The sub-campaigns a task serves, picked from a tree of the workspace's campaigns. */
function SubCampaignPicker() {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const subCampaignTree = useSubCampaignTree(ws.id);
  const treeData = subCampaignTree.groups.map((g) => ({
    title: g.key === '-' ? t('form.independentSubCampaigns') : g.label,
    value: `${CAMPAIGN_NODE}${g.key}`,
    key: `${CAMPAIGN_NODE}${g.key}`,
    children: g.subCampaigns.map((s) => ({ title: s.name, value: s.id, key: s.id })),
  }));

  return (
    <Form.Item
      name="subCampaignIds"
      label={t('form.subCampaigns')}
      extra={
        <span>
          {t('form.subCampaignsHint')}{' '}
          <Link to={`/w/${encodeURIComponent(ws.id)}/campaigns`}>{t('form.manageCampaigns')}</Link>
        </span>
      }
    >
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
  );
}
