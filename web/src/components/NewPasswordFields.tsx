/**
 * The two fields of a new password — the password (at least 12 characters, as the server's policy)
 * and its repetition — for a form whose values have `newPassword` and `confirm`.
 */
import { LockOutlined } from '@ant-design/icons';
import { Form, Input } from 'antd';
import { useI18n } from '../i18n/i18n.tsx';

/** Shortest new password the server accepts (`PASSWORD_MIN_LENGTH`). */
const MIN_LENGTH = 12;

export function NewPasswordFields({ autoFocus = false }: { autoFocus?: boolean }) {
  const { t } = useI18n();
  return (
    <>
      <Form.Item
        name="newPassword"
        label={t('login.newPassword')}
        rules={[{ required: true, min: MIN_LENGTH, message: t('login.passwordRule') }]}
      >
        <Input.Password prefix={<LockOutlined />} autoComplete="new-password" autoFocus={autoFocus} />
      </Form.Item>
      <Form.Item
        name="confirm"
        label={t('login.confirmPassword')}
        dependencies={['newPassword']}
        rules={[
          { required: true, message: t('login.passwordRule') },
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
