/**
 * The two fields of a new password — the password (at least `PASSWORD_MIN_LENGTH` characters, as
 * the server's policy) and its repetition — for a form whose values have `newPassword` and `confirm`.
 */
import { LockOutlined } from '@ant-design/icons';
import { Form, Input } from 'antd';
import { useI18n } from '../i18n/i18n.tsx';

/**
 * Shortest new password the server accepts: the console's copy of the server's `PASSWORD_MIN_LENGTH`
 * (the console cannot import server code), used by every password form.
 */
export const PASSWORD_MIN_LENGTH = 12;

/**
 * The new-password and repeat-password fields of a form (values `newPassword` and `confirm`), checked
 * against the password policy and against each other before the form is sent.
 */
export function NewPasswordFields({ autoFocus = false }: { autoFocus?: boolean }) {
  const { t } = useI18n();
  return (
    <>
      <Form.Item
        name="newPassword"
        label={t('login.newPassword')}
        rules={[
          {
            required: true,
            min: PASSWORD_MIN_LENGTH,
            message: t('login.passwordRule', { n: PASSWORD_MIN_LENGTH }),
          },
        ]}
      >
        <Input.Password prefix={<LockOutlined />} autoComplete="new-password" autoFocus={autoFocus} />
      </Form.Item>
      <Form.Item
        name="confirm"
        label={t('login.confirmPassword')}
        dependencies={['newPassword']}
        rules={[
          { required: true, message: t('login.passwordRule', { n: PASSWORD_MIN_LENGTH }) },
          ({ getFieldValue }) => ({
            validator: (_, value) =>
              !value || getFieldValue('newPassword') === value
                ? Promise.resolve()
                : Promise.reject(new Error(t('login.passwordMismatch'))),
          }),
        ]}
      >
        <Input.Password prefix={<LockOutlined />} autoComplete="new-password" />
      </Form.Item>
    </>
  );
}
