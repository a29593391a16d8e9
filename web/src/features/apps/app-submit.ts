/**
 * Saving the app form: creates the app or changes it, then closes the form; a problem the server
 * finds with a field is put next to that field, the rest above the form.
 */
import { useQueryClient } from '@tanstack/react-query';
import { App as AntApp, type FormInstance } from 'antd';
import { useState } from 'react';
import { api } from '../../api/client.ts';
import { ApiError, errorMessage } from '../../api/http.ts';
import type { App, ProviderName } from '../../api/types.ts';
import { applyFieldErrors } from '../../components/form-errors.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { deliverySettingsOf } from './AppDeliverySection.tsx';
import { type AppValues, itemOf, providerConfigOf, SECRET_ITEM } from './app-form-values.ts';

/** What the form shows of a save: whether one is under way, and the problem no form item shows. */
export interface AppSubmit {
  submit: (values: AppValues) => Promise<void>;
  busy: boolean;
  /** Shown above the form; null when there is none. */
  error: string | null;
}

/** The app form being saved, and what saving it needs to know. */
export interface AppSubmitOptions {
  form: FormInstance<AppValues>;
  /** The app being changed, or null for a new one. */
  app: App | null;
  /** The provider chosen in the form: its secret's item is where a missing secret is shown. */
  provider: ProviderName;
  /** Whether the provider config is sent: credentials are written by owners only. */
  mayWriteConfig: boolean;
  /** Called with the created app, or with null once a change is saved. */
  onClose: (created: App | null) => void;
}

/** Saves the form as a new app or as the app being changed. */
export function useAppSubmit({ form, app, provider, mayWriteConfig, onClose }: AppSubmitOptions): AppSubmit {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const showError = (err: unknown) => {
    if (!(err instanceof ApiError)) {
      setError(errorMessage(err));
      return;
    }
    const details = (err.details ?? {}) as { fields?: string[]; field?: string };
    if (err.code === 'PROVIDER_SECRET_REQUIRED') {
      const item = SECRET_ITEM[provider];
      if (item) {
        form.setFields([{ name: item, errors: [t('apps.secretRequired')] }]);
        return;
      }
    }
    if (err.code === 'PROVIDER_URL_NOT_ALLOWED' && details.field) {
      const item = itemOf(details.field);
      if (item) {
        form.setFields([{ name: item as keyof AppValues, errors: [t('apps.urlNotAllowed')] }]);
        return;
      }
    }
    if (err.fieldErrors.length > 0) {
      const rest = applyFieldErrors(form, err.fieldErrors, (path) => {
        const item = itemOf(path);
        return item ? [item] : null;
      });
      setError(rest.length > 0 ? rest.join('\n') : null);
      return;
    }
    setError(errorMessage(err));
  };

  const submit = async (v: AppValues) => {
    setBusy(true);
    setError(null);
    try {
      const providerConfig = mayWriteConfig ? providerConfigOf(v, app) : undefined;
      const delivery = deliverySettingsOf(v);
      if (app) {
        await api.apps.update(ws.id, app.id, { name: v.name.trim(), providerConfig, ...delivery });
        message.success(t('apps.saved', { name: v.name.trim() }));
      }
      const created = app
        ? null
        : await api.apps.create(ws.id, {
            name: v.name.trim(),
            platform: v.platform,
            provider: v.provider,
            providerConfig,
            ...delivery,
          });
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'apps'] });
      onClose(created);
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  };

  return { submit, busy, error };
}
