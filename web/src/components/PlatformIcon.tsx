/** The platform of an app as an icon (Apple or Android), named for screen readers. */
import { AndroidFilled, AppleFilled } from '@ant-design/icons';
import type { Platform } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';

export function PlatformIcon({ platform }: { platform: Platform }) {
  const { t } = useI18n();
  return platform === 'ios' ? (
    <AppleFilled aria-label={t('platform.ios')} style={{ color: '#555' }} />
  ) : (
    <AndroidFilled aria-label={t('platform.android')} style={{ color: '#3ddc84' }} />
  );
}
