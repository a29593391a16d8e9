/**
 * Workspace settings: its members and their roles, the instance's users (for the instance admin,
 * who can disable them), API tokens — a new token is shown once, and a revoked one stops working at
 * once — and the caller's own account (change password, log out everywhere). Only owners change
 * members and tokens; everyone else sees why they cannot.
 */

import { DeleteOutlined, PlusOutlined, StopOutlined } from '@ant-design/icons';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Form,
  Input,
  Modal,
  Popconfirm,
  Select,
  Space,
  Table,
  type TableProps,
  Tabs,
  Tag,
  Typography,
} from 'antd';
import { useState } from 'react';
import { api } from '../../api/client.ts';
import { errorMessage } from '../../api/http.ts';
import type { ApiToken, Member, Role, User } from '../../api/types.ts';
import { NewPasswordFields, PASSWORD_MIN_LENGTH } from '../../components/NewPasswordFields.tsx';
import { usePageTitle } from '../../components/page-title.ts';
import { QueryError } from '../../components/QueryError.tsx';
import { type Secret, ShownOnce } from '../../components/ShownOnce.tsx';
import { utcOffsetLabel } from '../../i18n/date-time.ts';
import { formatDateTime, NONE } from '../../i18n/format.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useCurrentWorkspace } from '../layout/workspace.ts';
import { useSession } from '../session/session.tsx';

const ROLES: Role[] = ['owner', 'operator', 'viewer'];

function useRoleOptions() {
  const { t } = useI18n();
  return ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }));
}

export function SettingsPage() {
  const { t } = useI18n();
  usePageTitle(t('nav.settings'));
  const me = useQuery({ queryKey: ['me'], queryFn: api.auth.me, staleTime: 300_000 });
  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('nav.settings')}
      </Typography.Title>
      <Tabs
        items={[
          { key: 'members', label: t('settings.members'), children: <Members /> },
          { key: 'tokens', label: t('settings.tokens'), children: <Tokens /> },
          ...(me.data?.isAdmin ? [{ key: 'users', label: t('settings.users'), children: <Users /> }] : []),
          ...(me.data?.kind === 'user'
            ? [{ key: 'account', label: t('settings.account'), children: <Account /> }]
            : []),
        ]}
      />
    </Space>
  );
}

