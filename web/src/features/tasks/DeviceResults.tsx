/**
 * The device-level results of a task (docs/statistics.md#device-results): one row per device with its batch, channel, send
 * result and receipt times, filtered by result and receipt, a page at a time; any filter can be
 * saved as a new audience (Generate Audience) or exported as CSV. Device results are kept for the
 * retention window only; a server without the device endpoints gets a plain "not available" note.
 */
import { DownloadOutlined, UsergroupAddOutlined } from '@ant-design/icons';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Empty,
  Form,
  Input,
  Modal,
  Result,
  Select,
  Space,
  Table,
  type TableProps,
  Tag,
  Typography,
} from 'antd';
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import type { DeviceFilter, DeviceResult, ReceiptKind, SendResult, Task } from '../../api/types.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { timeZoneLabel } from '../../i18n/date-time.ts';
import { formatCount, formatDateTime, formatHours, NONE } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { channelLabel } from './channels.ts';
import { refreshGapMs, statisticsSignature, useRefreshOnChange } from './live.ts';
import { useTaskWindows } from './windows.ts';

const PAGE_LIMIT = 50;
const RESULT_COLORS: Record<SendResult, string> = {
  success: 'success',
  failure: 'error',
  no_feedback: 'warning',
  pending: 'default',
  capped: 'purple',
  cancelled: 'orange',
};

/** A receipt choice of the filter: `impression` (has it) or `!impression` (lacks it). */
type ReceiptChoice = ReceiptKind | `!${ReceiptKind}`;

/**
 * The receipt choices a filter can hold together, newest first kept: at most one receipt the devices
 * have and one they lack (the API's `receipt` and `without`, combined with AND: "shown but not opened"
 * is `impression` + `!open`), never the same receipt both ways. A newer pick replaces the older one it
 * conflicts with, so the field always shows the filter that is applied.
 */
function combinableReceipts(picked: readonly ReceiptChoice[]): ReceiptChoice[] {
  const kept: ReceiptChoice[] = [];
  for (const choice of [...picked].reverse()) {
    const lacks = choice.startsWith('!');
    const kind = lacks ? choice.slice(1) : choice;
    const clash = kept.some(
      (k) => k.startsWith('!') === lacks || (k.startsWith('!') ? k.slice(1) : k) === kind,
    );
    if (!clash) kept.unshift(choice);
  }
  return kept;
}

function receiptChoices(task: Task): ReceiptKind[] {
  return task.platform === 'ios' ? ['impression', 'open'] : ['impression', 'open', 'dismissal'];
}

/** The send results a task's devices may have (iOS reports no delivery, so has no `no_feedback`). */
function sendResults(task: Task): SendResult[] {
  const results: SendResult[] = ['success', 'failure', 'no_feedback', 'pending', 'capped', 'cancelled'];
  return task.platform === 'ios' ? results.filter((r) => r !== 'no_feedback') : results;
}

function toFilter(
  sendResult: SendResult | undefined,
  receipts: readonly ReceiptChoice[] | undefined,
  deviceId?: string,
): DeviceFilter {
  const chosen = combinableReceipts(receipts ?? []);
  const has = chosen.find((r) => !r.startsWith('!'));
  const lacks = chosen.find((r) => r.startsWith('!'));
  return {
    ...(deviceId && { deviceId }),
    ...(sendResult && { sendResult }),
    ...(has && { receipt: has as ReceiptKind }),
    ...(lacks && { without: lacks.slice(1) as ReceiptKind }),
  };
}

