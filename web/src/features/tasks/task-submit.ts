/**
 * Saving the task form: creates the task (with a picked audience or an uploaded ID file) or updates
 * it, then opens it; every problem the server finds is put next to its field, the rest above the form.
 */
import { useQueryClient } from '@tanstack/react-query';
import { App as AntApp, type FormInstance } from 'antd';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import type { Task } from '../../api/types.ts';
import { applyFieldErrors } from '../../components/form-errors.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { type ParamRow, type TaskFormValues, taskFieldMapper, taskInputOf } from './task-form-values.ts';

/** What the form shows of a save: whether one is under way, the upload's progress, and its errors. */
export interface TaskSubmit {
  submit: (values: TaskFormValues) => Promise<void>;
  submitting: boolean;
  /** Fraction of the ID file uploaded, or null when no upload is under way. */
  progress: number | null;
  /** Problems no form item shows, listed above the form. */
  formErrors: string[];
  /** Problems with the parameter list as a whole, shown under it. */
  paramErrors: string[];
}

/** Saves `form` as a new task, or as `task` when editing it. */
export function useTaskSubmit(form: FormInstance<TaskFormValues>, task: Task | undefined): TaskSubmit {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { message } = AntApp.useApp();
  const [submitting, setSubmitting] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [paramErrors, setParamErrors] = useState<string[]>([]);
  const tasksPath = `/w/${encodeURIComponent(ws.id)}/tasks`;
  const mapField = taskFieldMapper(() => form.getFieldValue('params') as ParamRow[]);

  const submit = async (v: TaskFormValues) => {
    setFormErrors([]);
    setParamErrors([]);
    const body = taskInputOf(v);
    setSubmitting(true);
    try {
      let saved: Task;
      if (task) {
        // The schedule is sent only when changed: an untouched time that has just passed is the
        // dispatcher's business, not a mistake of the marketer's.
        const scheduleChanged =
          v.sendType !== task.sendType ||
          (v.sendType === 'scheduled' && v.scheduledAt?.toISOString() !== task.scheduledAt);
        const { sendType, scheduledAt, ...rest } = body;
        saved = await api.tasks.update(ws.id, task.id, {
          ...rest,
          audienceId: v.audienceId,
          ...(scheduleChanged && { sendType, ...(scheduledAt && { scheduledAt }) }),
        });
      } else if (v.audienceMode === 'upload') {
        const file = v.file?.[0]?.originFileObj;
        if (!file) throw new Error(t('form.fileRequired'));
        setProgress(0);
        saved = await api.tasks.createWithFile(ws.id, body, file, setProgress);
      } else {
        saved = await api.tasks.create(ws.id, { ...body, audienceId: v.audienceId });
      }
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id] });
      message.success(task ? t('form.saved', { name: saved.name }) : t('form.created', { name: saved.name }));
      navigate(`${tasksPath}/${saved.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.fieldErrors.length > 0) {
        const paramsLevel = error.fieldErrors.filter((e) => e.field === 'clickAction.params');
        setParamErrors(paramsLevel.map((e) => e.message));
        const rest = applyFieldErrors(
          form,
          error.fieldErrors.filter((e) => e.field !== 'clickAction.params'),
          mapField,
          t,
        );
        setFormErrors(rest);
        message.error(t('form.fixErrors'));
      } else if (error instanceof ApiError && error.code === 'TASK_NOT_EDITABLE') {
        setFormErrors([t('form.startedMeanwhile')]);
      } else {
        setFormErrors([error instanceof Error ? error.message : String(error)]);
      }
    } finally {
      setSubmitting(false);
      setProgress(null);
    }
  };

  return { submit, submitting, progress, formErrors, paramErrors };
}