function Members() {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message, modal } = AntApp.useApp();
  const queryClient = useQueryClient();
  const roleOptions = useRoleOptions();
  const [form] = Form.useForm<{ username: string; role: Role }>();
  const members = useQuery({
    queryKey: ['ws', ws.id, 'members'],
    queryFn: () => api.workspaces.members(ws.id),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'members'] });
  const attempt = async (action: () => Promise<unknown>, done: string) => {
    try {
      await action();
      message.success(done);
      void refresh();
    } catch (error) {
      modal.error({ title: t('settings.notDone'), content: errorMessage(error) });
    }
  };

  const columns: TableProps<Member>['columns'] = [
    { title: t('login.username'), dataIndex: 'username', key: 'username' },
    {
      title: t('settings.role'),
      key: 'role',
      render: (_, m) =>
        ws.isOwner ? (
          <Select<Role>
            value={m.role}
            options={roleOptions}
            style={{ width: 140 }}
            onChange={(role) =>
              attempt(
                () => api.workspaces.setMemberRole(ws.id, m.username, role),
                t('settings.roleChanged', { name: m.username }),
              )
            }
          />
        ) : (
          t(`role.${m.role}`)
        ),
    },
    {
      title: t('time.columnIn', { label: t('settings.joined'), zone: utcOffsetLabel() }),
      key: 'createdAt',
      render: (_, m) => formatDateTime(m.createdAt),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, m) => (
        <Popconfirm
          title={t('settings.removeConfirm', { name: m.username })}
          okText={t('settings.remove')}
          okButtonProps={{ danger: true }}
          cancelText={t('common.cancel')}
          disabled={!ws.isOwner}
          onConfirm={() =>
            attempt(
              () => api.workspaces.removeMember(ws.id, m.username),
              t('settings.removed', { name: m.username }),
            )
          }
        >
          <Button type="link" size="small" danger icon={<DeleteOutlined />} disabled={!ws.isOwner}>
            {t('settings.remove')}
          </Button>
        </Popconfirm>
      ),
    },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      {!ws.isOwner && <Alert type="info" showIcon title={t('settings.ownersOnly')} />}
      {ws.isOwner && (
        <Card size="small" title={t('settings.addMember')}>
          <Form
            form={form}
            layout="inline"
            initialValues={{ role: 'operator' }}
            onFinish={(v) =>
              attempt(
                async () => {
                  await api.workspaces.addMember(ws.id, v.username.trim(), v.role);
                  form.resetFields();
                },
                t('settings.added', { name: v.username.trim() }),
              )
            }
          >
            <Form.Item
              name="username"
              rules={[{ required: true, whitespace: true, message: t('form.required') }]}
            >
              <Input placeholder={t('login.username')} style={{ width: 220 }} />
            </Form.Item>
            <Form.Item name="role">
              <Select options={roleOptions} style={{ width: 140 }} />
            </Form.Item>
            <Button type="primary" htmlType="submit" icon={<PlusOutlined />}>
              {t('settings.add')}
            </Button>
          </Form>
          <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0, fontSize: 12 }}>
            {t('settings.addMemberHint')}
          </Typography.Paragraph>
        </Card>
      )}
      {members.isError ? (
        <QueryError error={members.error} onRetry={() => members.refetch()} />
      ) : (
        <Table<Member>
          rowKey="userId"
          columns={columns}
          dataSource={members.data?.items}
          loading={members.isPending}
          pagination={false}
        />
      )}
    </Space>
  );
}