function FilterFields({ task }: { task: Task }) {
  const { t } = useI18n();
  return (
    <>
      <Form.Item name="sendResult" label={t('devices.sendResult')} style={{ marginBottom: 0 }}>
        <Select<SendResult>
          allowClear
          placeholder={t('devices.anyResult')}
          options={sendResults(task).map((r) => ({ value: r, label: t(`sendResult.${r}`) }))}
          style={{ width: 160 }}
          data-testid="device-filter-result"
        />
      </Form.Item>
      <Form.Item
        name="receipt"
        label={t('devices.receipt')}
        style={{ marginBottom: 0 }}
        normalize={(picked?: ReceiptChoice[]) => combinableReceipts(picked ?? [])}
      >
        <Select<ReceiptChoice[]>
          mode="multiple"
          allowClear
          placeholder={t('devices.anyReceipt')}
          options={[
            ...receiptChoices(task).map((r) => ({
              value: r,
              label: t('devices.with', { receipt: t(`receipt.${r}`) }),
            })),
            ...receiptChoices(task).map((r) => ({
              value: `!${r}` as ReceiptChoice,
              label: t('devices.without', { receipt: t(`receipt.${r}`) }),
            })),
          ]}
          style={{ width: 280 }}
          data-testid="device-filter-receipt"
        />
      </Form.Item>
    </>
  );
}

interface FilterValues {
  sendResult?: SendResult;
  /** At most one receipt the devices have and one they lack (`combinableReceipts`). */
  receipt?: ReceiptChoice[];
  /** The device-ID search: IDs starting with this text. */
  deviceId?: string;
}

