/**
 * Keeps a half-filled form from being lost: while it has unsaved changes, closing or reloading the
 * tab asks the browser's own question (beforeunload), and following a link inside the console asks
 * ours first. The console runs on a plain `BrowserRouter`, which has no navigation blocker, so links
 * are caught where they are clicked (capture phase, before React Router's own handler).
 */
import { App as AntApp } from 'antd';
import { useCallback, useEffect, useRef } from 'react';
import { useNavigate } from 'react-router';
import { useI18n } from '../../i18n/i18n.tsx';

/**
 * Guards the page while `dirty` is true (see the module comment); answers `confirmLeave`, for the
 * page's own ways out (a Cancel button): it runs `leave` at once when nothing is unsaved, else after
 * the user confirms.
 */
export function useUnsavedGuard(dirty: boolean): (leave: () => void) => void {
  const { t } = useI18n();
  const { modal } = AntApp.useApp();
  const navigate = useNavigate();
  const dirtyRef = useRef(dirty);
  const released = useRef(false);
  dirtyRef.current = dirty;

  const confirmLeave = useCallback(
    (leave: () => void) => {
      if (!dirtyRef.current || released.current) {
        leave();
        return;
      }
      modal.confirm({
        title: t('form.unsavedTitle'),
        content: t('form.unsavedBody'),
        okText: t('form.unsavedLeave'),
        okButtonProps: { danger: true },
        cancelText: t('form.unsavedStay'),
        onOk: () => {
          released.current = true;
          leave();
        },
      });
    },
    [modal, t],
  );

  useEffect(() => {
    const guarding = () => dirtyRef.current && !released.current;
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      if (!guarding()) return;
      event.preventDefault();
      // Older browsers show the prompt only when returnValue is set.
      event.returnValue = '';
    };
    const onClick = (event: MouseEvent) => {
      if (!guarding() || event.defaultPrevented || event.button !== 0) return;
      // A modified click opens another tab: this page stays.
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const anchor = (event.target as Element | null)?.closest?.('a[href]');
      if (!(anchor instanceof HTMLAnchorElement) || anchor.target === '_blank') return;
      const url = new URL(anchor.href, window.location.href);
      if (url.origin !== window.location.origin) return;
      event.preventDefault();
      event.stopPropagation();
      confirmLeave(() => navigate(`${url.pathname}${url.search}${url.hash}`));
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    document.addEventListener('click', onClick, true);
    return () => {
      window.removeEventListener('beforeunload', onBeforeUnload);
      document.removeEventListener('click', onClick, true);
    };
  }, [confirmLeave, navigate]);

  return confirmLeave;
}