function Tokens() {
  const { t } = useI18n();
  const ws = useCurrentWorkspace();
  const { message, modal } = AntApp.useApp();
  const queryClient = useQueryClient();
  const roleOptions = useRoleOptions();
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<Secret[] | null>(null);
  const [form] = Form.useForm<{ name: string; role: Role }>();
  const tokens = useQuery({
    queryKey: ['ws', ws.id, 'tokens'],
    queryFn: () => api.workspaces.tokens(ws.id),
    enabled: ws.isOwner,
  });
  if (!ws.isOwner) return <Alert type="info" showIcon title={t('settings.tokensOwnersOnly')} />;

  const create = async (v: { name: string; role: Role }) => {
    try {
      const token = await api.workspaces.createToken(ws.id, v.name.trim(), v.role);
      setCreating(false);
      form.resetFields();
      setShown([{ label: t('settings.tokenValue', { name: token.name }), value: token.token }]);
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'tokens'] });
    } catch (error) {
      message.error(errorMessage(error));
    }
  };
  const revoke = async (token: ApiToken) => {
    try {
      await api.workspaces.revokeToken(ws.id, token.id);
      message.success(t('settings.revoked', { name: token.name }));
      void queryClient.invalidateQueries({ queryKey: ['ws', ws.id, 'tokens'] });
    } catch (error) {
      modal.error({ title: t('settings.notDone'), content: errorMessage(error) });
    }
  };

  const columns: TableProps<ApiToken>['columns'] = [
    { title: t('common.name'), dataIndex: 'name', key: 'name' },
    { title: t('settings.role'), key: 'role', render: (_, k) => t(`role.${k.role}`) },
    { title: t('settings.token'), key: 'token', render: (_, k) => <code>{k.token}</code> },
    {
      title: t('time.columnIn', { label: t('common.createdAt'), zone: utcOffsetLabel() }),
      key: 'createdAt',
      render: (_, k) => formatDateTime(k.createdAt),
    },
    { title: t('settings.createdBy'), key: 'createdBy', render: (_, k) => k.createdBy ?? NONE },
    {
      title: t('time.columnIn', { label: t('settings.lastUsed'), zone: utcOffsetLabel() }),
      key: 'lastUsedAt',
      render: (_, k) => formatDateTime(k.lastUsedAt),
    },
    {
      title: t('settings.state'),
      key: 'state',
      render: (_, k) =>
        k.revokedAt ? (
          <Tag>{t('settings.revokedAt', { time: formatDateTime(k.revokedAt) })}</Tag>
        ) : (
          <Tag color="green">{t('settings.active')}</Tag>
        ),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, k) =>
        k.revokedAt ? (
          NONE
        ) : (
          <Popconfirm
            title={t('settings.revokeConfirm', { name: k.name })}
            description={t('settings.revokeHint')}
            okText={t('settings.revoke')}
            okButtonProps={{ danger: true }}
            cancelText={t('common.cancel')}
            onConfirm={() => revoke(k)}
          >
            <Button type="link" size="small" danger icon={<StopOutlined />}>
              {t('settings.revoke')}
            </Button>
          </Popconfirm>
        ),
    },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center' }}>
        <Typography.Text type="secondary">{t('settings.tokensHint')}</Typography.Text>
        <Button
          type="primary"
          icon={<PlusOutlined />}
          onClick={() => {
            // A cancelled earlier dialog's name and role never greet the next one.
            form.resetFields();
            setCreating(true);
          }}
        >
          {t('settings.createToken')}
        </Button>
      </div>
      {tokens.isError ? (
        <QueryError error={tokens.error} onRetry={() => tokens.refetch()} />
      ) : (
        <Table<ApiToken>
          rowKey="id"
          columns={columns}
          dataSource={tokens.data?.items}
          loading={tokens.isPending}
          pagination={false}
        />
      )}
      <Modal
        title={t('settings.createToken')}
        open={creating}
        onCancel={() => setCreating(false)}
        onOk={() => form.submit()}
        okText={t('common.create')}
        cancelText={t('common.cancel')}
      >
        <Form form={form} layout="vertical" onFinish={create} initialValues={{ role: 'operator' }}>
          <Form.Item
            name="name"
            label={t('common.name')}
            rules={[{ required: true, whitespace: true, message: t('form.required') }]}
          >
            <Input maxLength={200} placeholder={t('settings.tokenNamePlaceholder')} />
          </Form.Item>
          <Form.Item name="role" label={t('settings.role')} extra={t('settings.rolesHint')}>
            <Select options={roleOptions} />
          </Form.Item>
        </Form>
      </Modal>
      <ShownOnce title={t('settings.tokenCreated')} secrets={shown} onClose={() => setShown(null)} />
    </Space>
  );
}