export function DeviceResults({ task }: { task: Task }) {
  const { t } = useI18n();
  const windows = useTaskWindows(task);
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [filterForm] = Form.useForm<FilterValues>();
  const [filter, setFilter] = useState<DeviceFilter>({});
  // Cursors of the pages seen so far: the first page has none.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [generateOpen, setGenerateOpen] = useState(false);
  const [exporting, setExporting] = useState(false);
  const cursor = cursors[cursors.length - 1] ?? null;
  const started = task.startedAt !== null;

  const devices = useQuery({
    queryKey: ['ws', ws.id, 'task', task.id, 'devices', filter, cursor],
    queryFn: () => api.tasks.devices(ws.id, task.id, filter, cursor, PAGE_LIMIT),
    enabled: started,
    placeholderData: keepPreviousData,
    retry: false,
    refetchInterval: task.status === 'sending' ? 5000 : false,
  });
  // Receipts change the listed times and totals: the page follows them, at a pace the task's size allows.
  useRefreshOnChange(
    statisticsSignature(task),
    devices.refetch,
    devices.dataUpdatedAt,
    refreshGapMs(task.statistics.totalSent),
    started && !devices.isError,
  );

  const title = t('devices.title');
  if (!started) {
    return (
      <Card title={title} size="small">
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('devices.notStarted')} />
      </Card>
    );
  }
  const error = devices.error;
  if (error instanceof ApiError && error.status === 410) {
    return (
      <Card title={title} size="small">
        <Result
          status="info"
          title={t('devices.expiredTitle')}
          subTitle={t('devices.expired', {
            time: formatDateTime(task.detailsExpireAt),
            hours: formatHours(windows.retentionHours, t),
          })}
        />
      </Card>
    );
  }

  const ios = task.platform === 'ios';
  const columns: TableProps<DeviceResult>['columns'] = [
    {
      title: t('devices.deviceId'),
      dataIndex: 'deviceId',
      key: 'deviceId',
      render: (v: string) => <code>{v}</code>,
    },
    {
      title: t('devices.batchId'),
      dataIndex: 'batchId',
      key: 'batchId',
      render: (v: string | null) => v ?? NONE,
    },
    {
      title: t('devices.channel'),
      dataIndex: 'channel',
      key: 'channel',
      render: (v: string | null) => (v === null ? NONE : channelLabel(v, t)),
    },
    {
      title: t('devices.sendResult'),
      key: 'sendResult',
      render: (_, d) => (
        <Space orientation="vertical" size={0}>
          <Tag color={RESULT_COLORS[d.sendResult]}>{t(`sendResult.${d.sendResult}`)}</Tag>
          {d.failureReason && (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {d.failureReason}
            </Typography.Text>
          )}
        </Space>
      ),
    },
    { title: t('devices.deliveredAt'), key: 'deliveredAt', render: (_, d) => formatDateTime(d.deliveredAt) },
    {
      title: t('devices.impressionAt'),
      key: 'impressionAt',
      render: (_, d) => formatDateTime(d.impressionAt),
    },
    { title: t('devices.openAt'), key: 'openAt', render: (_, d) => formatDateTime(d.openAt) },
    ...(ios
      ? []
      : [
          {
            title: t('devices.dismissalAt'),
            key: 'dismissalAt',
            render: (_: unknown, d: DeviceResult) => formatDateTime(d.dismissalAt),
          },
        ]),
  ];

  const applyFilter = (values: FilterValues) => {
    setFilter(toFilter(values.sendResult, values.receipt, values.deviceId?.trim()));
    setCursors([null]);
  };

  const exportCsv = async () => {
    setExporting(true);
    try {
      await api.tasks.exportDevices(ws.id, task.id, filter);
    } catch (err) {
      message.error(err instanceof Error ? err.message : String(err));
    } finally {
      setExporting(false);
    }
  };

  return (
    <Card
      title={
        <span>
          {title}{' '}
          {devices.data && (
            <Typography.Text type="secondary" style={{ fontWeight: 'normal' }}>
              {t('devices.count', { n: formatCount(devices.data.total) })}
            </Typography.Text>
          )}{' '}
          <Typography.Text
            type="secondary"
            style={{ fontWeight: 'normal', fontSize: 12 }}
            data-testid="time-zone"
          >
            · {t('time.zoneNote', { zone: timeZoneLabel() })}
          </Typography.Text>
        </span>
      }
      size="small"
      data-testid="device-results"
      extra={
        <Space>
          <Button icon={<DownloadOutlined />} onClick={exportCsv} loading={exporting}>
            {t('devices.export')}
          </Button>
          <Button
            type="primary"
            icon={<UsergroupAddOutlined />}
            onClick={() => setGenerateOpen(true)}
            disabled={!ws.canWrite}
          >
            {t('devices.generateAudience')}
          </Button>
        </Space>
      }
    >
      <Form<FilterValues>
        form={filterForm}
        layout="inline"
        onValuesChange={(changed, all) => {
          // The search applies when submitted (Enter, the button) or cleared, not on every keystroke.
          if (!('deviceId' in changed) || !changed.deviceId) applyFilter(all);
        }}
      >
        <FilterFields task={task} />
        <Form.Item name="deviceId" style={{ marginBottom: 0 }}>
          <Input.Search
            allowClear
            placeholder={t('devices.searchId')}
            aria-label={t('devices.searchId')}
            onSearch={() => applyFilter(filterForm.getFieldsValue())}
            style={{ width: 240 }}
            data-testid="device-search"
          />
        </Form.Item>
      </Form>
      {devices.isError ? (
        <QueryError error={devices.error} onRetry={() => devices.refetch()} />
      ) : (
        <>
          <Table<DeviceResult>
            rowKey="deviceId"
            columns={columns}
            dataSource={devices.data?.items}
            // A background refresh keeps the rows in place; only a new filter or page shows the spinner.
            loading={devices.isPending || (devices.isFetching && devices.isPlaceholderData)}
            pagination={false}
            size="small"
            style={{ marginTop: 12 }}
            scroll={{ x: 900 }}
          />
          <Space style={{ marginTop: 12, display: 'flex', justifyContent: 'flex-end' }}>
            <Button disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
              {t('common.previous')}
            </Button>
            <Button
              disabled={!devices.data?.nextCursor}
              onClick={() => setCursors((c) => [...c, devices.data?.nextCursor ?? null])}
            >
              {t('common.next')}
            </Button>
          </Space>
        </>
      )}
      {/* Mounted only while open, so each opening starts from the filter in force, not the last dialog's. */}
      {generateOpen && (
        <GenerateAudienceModal
          task={task}
          open
          initialFilter={filterForm.getFieldsValue()}
          onClose={(created) => {
            setGenerateOpen(false);
            if (created) void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'audiences'] });
          }}
        />
      )}
    </Card>
  );
}

