/**
 * The delivery controls of the task details page (docs/delivery-controls.md): Stop for a sending
 * task with a dialog saying what a stop does, Duplicate into a new task form, Test push for a
 * scheduled task, and the notes on a task being stopped, stopped, or held by quiet hours.
 */
import { CopyOutlined, ExperimentOutlined, StopOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import { Alert, App as AntApp, Button, Modal, Tag, Tooltip, Typography } from 'antd';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api/client.ts';
import { ApiError, errorMessage } from '../../api/http.ts';
import type { Task } from '../../api/types.ts';
import { formatCount, formatDateTime, formatHours } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { taskQueryKey } from './live.ts';
import { TestPushDialog } from './TestPushDialog.tsx';
import { useTaskWindows } from './windows.ts';

/** The query parameter of `tasks/new` naming the task a new one is duplicated from. */
export const DUPLICATE_PARAM = 'from';

/** Whether a stop has been acknowledged while batches already at the provider are still recorded. */
export function isStopping(task: Task): boolean {
  return task.status === 'sending' && task.stoppedAt !== null;
}

/** "Stopping…" next to the status while a stopped task finishes what was already handed over. */
export function StoppingTag({ task }: { task: Task }) {
  const { t } = useI18n();
  if (!isStopping(task)) return null;
  return (
    <Tooltip title={t('stop.stoppingHint')}>
      <Tag color="warning" data-testid="stopping-tag">
        {t('stop.stopping')}
      </Tag>
    </Tooltip>
  );
}

/** Stop, with its confirmation dialog; shown for a sending task only. */
export function StopButton({ task }: { task: Task }) {
  const { t } = useI18n();
  const windows = useTaskWindows(task);
  const ws = useCurrentWorkspace();
  const queryClient = useQueryClient();
  const { message } = AntApp.useApp();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  if (task.status !== 'sending') return null;
  const stopping = isStopping(task);

  const stop = async () => {
    setBusy(true);
    try {
      const stopped = await api.tasks.stop(ws.id, task.id);
      queryClient.setQueryData(taskQueryKey(ws.id, task.id), stopped);
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'tasks'] });
      message.success(t('stop.acknowledged', { name: task.name }));
      setOpen(false);
    } catch (err) {
      message.error(
        err instanceof ApiError && err.code === 'TASK_NOT_STOPPABLE'
          ? t('stop.notStoppable')
          : errorMessage(err),
      );
      setOpen(false);
      void queryClient.invalidateQueries({ queryKey: taskQueryKey(ws.id, task.id) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Tooltip title={ws.canWrite ? null : t('tasks.readOnlyRole')}>
        <Button
          danger
          icon={<StopOutlined />}
          disabled={!ws.canWrite || stopping}
          loading={stopping}
          onClick={() => setOpen(true)}
          data-testid="details-stop"
        >
          {stopping ? t('stop.stopping') : t('stop.button')}
        </Button>
      </Tooltip>
      <Modal
        open={open}
        title={t('stop.confirmTitle', { name: task.name })}
        okText={t('stop.confirm')}
        okButtonProps={{ danger: true, loading: busy, ...{ 'data-testid': 'stop-confirm' } }}
        cancelText={t('common.cancel')}
        onOk={() => void stop()}
        onCancel={() => setOpen(false)}
        data-testid="stop-dialog"
      >
        <ul style={{ paddingInlineStart: 18, margin: 0 }}>
          <li>{t('stop.explainHandOver')}</li>
          <li>{t('stop.explainCancelled', { n: formatCount(task.statistics.pending) })}</li>
          <li>
            {t('stop.explainSent', {
              n: formatCount(task.statistics.totalSent),
              hours: formatHours(windows.statisticsHours, t),
            })}
          </li>
          <li>{t('stop.explainFinal')}</li>
        </ul>
      </Modal>
    </>
  );
}

/** Duplicate: opens the create form filled in with this task's content, audience and options. */
export function DuplicateButton({ task }: { task: Task }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const navigate = useNavigate();
  return (
    <Tooltip title={ws.canWrite ? t('duplicate.hint') : t('tasks.readOnlyRole')}>
      <Button
        icon={<CopyOutlined />}
        disabled={!ws.canWrite}
        onClick={() =>
          navigate(
            `/w/${encodeURIComponent(ws.id)}/tasks/new?${DUPLICATE_PARAM}=${encodeURIComponent(task.id)}`,
          )
        }
        data-testid="details-duplicate"
      >
        {t('duplicate.button')}
      </Button>
    </Tooltip>
  );
}

/** Test push of a scheduled task's content to a few devices; shown for a scheduled task only. */
export function TaskTestPushButton({ task }: { task: Task }) {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const [open, setOpen] = useState(false);
  if (task.status !== 'scheduled') return null;
  return (
    <>
      <Tooltip title={ws.canWrite ? null : t('tasks.readOnlyRole')}>
        <Button
          icon={<ExperimentOutlined />}
          disabled={!ws.canWrite}
          onClick={() => setOpen(true)}
          data-testid="details-test-push"
        >
          {t('testPush.button')}
        </Button>
      </Tooltip>
      {open && (
        <TestPushDialog
          open
          onClose={() => setOpen(false)}
          subject={t('testPush.subjectTask', { name: task.name })}
          send={(deviceIds) => api.tasks.test(ws.id, task.id, deviceIds)}
        />
      )}
    </>
  );
}

/** What the delivery controls did to the task: being stopped, stopped, or held by quiet hours. */
export function DeliveryNotes({ task }: { task: Task }) {
  const { t } = useI18n();
  const s = task.statistics;
  if (isStopping(task)) {
    return (
      <Alert
        type="warning"
        showIcon
        title={t('stop.stoppingTitle', { time: formatDateTime(task.stoppedAt) })}
        description={t('stop.stoppingHint')}
        data-testid="stopping-note"
      />
    );
  }
  if (task.status === 'stopped') {
    return (
      <Alert
        type="warning"
        showIcon
        title={t('stop.stoppedTitle', { time: formatDateTime(task.stoppedAt) })}
        description={
          s.cancelled > 0
            ? t('stop.stoppedCancelled', { n: formatCount(s.cancelled) })
            : t('stop.stoppedNothingCancelled')
        }
        data-testid="stopped-note"
      />
    );
  }
  if (task.status === 'scheduled' && task.deferredUntil) {
    return (
      <Alert
        type="info"
        showIcon
        title={t('quiet.deferredUntil', { time: formatDateTime(task.deferredUntil) })}
        description={<Typography.Text>{t('quiet.deferredHint')}</Typography.Text>}
        data-testid="deferred-note"
      />
    );
  }
  return null;
}
