/**
 * The console's two languages, English and Simplified Chinese, switchable at any time and
 * remembered in localStorage. Messages are a typed dictionary (`en.ts` defines the keys, `zh.ts`
 * must translate every one), so a missing translation is a type error, not a blank in the UI.
 */
import { ConfigProvider } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { en, type MessageKey } from './en.ts';
import { fill, type MessageValues } from './fill.ts';
import type { Locale } from './locale.ts';
import { zh } from './zh.ts';

export type { Locale };

const LOCALE_KEY = 'pushboard.locale';
const DICTIONARIES: Record<Locale, Record<MessageKey, string>> = { en, zh };

export type { MessageValues } from './fill.ts';

/** Translates a message key, filling `{placeholders}`. */
export type Translate = (key: MessageKey, values?: MessageValues) => string;

interface I18n {
  locale: Locale;
  setLocale: (locale: Locale) => void;
  t: Translate;
}

const I18nContext = createContext<I18n | null>(null);

function initialLocale(): Locale {
  const saved = localStorage.getItem(LOCALE_KEY);
  if (saved === 'en' || saved === 'zh') return saved;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** The language shown now, for code outside React (the API client's error texts). */
let shownLocale: Locale = initialLocale();

/** The console's current language, as the provider last rendered it. */
export function currentLocale(): Locale {
  return shownLocale;
}

/** Provides the current language to the console and to Ant Design's own texts and date pickers. */
export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  shownLocale = locale;
  dayjs.locale(locale === 'zh' ? 'zh-cn' : 'en');
  const setLocale = useCallback((next: Locale) => {
    localStorage.setItem(LOCALE_KEY, next);
    document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
    setLocaleState(next);
  }, []);
  const value = useMemo<I18n>(
    () => ({ locale, setLocale, t: (key, values) => fill(DICTIONARIES[locale][key], values) }),
    [locale, setLocale],
  );
  return (
    <I18nContext.Provider value={value}>
      <ConfigProvider locale={locale === 'zh' ? zhCN : enUS} theme={{ token: { borderRadius: 6 } }}>
        {children}
      </ConfigProvider>
    </I18nContext.Provider>
  );
}

/** The current language and its `t` function. */
export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error('useI18n needs an I18nProvider above it');
  return i18n;
}
