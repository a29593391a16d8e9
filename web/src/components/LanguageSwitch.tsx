/** The EN / 中文 switch, on the login page and in the console's header. */
import { Segmented } from 'antd';
import { type Locale, useI18n } from '../i18n/i18n.tsx';

export function LanguageSwitch() {
  const { locale, setLocale, t } = useI18n();
  return (
    <Segmented<Locale>
      size="small"
      aria-label={t('common.language')}
      value={locale}
      onChange={setLocale}
      options={[
        { label: 'EN', value: 'en' },
        { label: '中文', value: 'zh' },
      ]}
      data-testid="language-switch"
    />
  );
}
