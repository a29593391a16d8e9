/** The console's entry point: server-state cache, language and session around the routes. */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { App as AntApp } from 'antd';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, RouterProvider } from 'react-router';
import { ApiError } from './api/http.ts';
import { SessionProvider } from './features/session/session.tsx';
import { I18nProvider } from './i18n/i18n.tsx';
import { ConsoleRoutes } from './routes.tsx';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // A refused or missing resource will not change by asking again; a dropped connection may.
      retry: (failures, error) => !(error instanceof ApiError && error.status > 0) && failures < 2,
      refetchOnWindowFocus: false,
      // Offline, a query fails (and says the server could not be reached) instead of waiting
      // unseen; the offline banner says why, and reconnecting refetches.
      networkMode: 'always',
    },
    mutations: { networkMode: 'always' },
  },
});

/**
 * A data router (one catch-all route holding the console's own `<Routes>`), because only a data
 * router can block a navigation: the task form's unsaved-changes guard asks before Back or the
 * workspace switcher leaves it (useBlocker).
 */
const router = createBrowserRouter([
  {
    path: '*',
    element: (
      <SessionProvider>
        <ConsoleRoutes />
      </SessionProvider>
    ),
  },
]);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <I18nProvider>
        <AntApp>
          <RouterProvider router={router} />
        </AntApp>
      </I18nProvider>
    </QueryClientProvider>
  </StrictMode>,
);
