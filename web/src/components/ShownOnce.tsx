/**
 * Secrets the server shows only once (an app's receipt secret and SDK credentials, a new API
 * token): each with a copy button, and a plain warning that they cannot be shown again.
 */
import { Alert, Button, Modal, Space, Typography } from 'antd';
import { useI18n } from '../i18n/i18n.tsx';

export interface Secret {
  label: string;
  value: string;
}

export function ShownOnce({
  title,
  secrets,
  onClose,
}: {
  title: string;
  secrets: Secret[] | null;
  onClose: () => void;
}) {
  const { t } = useI18n();
  return (
    <Modal
      title={title}
      open={secrets !== null}
      onCancel={onClose}
      footer={
        <Button type="primary" onClick={onClose}>
          {t('secrets.saved')}
        </Button>
      }
      mask={{ closable: false }}
      width={620}
    >
      <Alert type="warning" showIcon title={t('secrets.once')} style={{ marginBottom: 16 }} />
      <Space orientation="vertical" size={12} style={{ width: '100%' }} data-testid="shown-once">
        {(secrets ?? []).map((secret) => (
          <div key={secret.label}>
            <Typography.Text type="secondary">{secret.label}</Typography.Text>
            <Typography.Paragraph copyable code style={{ marginBottom: 0, wordBreak: 'break-all' }}>
              {secret.value}
            </Typography.Paragraph>
          </div>
        ))}
      </Space>
    </Modal>
  );
}
