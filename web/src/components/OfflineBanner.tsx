/**
 * Says so at the top of the console while the browser is offline. Without it a page that lost its
 * connection only spins or shows old numbers; with it the marketer knows why, and that the console
 * loads what it missed by itself once the connection is back.
 */
import { useQueryClient } from '@tanstack/react-query';
import { Alert } from 'antd';
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { useI18n } from '../i18n/i18n.tsx';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('online', onChange);
  window.addEventListener('offline', onChange);
  return () => {
    window.removeEventListener('online', onChange);
    window.removeEventListener('offline', onChange);
  };
}

/** Whether the browser says it is online, kept current by its `online`/`offline` events. */
export function useOnline(): boolean {
  return useSyncExternalStore(subscribe, () => navigator.onLine);
}

/** A warning banner shown only while the browser is offline (see the module comment). */
export function OfflineBanner() {
  const { t } = useI18n();
  const online = useOnline();
  const queryClient = useQueryClient();
  const wasOffline = useRef(false);
  useEffect(() => {
    if (!online) wasOffline.current = true;
    else if (wasOffline.current) {
      wasOffline.current = false;
      // What failed while offline is asked for again now. The query client's own refetch on
      // reconnect skips a query that ended in an error with no data (seen in Chromium).
      void queryClient.invalidateQueries();
    }
  }, [online, queryClient]);
  if (online) return null;
  return (
    <Alert
      type="warning"
      showIcon
      banner
      role="alert"
      data-testid="offline-banner"
      title={t('common.offline')}
    />
  );
}
