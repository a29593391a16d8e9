/**
 * The console's frame, laid out like the product it is modelled on: a left navigation
 * (User Marketing › Reach Marketing › PUSH › Normal Tasks, then audiences, campaigns, apps and
 * settings), and a header with the path to the page, the workspace switcher, the language switch
 * and the user menu with logout.
 */
import {
  AppstoreOutlined,
  DownOutlined,
  FlagOutlined,
  LogoutOutlined,
  NotificationOutlined,
  SettingOutlined,
  TeamOutlined,
  UserOutlined,
} from '@ant-design/icons';
import { useQuery } from '@tanstack/react-query';
import {
  Breadcrumb,
  Button,
  Dropdown,
  Layout,
  Menu,
  type MenuProps,
  Result,
  Select,
  Space,
  Spin,
} from 'antd';
import { useEffect } from 'react';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';
import { api } from '../../api/client.ts';
import { LanguageSwitch } from '../../components/LanguageSwitch.tsx';
import { Logo } from '../../components/Logo.tsx';
import { OfflineBanner } from '../../components/OfflineBanner.tsx';
import { QueryError } from '../../components/QueryError.tsx';
import type { MessageKey } from '../../i18n/en.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useSession } from '../session/session.tsx';
import { rememberWorkspace, useCurrentWorkspace, useWorkspaces } from './workspace.ts';

/** The sections of the console: where each sits in the navigation and in the header's path. */
const SECTIONS: { key: string; path: MessageKey[] }[] = [
  { key: 'tasks', path: ['nav.userMarketing', 'nav.reachMarketing', 'nav.push', 'nav.normalTasks'] },
  { key: 'audiences', path: ['nav.userMarketing', 'nav.audiences'] },
  { key: 'campaigns', path: ['nav.userMarketing', 'nav.campaigns'] },
  { key: 'apps', path: ['nav.configuration', 'nav.apps'] },
  { key: 'settings', path: ['nav.configuration', 'nav.settings'] },
];

export function ConsoleLayout() {
  const { t } = useI18n();
  const { signOut } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const current = useCurrentWorkspace();
  const workspaces = useWorkspaces();
  const me = useQuery({ queryKey: ['me'], queryFn: api.auth.me, staleTime: 300_000 });

  useEffect(() => {
    if (current.workspace) rememberWorkspace(current.workspace.id);
  }, [current.workspace]);

  const base = `/w/${encodeURIComponent(current.id)}`;
  const sectionKey = location.pathname.slice(base.length + 1).split('/')[0] || 'tasks';
  const section = SECTIONS.find((s) => s.key === sectionKey) ?? SECTIONS[0]!;

  const item = (key: string, label: MessageKey, icon?: React.ReactNode) => ({
    key,
    icon,
    label: <Link to={`${base}/${key}`}>{t(label)}</Link>,
  });
  const menu: MenuProps['items'] = [
    {
      key: 'userMarketing',
      icon: <NotificationOutlined />,
      label: t('nav.userMarketing'),
      children: [
        {
          key: 'reachMarketing',
          label: t('nav.reachMarketing'),
          children: [{ key: 'push', label: t('nav.push'), children: [item('tasks', 'nav.normalTasks')] }],
        },
        item('audiences', 'nav.audiences', <TeamOutlined />),
        item('campaigns', 'nav.campaigns', <FlagOutlined />),
      ],
    },
    {
      key: 'configuration',
      type: 'group',
      label: t('nav.configuration'),
      children: [
        item('apps', 'nav.apps', <AppstoreOutlined />),
        item('settings', 'nav.settings', <SettingOutlined />),
      ],
    },
  ];

  // Remembered once there (the effect above): a form's unsaved-changes guard may keep the user here.
  const switchWorkspace = (id: string) => {
    navigate(`/w/${encodeURIComponent(id)}/${section.key}`);
  };

  const userMenu: MenuProps = {
    items: [{ key: 'logout', icon: <LogoutOutlined />, label: t('nav.logout'), danger: true }],
    onClick: ({ key }) => {
      if (key === 'logout') void signOut();
    },
  };

  let body: React.ReactNode = <Outlet />;
  if (workspaces.isPending) {
    body = <Spin size="large" style={{ display: 'block', marginTop: 120 }} />;
  } else if (workspaces.isError && !workspaces.data) {
    body = <QueryError error={workspaces.error} onRetry={() => void workspaces.refetch()} />;
  } else if (workspaces.data && !current.workspace) {
    body = (
      <Result
        status="404"
        title={t('nav.workspaceMissing')}
        extra={
          <Button type="primary" onClick={() => navigate('/')}>
            {t('nav.openFirstWorkspace')}
          </Button>
        }
      />
    );
  }

  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Sider width={208} theme="light" style={{ borderRight: '1px solid #f0f0f0' }} breakpoint="lg">
        <div style={{ padding: '16px 20px 8px' }}>
          <Link to={`${base}/tasks`}>
            <Logo />
          </Link>
        </div>
        <nav aria-label={t('nav.navigation')}>
          <Menu
            mode="inline"
            selectedKeys={[section.key]}
            defaultOpenKeys={['userMarketing', 'reachMarketing', 'push']}
            items={menu}
            style={{ borderInlineEnd: 'none' }}
          />
        </nav>
      </Layout.Sider>
      <Layout>
        <Layout.Header
          style={{
            background: '#fff',
            padding: '0 24px',
            display: 'flex',
            alignItems: 'center',
            justifyContent: 'space-between',
            borderBottom: '1px solid #f0f0f0',
            height: 56,
            lineHeight: '56px',
          }}
        >
          <Breadcrumb
            items={[
              { title: current.workspace?.name ?? current.id },
              ...section.path.map((key) => ({ title: t(key) })),
            ]}
          />
          <Space size="middle">
            <Select
              aria-label={t('nav.workspace')}
              data-testid="workspace-switcher"
              value={current.workspace ? current.id : undefined}
              loading={workspaces.isPending}
              onChange={switchWorkspace}
              options={(workspaces.data?.items ?? []).map((w) => ({ value: w.id, label: w.name }))}
              style={{ minWidth: 160 }}
              prefix={<span style={{ color: '#8c8c8c' }}>{t('nav.workspace')}:</span>}
            />
            <LanguageSwitch />
            <Dropdown menu={userMenu} trigger={['click']}>
              <Button type="text" icon={<UserOutlined />} data-testid="user-menu">
                {me.data?.username ?? ''}{' '}
                {current.role && <span style={{ color: '#8c8c8c' }}>({t(`role.${current.role}`)})</span>}
                <DownOutlined />
              </Button>
            </Dropdown>
          </Space>
        </Layout.Header>
        <OfflineBanner />
        <Layout.Content style={{ padding: 16, background: '#f5f6f8' }}>{body}</Layout.Content>
      </Layout>
    </Layout>
  );
}
