/**
 * A live preview of the notification on a phone: an iOS lock screen or an Android notification
 * shade, as the selected app's platform dictates, with what a tap will do written underneath.
 */
import { Typography } from 'antd';
import dayjs from 'dayjs';
import type { ClickAction, Platform } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';

interface PreviewProps {
  platform: Platform;
  appName: string;
  title: string;
  content: string;
  clickAction: ClickAction;
}

const frame: React.CSSProperties = {
  width: 280,
  height: 540,
  borderRadius: 40,
  border: '10px solid #1f1f1f',
  boxShadow: '0 12px 32px rgba(0,0,0,0.18)',
  overflow: 'hidden',
  position: 'relative',
  margin: '0 auto',
};

function AppIcon({ size, radius }: { size: number; radius: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" style={{ flex: 'none' }}>
      <rect width="32" height="32" rx={radius} fill="#1677ff" />
      <path
        d="M16 7a6 6 0 0 0-6 6v4.5L8 21h16l-2-3.5V13a6 6 0 0 0-6-6zm-2.5 15.5a2.5 2.5 0 0 0 5 0z"
        fill="#fff"
      />
    </svg>
  );
}

const clamp = (lines: number): React.CSSProperties => ({
  display: '-webkit-box',
  WebkitLineClamp: lines,
  WebkitBoxOrient: 'vertical',
  overflow: 'hidden',
  wordBreak: 'break-word',
});

function IosScreen({ appName, title, content }: PreviewProps) {
  const { t } = useI18n();
  const now = dayjs();
  return (
    <div
      style={{
        ...frame,
        background: 'linear-gradient(165deg, #5b6fd6 0%, #9a6fd0 45%, #f0a3b5 100%)',
        color: '#fff',
      }}
      data-testid="preview-ios"
    >
      <div style={{ display: 'flex', justifyContent: 'space-between', padding: '10px 22px 0', fontSize: 12 }}>
        <span style={{ fontWeight: 600 }}>{now.format('HH:mm')}</span>
        <span>●●● 5G ▮</span>
      </div>
      <div style={{ position: 'absolute', top: 8, left: '50%', transform: 'translateX(-50%)' }}>
        <div style={{ width: 86, height: 22, borderRadius: 12, background: '#000' }} />
      </div>
      <div style={{ textAlign: 'center', marginTop: 28 }}>
        <div style={{ fontSize: 14, opacity: 0.9 }}>{now.format('dddd, MMMM D')}</div>
        <div style={{ fontSize: 64, fontWeight: 300, lineHeight: 1.1 }}>{now.format('H:mm')}</div>
      </div>
      <div
        style={{
          margin: '24px 10px 0',
          padding: '10px 12px',
          borderRadius: 18,
          background: 'rgba(245,245,250,0.82)',
          color: '#111',
          backdropFilter: 'blur(8px)',
          display: 'flex',
          gap: 10,
        }}
      >
        <AppIcon size={34} radius={8} />
        <div style={{ minWidth: 0, flex: 1 }}>
          <div style={{ display: 'flex', justifyContent: 'space-between', gap: 8 }}>
            <strong style={{ fontSize: 13, ...clamp(1) }} data-testid="preview-title">
              {title || t('preview.titlePlaceholder')}
            </strong>
            <span style={{ fontSize: 12, color: '#666', flex: 'none' }}>{t('preview.now')}</span>
          </div>
          <div style={{ fontSize: 13, lineHeight: '17px', ...clamp(4) }} data-testid="preview-content">
            {content || t('preview.contentPlaceholder')}
          </div>
          <div style={{ fontSize: 11, color: '#777', marginTop: 2 }}>{appName}</div>
        </div>
      </div>
      <div
        style={{
          position: 'absolute',
          bottom: 8,
          left: '50%',
          transform: 'translateX(-50%)',
          width: 100,
          height: 4,
          borderRadius: 2,
          background: '#fff',
        }}
      />
    </div>
  );
}

function AndroidScreen({ appName, title, content }: PreviewProps) {
  const { t } = useI18n();
  const now = dayjs();
  return (
    <div style={{ ...frame, background: '#202124', color: '#e8eaed' }} data-testid="preview-android">
      <div style={{ display: 'flex', justifyContent: 'space-between', padding: '8px 18px 0', fontSize: 12 }}>
        <span>{now.format('HH:mm')}</span>
        <span>▾ ◢ ▮</span>
      </div>
      <div style={{ padding: '18px 16px 8px' }}>
        <div style={{ fontSize: 30, fontWeight: 400 }}>{now.format('HH:mm')}</div>
        <div style={{ fontSize: 12, color: '#9aa0a6' }}>{now.format('ddd, MMM D')}</div>
      </div>
      <div
        style={{
          margin: '8px 8px 0',
          padding: '12px 14px',
          borderRadius: 20,
          background: '#303134',
        }}
      >
        <div style={{ display: 'flex', alignItems: 'center', gap: 6, fontSize: 11, color: '#bdc1c6' }}>
          <AppIcon size={16} radius={16} />
          <span>{appName}</span>
          <span>·</span>
          <span>{t('preview.now')}</span>
        </div>
        <div style={{ fontSize: 14, fontWeight: 600, marginTop: 6, ...clamp(1) }} data-testid="preview-title">
          {title || t('preview.titlePlaceholder')}
        </div>
        <div
          style={{ fontSize: 13, color: '#bdc1c6', lineHeight: '18px', ...clamp(3) }}
          data-testid="preview-content"
        >
          {content || t('preview.contentPlaceholder')}
        </div>
      </div>
      <div style={{ margin: '8px 8px 0', padding: '10px 14px', borderRadius: 20, background: '#28292c' }}>
        <div style={{ height: 8, width: '60%', borderRadius: 4, background: '#3c4043' }} />
        <div style={{ height: 8, width: '85%', borderRadius: 4, background: '#3c4043', marginTop: 8 }} />
      </div>
    </div>
  );
}

/** The phone, and under it what tapping the notification does. */
export function PhonePreview(props: PreviewProps) {
  const { t } = useI18n();
  const { clickAction } = props;
  let tap = t('preview.tapOpenApp');
  if (clickAction.type === 'open_url') tap = t('preview.tapOpenUrl', { url: clickAction.url || '…' });
  if (clickAction.type === 'open_page') tap = t('preview.tapOpenPage', { page: clickAction.page || '…' });
  if (clickAction.type === 'custom') tap = t('preview.tapCustom');
  const params = Object.entries(clickAction.params ?? {});
  return (
    <div data-testid="phone-preview">
      {props.platform === 'ios' ? <IosScreen {...props} /> : <AndroidScreen {...props} />}
      <div style={{ marginTop: 16, textAlign: 'center' }}>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {tap}
        </Typography.Text>
        {params.length > 0 && (
          <div style={{ fontSize: 12, color: '#8c8c8c', marginTop: 4, wordBreak: 'break-all' }}>
            {t('preview.params')}: {params.map(([k, v]) => `${k}=${v}`).join(', ')}
          </div>
        )}
      </div>
    </div>
  );
}
