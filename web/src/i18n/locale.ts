/** A language of the console: English or Simplified Chinese. */
export type Locale = 'en' | 'zh';
