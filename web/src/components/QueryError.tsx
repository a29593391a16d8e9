/** The error state of a page or panel whose data could not be loaded, with a retry button. */
import { Button, Result } from 'antd';
import { ApiError } from '../api/http.ts';
import { useI18n } from '../i18n/i18n.tsx';

export function QueryError({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  const status = error instanceof ApiError ? error.status : 0;
  const notFound = status === 404;
  return (
    <Result
      status={notFound ? '404' : status === 403 ? '403' : 'error'}
      title={
        notFound ? t('common.notFound') : status === 403 ? t('common.forbidden') : t('common.loadFailed')
      }
      subTitle={error instanceof Error ? error.message : String(error)}
      extra={
        onRetry &&
        !notFound && (
          <Button type="primary" onClick={onRetry}>
            {t('common.retry')}
          </Button>
        )
      }
    />
  );
}
