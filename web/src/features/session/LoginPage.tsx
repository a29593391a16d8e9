/**
 * The login page: username and password for a session token. Wrong credentials say so; repeated
 * failures are slowed down by the server (429), and the page shows the wait and counts it down. A
 * password generated at the first start must be replaced first: the page then asks for a new one
 * (with the new session's token, which is kept only once the change has been made).
 */

import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { api } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import { LanguageSwitch } from '../../components/LanguageSwitch.tsx';
import { Logo } from '../../components/Logo.tsx';
import { NewPasswordFields, PASSWORD_MIN_LENGTH } from '../../components/NewPasswordFields.tsx';
import { usePageTitle } from '../../components/page-title.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { type LoginState, useSession } from './session.tsx';

interface Credentials {
  username: string;
  password: string;
}

interface NewPassword {
  newPassword: string;
  confirm: string;
}

/** A login that must change its generated password before the session is kept. */
interface PendingChange {
  token: string;
  currentPassword: string;
}

export function LoginPage() {
  const { t } = useI18n();
  usePageTitle(t('login.submit'));
  const { token, signIn } = useSession();
  const navigate = useNavigate();
  const state = (useLocation().state ?? {}) as LoginState;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());
  const [pending, setPending] = useState<PendingChange | null>(null);

  useEffect(() => {
    if (waitUntil === null) return;
    const timer = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= waitUntil) setWaitUntil(null);
    }, 250);
    return () => clearInterval(timer);
  }, [waitUntil]);

  if (token) return <Navigate to={state.from ?? '/'} replace />;

  const waitSeconds = waitUntil === null ? 0 : Math.max(0, Math.ceil((waitUntil - now) / 1000));

  const submit = async ({ username, password }: Credentials) => {
    setBusy(true);
    setError(null);
    try {
      const result = await api.auth.login(username.trim(), password);
      if (result.passwordChangeRequired) {
        setPending({ token: result.token, currentPassword: password });
        return;
      }
      signIn(result.token);
      navigate(state.from ?? '/', { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        setWaitUntil(Date.now() + (err.retryAfterSeconds ?? 30) * 1000);
        setNow(Date.now());
      } else if (err instanceof ApiError && err.status === 401) {
        setError(t('login.invalid'));
      } else {
        setError(err instanceof Error ? err.message : String(err));
      }
    } finally {
      setBusy(false);
    }
  };

  const change = async ({ newPassword }: NewPassword) => {
    if (!pending) return;
    setBusy(true);
    setError(null);
    try {
      await api.auth.changePassword(pending.currentPassword, newPassword, pending.token);
      signIn(pending.token);
      navigate(state.from ?? '/', { replace: true });
    } catch (err) {
      const fields = err instanceof ApiError ? err.fieldErrors : [];
      setError(
        fields.length > 0
          ? t('login.passwordRule', { n: PASSWORD_MIN_LENGTH })
          : err instanceof Error
            ? err.message
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  const changeForm = (
    <>
      <Alert
        type="warning"
        showIcon
        title={t('login.changeTitle')}
        description={t('login.changeHint')}
        style={{ marginBottom: 16 }}
      />
      <Form<NewPassword> layout="vertical" onFinish={change} requiredMark={false}>
        <NewPasswordFields autoFocus />
        <Button type="primary" htmlType="submit" block loading={busy}>
          {t('login.changeSubmit')}
        </Button>
      </Form>
    </>
  );

  return (
    <div
      style={{
        minHeight: '100vh',
        display: 'flex',
        flexDirection: 'column',
        alignItems: 'center',
        justifyContent: 'center',
        background: 'linear-gradient(160deg, #f0f5ff 0%, #f7f8fa 60%)',
        padding: 24,
      }}
    >
      <div style={{ position: 'fixed', top: 16, right: 24 }}>
        <LanguageSwitch />
      </div>
      <Card style={{ width: 380, boxShadow: '0 8px 24px rgba(15, 35, 95, 0.08)' }}>
        <div style={{ textAlign: 'center', marginBottom: 8 }}>
          <Logo />
        </div>
        <Typography.Paragraph type="secondary" style={{ textAlign: 'center' }}>
          {t('login.subtitle')}
        </Typography.Paragraph>
        {state.expired && !error && waitSeconds === 0 && (
          <Alert type="info" showIcon title={t('login.expired')} style={{ marginBottom: 16 }} />
        )}
        {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} role="alert" />}
        {waitSeconds > 0 && (
          <Alert
            type="warning"
            showIcon
            role="alert"
            title={t('login.tooMany', { seconds: waitSeconds })}
            style={{ marginBottom: 16 }}
          />
        )}
        {pending ? (
          changeForm
        ) : (
          <Form<Credentials> layout="vertical" onFinish={submit} requiredMark={false}>
            <Form.Item
              name="username"
              label={t('login.username')}
              rules={[{ required: true, whitespace: true, message: t('login.usernameRequired') }]}
            >
              <Input prefix={<UserOutlined />} autoComplete="username" autoFocus />
            </Form.Item>
            <Form.Item
              name="password"
              label={t('login.password')}
              rules={[{ required: true, message: t('login.passwordRequired') }]}
            >
              <Input.Password prefix={<LockOutlined />} autoComplete="current-password" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block loading={busy} disabled={waitSeconds > 0}>
              {waitSeconds > 0 ? t('login.waitButton', { seconds: waitSeconds }) : t('login.submit')}
            </Button>
          </Form>
        )}
      </Card>
      <Typography.Text type="secondary" style={{ marginTop: 16, fontSize: 12 }}>
        {t('login.apiHint')} <a href="/docs">/docs</a>
      </Typography.Text>
    </div>
  );
}
