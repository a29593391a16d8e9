/** The progress of a file upload; once every byte is sent, the server is still importing it. */
import { Progress, Typography } from 'antd';
import { useI18n } from '../i18n/i18n.tsx';

export function UploadProgress({ fraction, fileName }: { fraction: number | null; fileName?: string }) {
  const { t } = useI18n();
  if (fraction === null) return null;
  const percent = Math.floor(fraction * 100);
  return (
    <div data-testid="upload-progress" style={{ marginBlock: 8 }}>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {percent < 100 ? t('upload.sending', { file: fileName ?? '' }) : t('upload.processing')}
      </Typography.Text>
      <Progress percent={percent} status={percent < 100 ? 'active' : 'normal'} size="small" />
    </div>
  );
}