function Users() {
  const { t } = useI18n();
  const { message } = AntApp.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ username: string; password: string }>();
  const users = useQuery({ queryKey: ['users'], queryFn: api.users.list });
  const setDisabled = async (user: User, disabled: boolean) => {
    try {
      await api.users.update(user.username, { disabled });
      message.success(
        t(disabled ? 'settings.userDisabled' : 'settings.userEnabled', { name: user.username }),
      );
      void queryClient.invalidateQueries({ queryKey: ['users'] });
    } catch (error) {
      message.error(errorMessage(error));
    }
  };
  const columns: TableProps<User>['columns'] = [
    { title: t('login.username'), dataIndex: 'username', key: 'username' },
    {
      title: t('settings.instanceAdmin'),
      key: 'isAdmin',
      render: (_, u) => (u.isAdmin ? <Tag color="gold">{t('settings.instanceAdmin')}</Tag> : NONE),
    },
    {
      title: t('time.columnIn', { label: t('common.createdAt'), zone: utcOffsetLabel() }),
      key: 'createdAt',
      render: (_, u) => formatDateTime(u.createdAt),
    },
    {
      title: t('settings.state'),
      key: 'state',
      render: (_, u) =>
        u.disabled ? <Tag>{t('settings.disabled')}</Tag> : <Tag color="green">{t('settings.active')}</Tag>,
    },
    {
      title: t('common.actions'),
      key: 'actions',
      // The instance admin cannot disable themself (the server refuses it too).
      render: (_, u) =>
        u.isAdmin ? (
          NONE
        ) : u.disabled ? (
          <Button type="link" size="small" onClick={() => setDisabled(u, false)}>
            {t('settings.enable')}
          </Button>
        ) : (
          <Popconfirm
            title={t('settings.disableConfirm', { name: u.username })}
            okText={t('settings.disable')}
            okButtonProps={{ danger: true }}
            cancelText={t('common.cancel')}
            onConfirm={() => setDisabled(u, true)}
          >
            <Button type="link" size="small" danger icon={<StopOutlined />}>
              {t('settings.disable')}
            </Button>
          </Popconfirm>
        ),
    },
  ];
  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Card size="small" title={t('settings.createUser')}>
        <Form
          form={form}
          layout="inline"
          onFinish={async (v) => {
            try {
              await api.users.create(v.username.trim(), v.password);
              message.success(t('settings.userCreated', { name: v.username.trim() }));
              form.resetFields();
              void queryClient.invalidateQueries({ queryKey: ['users'] });
            } catch (error) {
              message.error(errorMessage(error));
            }
          }}
        >
          <Form.Item
            name="username"
            rules={[{ required: true, whitespace: true, message: t('form.required') }]}
          >
            <Input placeholder={t('login.username')} autoComplete="off" />
          </Form.Item>
          <Form.Item
            name="password"
            rules={[
              {
                required: true,
                min: PASSWORD_MIN_LENGTH,
                message: t('settings.passwordRule', { n: PASSWORD_MIN_LENGTH }),
              },
            ]}
          >
            <Input.Password placeholder={t('login.password')} autoComplete="new-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" icon={<PlusOutlined />}>
            {t('common.create')}
          </Button>
        </Form>
        <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0, fontSize: 12 }}>
          {t('settings.createUserHint')}
        </Typography.Paragraph>
      </Card>
      {users.isError ? (
        <QueryError error={users.error} onRetry={() => users.refetch()} />
      ) : (
        <Table<User>
          rowKey="id"
          columns={columns}
          dataSource={users.data?.items}
          loading={users.isPending}
          pagination={false}
        />
      )}
    </Space>
  );
}

/** The caller's own account: a new password (ending the other sessions) and logging out everywhere. */
function Account() {
  const { t } = useI18n();
  const { message } = AntApp.useApp();
  const { signOut } = useSession();
  const [form] = Form.useForm<{ currentPassword: string; newPassword: string; confirm: string }>();
  return (
    <Space orientation="vertical" size={16} style={{ width: '100%', maxWidth: 420 }}>
      <Card size="small" title={t('settings.changePassword')}>
        <Form
          form={form}
          layout="vertical"
          requiredMark={false}
          onFinish={async (v) => {
            try {
              await api.auth.changePassword(v.currentPassword, v.newPassword);
              message.success(t('settings.passwordChanged'));
              form.resetFields();
            } catch (error) {
              message.error(errorMessage(error));
            }
          }}
        >
          <Form.Item
            name="currentPassword"
            label={t('settings.currentPassword')}
            rules={[{ required: true, message: t('login.passwordRequired') }]}
          >
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          <NewPasswordFields />
          <Button type="primary" htmlType="submit">
            {t('settings.changePassword')}
          </Button>
        </Form>
      </Card>
      <Popconfirm
        title={t('settings.endSessionsConfirm')}
        okText={t('settings.endSessions')}
        okButtonProps={{ danger: true }}
        cancelText={t('common.cancel')}
        onConfirm={async () => {
          try {
            await api.auth.endSessions();
          } finally {
            await signOut();
          }
        }}
      >
        <Button danger>{t('settings.endSessions')}</Button>
      </Popconfirm>
    </Space>
  );
}