interface GenerateValues extends FilterValues {
  name: string;
}

function GenerateAudienceModal({
  task,
  open,
  initialFilter,
  onClose,
}: {
  task: Task;
  open: boolean;
  initialFilter: FilterValues;
  onClose: (created: boolean) => void;
}) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const [form] = Form.useForm<GenerateValues>();
  const [busy, setBusy] = useState(false);
  // The count to be saved, before saving: the device list's exact total for the chosen filter.
  const sendResult = Form.useWatch('sendResult', form) ?? initialFilter.sendResult;
  const receipt = Form.useWatch('receipt', form) ?? initialFilter.receipt;
  const chosen = toFilter(sendResult, receipt, initialFilter.deviceId?.trim());
  const matching = useQuery({
    queryKey: ['ws', ws.id, 'task', task.id, 'devices', chosen, null],
    queryFn: () => api.tasks.devices(ws.id, task.id, chosen, null, PAGE_LIMIT),
    retry: false,
  });
  const willSave = matching.data?.total;
  const collecting = task.statisticsFinalAt !== null && Date.parse(task.statisticsFinalAt) > Date.now();

  const submit = async (values: GenerateValues) => {
    setBusy(true);
    try {
      const filter = toFilter(values.sendResult, values.receipt, initialFilter.deviceId?.trim());
      const audience = await api.tasks.generateAudience(ws.id, task.id, values.name.trim(), filter);
      message.success(t('devices.audienceCreated', { name: audience.name, n: formatCount(audience.size) }));
      onClose(true);
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length > 0) {
        form.setFields(
          err.fieldErrors.map((e) => ({
            name: e.field === 'name' ? 'name' : 'sendResult',
            errors: [e.message],
          })),
        );
      } else {
        message.error(err instanceof Error ? err.message : String(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('devices.generateAudience')}
      open={open}
      onCancel={() => onClose(false)}
      onOk={() => form.submit()}
      okText={t('devices.generate')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      okButtonProps={{ disabled: willSave === 0 }}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">{t('devices.generateHint')}</Typography.Paragraph>
      <Form<GenerateValues>
        form={form}
        layout="vertical"
        onFinish={submit}
        initialValues={{ ...initialFilter, name: `${task.name} – ${t('devices.result')}` }}
        preserve={false}
      >
        <Form.Item name="name" label={t('common.name')} rules={[{ required: true, whitespace: true }]}>
          <Input maxLength={200} />
        </Form.Item>
        <Space wrap>
          <FilterFields task={task} />
        </Space>
      </Form>
      <div style={{ marginTop: 12 }} data-testid="generate-count">
        {willSave === undefined ? (
          <Typography.Text type="secondary">{t('generate.counting')}</Typography.Text>
        ) : willSave === 0 ? (
          <Alert type="warning" showIcon title={t('generate.nothing')} />
        ) : (
          <Typography.Text strong>{t('generate.willSave', { n: formatCount(willSave) })}</Typography.Text>
        )}
      </div>
      {collecting && (
        <Alert
          style={{ marginTop: 12 }}
          type="info"
          showIcon
          title={t('generate.snapshot', { time: formatDateTime(task.statisticsFinalAt) })}
          data-testid="generate-snapshot"
        />
      )}
      <Typography.Paragraph type="secondary" style={{ marginTop: 12, fontSize: 12 }}>
        {t('devices.generateRetention')}{' '}
        <Link to={`/w/${encodeURIComponent(ws.id)}/audiences`}>{t('nav.audiences')}</Link>
      </Typography.Paragraph>
    </Modal>
  );
}
