/**
 * The test push dialog (docs/delivery-controls.md#test-push): up to 20 device IDs typed one a line
 * or comma-separated, checked as typed, sent now, and the result of each device shown in the words
 * of the device results. A test push counts in no statistic; the caller says what is sent (a
 * scheduled task's content, or the task form's values not saved yet).
 */
import { ExperimentOutlined } from '@ant-design/icons';
import { Alert, Button, Form, type FormInstance, Input, Modal, Space, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { api } from '../../api/client.ts';
import { ApiError, errorMessage } from '../../api/http.ts';
import type { TestPushAnswer, TestPushResult } from '../../api/types.ts';
import { fieldLine } from '../../components/form-errors.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { initialValues, type TaskFormValues, taskInputOf } from './task-form-values.ts';

/** Most devices one test push reaches. */
export const MAX_TEST_DEVICES = 20;

/** A device ID as the API takes it: 1–128 printable ASCII characters, no spaces. */
const DEVICE_ID = /^[\x21-\x7e]{1,128}$/;

/** The device IDs typed, or what is wrong with them. */
export type ParsedDeviceIds =
  | { ok: true; deviceIds: string[] }
  | { ok: false; problem: 'none' | 'tooMany' | 'invalid'; deviceIds: string[]; invalid?: string };

/** Splits typed device IDs on lines and commas, drops blanks and repeats, and checks them. */
export function parseDeviceIds(typed: string): ParsedDeviceIds {
  const deviceIds = [
    ...new Set(
      typed
        .split(/[\n,]/)
        .map((id) => id.trim())
        .filter(Boolean),
    ),
  ];
  const invalid = deviceIds.find((id) => !DEVICE_ID.test(id));
  if (invalid !== undefined) return { ok: false, problem: 'invalid', deviceIds, invalid };
  if (deviceIds.length === 0) return { ok: false, problem: 'none', deviceIds };
  if (deviceIds.length > MAX_TEST_DEVICES) return { ok: false, problem: 'tooMany', deviceIds };
  return { ok: true, deviceIds };
}

const RESULT_COLORS: Record<TestPushResult['sendResult'], string> = {
  success: 'success',
  no_feedback: 'warning',
  failure: 'error',
};

/** What a refused test push says: the known refusals in the console's words, field problems by field. */
function refusalOf(err: unknown, t: Translate): string {
  if (err instanceof ApiError) {
    if (err.code === 'TASK_NOT_TESTABLE') return t('testPush.notTestable');
    if (err.code === 'TOO_MANY_TEST_PUSHES') return t('testPush.rateLimited');
    if (err.code === 'NOT_FOUND' && err.status === 404) return t('testPush.notAvailable');
    if (err.fieldErrors.length > 0) return err.fieldErrors.map((e) => fieldLine(e, t)).join('\n');
  }
  return errorMessage(err);
}

/**
 * The dialog; `send` makes the test push with the parsed IDs. `check` runs first and may refuse
 * with a message (e.g. the form's content is not complete yet).
 */
export function TestPushDialog({
  open,
  onClose,
  send,
  check,
  subject,
}: {
  open: boolean;
  onClose: () => void;
  send: (deviceIds: string[]) => Promise<TestPushAnswer>;
  check?: () => Promise<string | null>;
  /** What is sent, shown under the title (a task's name, or "the form's current content"). */
  subject: string;
}) {
  const { t } = useI18n();
  const [typed, setTyped] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [results, setResults] = useState<TestPushResult[] | null>(null);
  const parsed = parseDeviceIds(typed);

  let problem: string | null = null;
  if (!parsed.ok && (touched || parsed.problem !== 'none')) {
    problem =
      parsed.problem === 'invalid'
        ? t('testPush.invalidId', { id: parsed.invalid ?? '' })
        : parsed.problem === 'tooMany'
          ? t('testPush.tooMany', { n: MAX_TEST_DEVICES })
          : t('testPush.noneGiven');
  }

  const submit = async () => {
    setTouched(true);
    setError(null);
    if (!parsed.ok) return;
    setBusy(true);
    try {
      const refusal = check ? await check() : null;
      if (refusal) {
        setError(refusal);
        return;
      }
      setResults((await send(parsed.deviceIds)).results);
    } catch (err) {
      setError(refusalOf(err, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('testPush.title')}
      open={open}
      onCancel={onClose}
      width={720}
      footer={
        <Space>
          <Button onClick={onClose}>{t('common.close')}</Button>
          <Button
            type="primary"
            icon={<ExperimentOutlined />}
            loading={busy}
            onClick={() => void submit()}
            data-testid="test-push-send"
          >
            {t('testPush.send')}
          </Button>
        </Space>
      }
      data-testid="test-push-dialog"
    >
      <Typography.Paragraph type="secondary">
        {t('testPush.explained', { subject, n: MAX_TEST_DEVICES })}
      </Typography.Paragraph>
      <Form layout="vertical">
        <Form.Item
          label={t('testPush.deviceIds')}
          validateStatus={problem ? 'error' : undefined}
          help={problem ?? t('testPush.count', { n: parsed.deviceIds.length, max: MAX_TEST_DEVICES })}
        >
          <Input.TextArea
            rows={5}
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            onBlur={() => setTouched(true)}
            placeholder={t('testPush.placeholder')}
            aria-label={t('testPush.deviceIds')}
            data-testid="test-push-ids"
          />
        </Form.Item>
      </Form>
      {error && (
        <Alert
          type="error"
          showIcon
          role="alert"
          title={error}
          style={{ marginBottom: 16, whiteSpace: 'pre-line' }}
          data-testid="test-push-error"
        />
      )}
      {results && (
        <Table<TestPushResult>
          size="small"
          rowKey="deviceId"
          pagination={false}
          dataSource={results}
          data-testid="test-push-results"
          title={() => t('testPush.resultsTitle', { n: results.length })}
          columns={[
            {
              title: t('devices.deviceId'),
              key: 'deviceId',
              render: (_, r) => <span style={{ whiteSpace: 'nowrap' }}>{r.deviceId}</span>,
            },
            {
              title: t('devices.sendResult'),
              key: 'sendResult',
              render: (_, r) => (
                <Tag color={RESULT_COLORS[r.sendResult]}>{t(`sendResult.${r.sendResult}`)}</Tag>
              ),
            },
            {
              title: t('testPush.reason'),
              key: 'reason',
              render: (_, r) =>
                r.failureReason ?? (
                  <Typography.Text type="secondary">{t(`testPush.meaning.${r.sendResult}`)}</Typography.Text>
                ),
            },
          ]}
        />
      )}
    </Modal>
  );
}

/**
 * Test push from the task form: sends the form's current content (app, title, content, click
 * action, time to live, category) once those fields are valid; nothing is saved.
 */
export function FormTestPushButton({ form }: { form: FormInstance<TaskFormValues> }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const [open, setOpen] = useState(false);
  const check = async () => {
    try {
      await form.validateFields(CONTENT_FIELDS);
      return null;
    } catch {
      return t('testPush.formIncomplete');
    }
  };
  const send = (deviceIds: string[]) => {
    const input = taskInputOf({ ...initialValues(undefined), ...form.getFieldsValue(true) });
    return api.testPushes.send(ws.id, {
      appId: input.appId,
      title: input.title,
      content: input.content,
      clickAction: input.clickAction,
      ttlSeconds: input.ttlSeconds,
      category: input.category,
      deviceIds,
    });
  };
  return (
    <>
      <Button
        icon={<ExperimentOutlined />}
        disabled={!ws.canWrite}
        onClick={() => setOpen(true)}
        data-testid="form-test-push"
      >
        {t('testPush.button')}
      </Button>
      {open && (
        <TestPushDialog
          open
          onClose={() => setOpen(false)}
          subject={t('testPush.subjectForm')}
          send={send}
          check={check}
        />
      )}
    </>
  );
}

/** The form items a test push sends: they must be valid first. */
const CONTENT_FIELDS: (keyof TaskFormValues)[] = [
  'appId',
  'title',
  'content',
  'clickType',
  'url',
  'page',
  'ttlAmount',
];
