/**
 * The error state of a page or panel whose data could not be loaded: a retry button when trying
 * again can help, and a way back to the console when the thing is gone or forbidden.
 */
import { Button, Result, Space } from 'antd';
import { useNavigate } from 'react-router';
import { ApiError } from '../api/http.ts';
import { errorText } from '../i18n/error-texts.ts';
import { useI18n } from '../i18n/i18n.tsx';

export function QueryError({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t, locale } = useI18n();
  const navigate = useNavigate();
  const status = error instanceof ApiError ? error.status : 0;
  const notFound = status === 404;
  const lasting = notFound || status === 403;
  return (
    <Result
      status={notFound ? '404' : status === 403 ? '403' : 'error'}
      title={
        notFound ? t('common.notFound') : status === 403 ? t('common.forbidden') : t('common.loadFailed')
      }
      // In the language shown now: an error kept on screen while the language is switched follows it.
      subTitle={
        error instanceof ApiError
          ? errorText(locale, error.code, error.serverMessage)
          : error instanceof Error
            ? error.message
            : String(error)
      }
      extra={
        <Space>
          {onRetry && !lasting && (
            <Button type="primary" onClick={onRetry}>
              {t('common.retry')}
            </Button>
          )}
          {/* A deleted task or a page of another workspace stays so: retrying would not help. */}
          {lasting && (
            <Button type="primary" onClick={() => navigate('/')}>
              {t('common.backHome')}
            </Button>
          )}
        </Space>
      }
    />
  );
}
