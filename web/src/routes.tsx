/**
 * The console's pages and their addresses. Workspace pages live under `/w/:workspaceId/` so any
 * page can be bookmarked or shared; `/` opens the last workspace used (or the first one).
 */
import { Button, Result, Spin } from 'antd';
import { Navigate, Route, Routes, useNavigate } from 'react-router';
import { usePageTitle } from './components/page-title.ts';
import { QueryError } from './components/QueryError.tsx';
import { AppsPage } from './features/apps/AppsPage.tsx';
import { AudiencesPage } from './features/audiences/AudiencesPage.tsx';
import { CampaignsPage } from './features/campaigns/CampaignsPage.tsx';
import { ConsoleLayout } from './features/layout/ConsoleLayout.tsx';
import { lastWorkspaceId, useWorkspaces } from './features/layout/workspace.ts';
import { LoginPage } from './features/session/LoginPage.tsx';
import { RequireSession } from './features/session/session.tsx';
import { SettingsPage } from './features/settings/SettingsPage.tsx';
import { TaskDetailsPage } from './features/tasks/TaskDetailsPage.tsx';
import { TaskFormPage } from './features/tasks/TaskFormPage.tsx';
import { TaskListPage } from './features/tasks/TaskListPage.tsx';
import { useI18n } from './i18n/i18n.tsx';

/** Opens the workspace used last, or the first one the caller belongs to. */
function OpenWorkspace() {
  const { t } = useI18n();
  const workspaces = useWorkspaces();
  if (workspaces.isPending) return <Spin size="large" style={{ display: 'block', marginTop: 160 }} />;
  if (workspaces.isError) return <QueryError error={workspaces.error} onRetry={() => workspaces.refetch()} />;
  const items = workspaces.data.items;
  const target = items.find((w) => w.id === lastWorkspaceId()) ?? items[0];
  if (!target)
    return <Result status="403" title={t('nav.noWorkspace')} subTitle={t('nav.noWorkspaceHint')} />;
  return <Navigate to={`/w/${encodeURIComponent(target.id)}/tasks`} replace />;
}

function NotFound() {
  const { t } = useI18n();
  const navigate = useNavigate();
  usePageTitle(t('common.pageNotFound'));
  return (
    <Result
      status="404"
      title={t('common.pageNotFound')}
      extra={
        <Button type="primary" onClick={() => navigate('/')}>
          {t('common.backHome')}
        </Button>
      }
    />
  );
}

export function ConsoleRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        path="/"
        element={
          <RequireSession>
            <OpenWorkspace />
          </RequireSession>
        }
      />
      <Route
        path="/w/:workspaceId"
        element={
          <RequireSession>
            <ConsoleLayout />
          </RequireSession>
        }
      >
        <Route index element={<Navigate to="tasks" replace />} />
        <Route path="tasks" element={<TaskListPage />} />
        <Route path="tasks/new" element={<TaskFormPage />} />
        <Route path="tasks/:taskId" element={<TaskDetailsPage />} />
        <Route path="tasks/:taskId/edit" element={<TaskFormPage />} />
        <Route path="audiences" element={<AudiencesPage />} />
        <Route path="apps" element={<AppsPage />} />
        <Route path="campaigns" element={<CampaignsPage />} />
        <Route path="settings" element={<SettingsPage />} />
        <Route path="*" element={<NotFound />} />
      </Route>
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
