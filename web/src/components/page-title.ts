/**
 * The browser tab's title: each page names itself (and what it shows, e.g. the task's name), so a
 * marketer with several tabs open can tell them apart.
 */
import { useEffect } from 'react';

/**
 * Sets the tab title to `parts` (most specific first) followed by "Pushboard" while the calling page is
 * shown. Only pages call it, never the layout, so exactly one title is in force.
 */
export function usePageTitle(...parts: (string | null | undefined)[]): void {
  const title = [...parts.filter((p): p is string => Boolean(p)), 'Pushboard'].join(' · ');
  useEffect(() => {
    document.title = title;
  }, [title]);
}
