/**
 * Keeps a half-filled form from being lost: while it has unsaved changes, closing or reloading the
 * tab asks the browser's own question (beforeunload), and every navigation inside the console — a
 * link, the browser's Back and Forward buttons, the workspace switcher, a Cancel button — asks ours
 * first, through React Router's navigation blocker (the console runs on a data router for it).
 */
import { App as AntApp } from 'antd';
import { useCallback, useEffect, useRef } from 'react';
import { type BlockerFunction, useBlocker } from 'react-router';
import { useI18n } from '../../i18n/i18n.tsx';

/**
 * Guards the page while `dirty` is true (see the module comment). A navigation that only ends the
 * session (to the login page) is let through: the session is gone whatever the form holds.
 */
export function useUnsavedGuard(dirty: boolean): void {
  const { t } = useI18n();
  const { modal } = AntApp.useApp();
  // Read when a navigation starts rather than captured, so a save that has just begun (and then
  // opens the saved task) is never asked about.
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;

  const shouldBlock = useCallback<BlockerFunction>(
    ({ currentLocation, nextLocation }) =>
      dirtyRef.current &&
      nextLocation.pathname !== '/login' &&
      (currentLocation.pathname !== nextLocation.pathname || currentLocation.search !== nextLocation.search),
    [],
  );
  const blocker = useBlocker(shouldBlock);

  useEffect(() => {
    if (blocker.state !== 'blocked') return;
    const dialog = modal.confirm({
      title: t('form.unsavedTitle'),
      content: t('form.unsavedBody'),
      okText: t('form.unsavedLeave'),
      okButtonProps: { danger: true },
      cancelText: t('form.unsavedStay'),
      onOk: () => blocker.proceed(),
      // Stay, Escape or the close button: the navigation is dropped (Back's entry is restored).
      onCancel: () => blocker.reset(),
    });
    return () => dialog.destroy();
  }, [blocker, modal, t]);

  useEffect(() => {
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      if (!dirtyRef.current) return;
      event.preventDefault();
      // Older browsers show the prompt only when returnValue is set.
      event.returnValue = '';
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, []);
}
