/**
 * The task form, the task list and their times (issue #18), in a real browser against the real
 * server, with the browser in Shanghai's time zone: an immediate send asks first with the match the
 * server counts; the audience picker shows each audience's match for the picked app; a sub-campaign
 * is made without leaving the form; unsaved changes are guarded; an iOS app sets a URL action aside
 * visibly and gives it back; a scheduled task shows its audience as planned, its time with the year,
 * the zone and a countdown; the date filter lets Tab reach the rows; no header is clipped at 1280 px
 * and the whole list fits 1280 and 1440 px wide, long names included.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  apiClient,
  type ConsoleServer,
  hasChromium,
  launchBrowser,
  logInAt,
  pickOption,
  screenshot,
  startServer,
} from './console-harness.ts';

interface TaskRead {
  id: string;
  name: string;
  status: string;
  sendType: string;
  subCampaignIds: string[];
  clickAction: { type: string; url?: string };
}

describe.skipIf(!hasChromium)('the task form and list', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let api: Awaited<ReturnType<typeof apiClient>>;
  let androidAppId: string;
  let audienceId: string;
  const browserErrors: string[] = [];

  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 20_000, interval: 100 });

  beforeAll(async () => {
    server = await startServer();
    api = await apiClient(server.baseUrl);
    const apps = await api<{ items: { id: string; platform: string }[] }>('GET', '/apps');
    androidAppId = apps.items.find((a) => a.platform === 'android')!.id;
    audienceId = (await api<{ items: { id: string }[] }>('GET', '/audiences')).items[0]!.id;
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 720 },
      locale: 'en-US',
      timezoneId: 'Asia/Shanghai',
    });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    await logInAt(page, server.baseUrl, '/w/default/tasks');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const choose = (testId: string, option: string) => pickOption(page, page.getByTestId(testId), option);

  async function tasksNamed(name: string): Promise<TaskRead[]> {
    const list = await api<{ items: TaskRead[] }>('GET', `/tasks?q=${encodeURIComponent(name)}`);
    return list.items.filter((t) => t.name === name);
  }

  /** Opens a fresh create form with a name, the Android demo app, a title and content filled in. */
  async function startTask(name: string) {
    await page.goto(`${server.baseUrl}/w/default/tasks/new`);
    await page.getByLabel('Task name', { exact: true }).fill(name);
    await choose('app-select', 'Pushboard Demo (Android)');
    await page.getByLabel('Title', { exact: true }).fill('Winter deals');
    await page.getByLabel('Content', { exact: true }).fill('Half price today');
  }

  /** The demo audience's option in the audience picker, read with the picker opened and closed again. */
  async function audienceOption(): Promise<string | null> {
    await page.getByTestId('audience-select').click();
    const option = page.locator('.ant-select-dropdown:visible').getByTestId(`audience-option-${audienceId}`);
    const text = await option.textContent();
    await page.keyboard.press('Escape');
    return text;
  }

  test('an immediate send asks first, with the share of the audience the app’s tokens match', async () => {
    await startTask('Sends to everyone');
    // The picker shows each audience's match for the picked app: 2,000 Android of 3,000 demo devices.
    await eventually(audienceOption).toBe(
      'All simulator devices · 3,000 devices · 2,000 with a token for this app',
    );
    await choose('audience-select', 'All simulator devices');
    await eventually(() => page.getByTestId('audience-select').textContent()).toContain(
      'All simulator devices',
    );

    await page.getByRole('button', { name: 'Create task' }).last().click();
    const confirm = page.locator('.ant-modal-confirm');
    await eventually(() => confirm.getByTestId('send-confirm-match').textContent()).toBe(
      '~2,000 of 3,000 audience devices have a push token for this app. The other 1,000 will count as unmatched and receive nothing.',
    );
    expect(await confirm.textContent()).toContain('Send now to Pushboard Demo (Android)?');
    await screenshot(page, 'polish-form-send-confirm');
    // Cancelled: nothing is created, the form is as it was.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => confirm.count()).toBe(0);
    expect(await tasksNamed('Sends to everyone')).toEqual([]);
    expect(page.url()).toMatch(/\/tasks\/new$/);

    // The iOS app matches the other 1,000.
    await choose('app-select', 'Pushboard Demo (iOS)');
    await eventually(audienceOption).toContain('1,000 with a token for this app');
    await choose('app-select', 'Pushboard Demo (Android)');

    await page.getByRole('button', { name: 'Create task' }).last().click();
    await confirm.getByRole('button', { name: 'Send now' }).click();
    await page.waitForURL(/\/tasks\/tsk_/, { timeout: 30_000 });
    expect(await tasksNamed('Sends to everyone')).toHaveLength(1);
  });

  test('a sub-campaign is made inside the form and chosen, and what was typed stays', async () => {
    await startTask('With a new sub-campaign');
    await page.getByTestId('new-sub-campaign').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Winter – push');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await eventually(() => dialog.count()).toBe(0);
    await eventually(() =>
      page.getByTestId('task-form').locator('.ant-select-selection-item').allTextContents(),
    ).toContain('Winter – push');
    expect(await page.getByLabel('Task name', { exact: true }).inputValue()).toBe('With a new sub-campaign');
    expect(await page.getByLabel('Title', { exact: true }).inputValue()).toBe('Winter deals');

    await choose('audience-select', 'All simulator devices');
    await page.getByText('Scheduled', { exact: true }).click();
    const when = new Date(Date.now() + 3 * 86_400_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    await page
      .getByPlaceholder('Select date')
      .fill(`${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} 10:30`);
    await page.getByPlaceholder('Select date').press('Enter');
    // The send time's hint names the zone and counts down.
    await eventually(() => page.getByTestId('schedule-hint').textContent()).toMatch(
      /^In your time zone \(UTC\+08:00 \(Asia\/Shanghai\)\)\. · in \d d \d+ h$/,
    );
    await page.getByRole('button', { name: 'Create task' }).last().click();
    await page.waitForURL(/\/tasks\/tsk_/);
    const [task] = await tasksNamed('With a new sub-campaign');
    const subs = await api<{ items: { id: string; name: string; campaignId: string | null }[] }>(
      'GET',
      '/sub-campaigns',
    );
    const created = subs.items.find((s) => s.name === 'Winter – push')!;
    expect(created.campaignId).toBeNull();
    expect(task!.subCampaignIds).toEqual([created.id]);
  });

  test('leaving a half-filled form asks first, in the console and when the tab unloads', async () => {
    await startTask('Half filled');
    // A link of the console: asked; staying keeps everything.
    await page
      .getByRole('navigation', { name: 'Navigation' })
      .getByRole('link', { name: 'Campaigns' })
      .click();
    const confirm = page.locator('.ant-modal-confirm');
    await eventually(() => confirm.textContent()).toContain('Leave without saving?');
    await confirm.getByRole('button', { name: 'Stay' }).click();
    await eventually(() => confirm.count()).toBe(0);
    expect(page.url()).toMatch(/\/tasks\/new$/);
    expect(await page.getByLabel('Task name', { exact: true }).inputValue()).toBe('Half filled');

    // Reloading: the browser's own question (dismissed: the page and its values stay).
    const asked: string[] = [];
    const onDialog = (d: import('playwright-core').Dialog) => {
      asked.push(d.type());
      void d.dismiss();
    };
    page.on('dialog', onDialog);
    await page.evaluate(() => {
      location.reload();
    });
    await eventually(() => asked).toEqual(['beforeunload']);
    page.off('dialog', onDialog);
    expect(await page.getByLabel('Task name', { exact: true }).inputValue()).toBe('Half filled');

    // Cancel asks too; leaving goes.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await confirm.getByRole('button', { name: 'Leave' }).click();
    await page.waitForURL(/\/tasks$/);

    // An untouched form lets one go without a question.
    await page.goto(`${server.baseUrl}/w/default/tasks/new`);
    await page
      .getByRole('navigation', { name: 'Navigation' })
      .getByRole('link', { name: 'Campaigns' })
      .click();
    await page.waitForURL(/\/campaigns$/);
  });

  test('the browser’s Back button and the workspace switcher ask before a half-filled form is lost', async () => {
    const other = await api<{ id: string }>('POST', '/workspaces', { name: 'Second shop' }, true);
    await page.goto(`${server.baseUrl}/w/default/tasks`);
    // The page's own button (an empty list has a second one), so the form opens inside the console.
    await page.getByRole('button', { name: 'Create task' }).first().click();
    await page.waitForURL(/\/tasks\/new$/);
    await page.getByLabel('Task name', { exact: true }).fill('Half filled, then Back');
    await page.getByLabel('Title', { exact: true }).fill('Winter deals');
    const confirm = page.locator('.ant-modal-confirm');

    // Back: asked; Stay keeps the form, its values and its address.
    await page.goBack();
    await eventually(() => confirm.textContent()).toContain('Leave without saving?');
    await confirm.getByRole('button', { name: 'Stay' }).click();
    await eventually(() => confirm.count()).toBe(0);
    expect(page.url()).toMatch(/\/w\/default\/tasks\/new$/);
    expect(await page.getByLabel('Task name', { exact: true }).inputValue()).toBe('Half filled, then Back');
    expect(await page.getByLabel('Title', { exact: true }).inputValue()).toBe('Winter deals');

    // The workspace switcher: asked; Stay keeps the form and the workspace shown.
    const switcher = page.getByTestId('workspace-switcher');
    // Picked again while no question is shown: a loaded machine can swallow a click on a select.
    const pickSecondShop = () =>
      pickOption(page, switcher, 'Second shop', {
        shown: async () => ((await confirm.count()) > 0 ? 'Second shop' : ''),
      });
    await pickSecondShop();
    await eventually(() => confirm.textContent()).toContain('Leave without saving?');
    await confirm.getByRole('button', { name: 'Stay' }).click();
    await eventually(() => confirm.count()).toBe(0);
    expect(page.url()).toMatch(/\/w\/default\/tasks\/new$/);
    expect(await switcher.textContent()).not.toContain('Second shop');
    expect(await page.getByLabel('Task name', { exact: true }).inputValue()).toBe('Half filled, then Back');

    // Leave: the switch goes through.
    await pickSecondShop();
    await confirm.getByRole('button', { name: 'Leave' }).click();
    await page.waitForURL(new RegExp(`/w/${other.id}/tasks$`));
    await eventually(() => switcher.textContent()).toContain('Second shop');

    // Back to the form, filled again: Back asked, Leave leaves (to the list it was opened from).
    await page.goto(`${server.baseUrl}/w/default/tasks`);
    await page.getByRole('button', { name: 'Create task' }).first().click();
    await page.waitForURL(/\/tasks\/new$/);
    await page.getByLabel('Task name', { exact: true }).fill('Left by Back');
    await page.getByLabel('Title', { exact: true }).fill('Winter deals');
    await eventually(() => page.getByLabel('Task name', { exact: true }).inputValue()).toBe('Left by Back');
    await page.goBack();
    await eventually(() => confirm.textContent()).toContain('Leave without saving?');
    await confirm.getByRole('button', { name: 'Leave' }).click();
    await page.waitForURL(/\/w\/default\/tasks$/);
    await eventually(() => page.getByTestId('task-table').count()).toBe(1);
  });

  test('an iOS app sets the URL action aside with a warning, and an Android app gives it back', async () => {
    await startTask('Switches platform');
    await page.getByText('Open URL', { exact: true }).click();
    await page.getByLabel('URL', { exact: true }).fill('https://example.com/winter');
    await choose('app-select', 'Pushboard Demo (iOS)');
    await eventually(() => page.getByTestId('click-set-aside').textContent()).toBe(
      'An iOS app has no “Open URL” click action: this task will open the app. Your entry (https://example.com/winter) is kept and comes back if you pick an Android app.',
    );
    expect(await page.getByLabel('Open app', { exact: true }).isChecked()).toBe(true);
    await choose('app-select', 'Pushboard Demo (Android)');
    await eventually(() => page.getByTestId('click-set-aside').count()).toBe(0);
    expect(await page.getByLabel('Open URL', { exact: true }).isChecked()).toBe(true);
    expect(await page.getByLabel('URL', { exact: true }).inputValue()).toBe('https://example.com/winter');
  });

  test('a URL that breaks both of its rules shows its error once', async () => {
    await startTask('Bad link');
    await page.getByText('Open URL', { exact: true }).click();
    // "not a url" fails both the URL type rule and the http(s) pattern rule.
    await page.getByLabel('URL', { exact: true }).fill('not a url');
    await page.getByLabel('URL', { exact: true }).blur();
    const urlItem = page.locator('.ant-form-item').filter({ has: page.getByLabel('URL', { exact: true }) });
    await eventually(() => urlItem.locator('.ant-form-item-explain-error').allTextContents()).toEqual([
      'Enter an absolute http:// or https:// URL',
    ]);
  });

  test('a scheduled task lists its audience as planned, its times with the year and zone, and a countdown', async () => {
    const at = new Date(Date.now() + 2 * 3600_000 + 5 * 60_000 + 30_000);
    await api('POST', '/tasks', {
      name: 'Planned for tonight',
      appId: androidAppId,
      title: 'Tonight',
      content: 'Deals',
      clickAction: { type: 'open_app' },
      audienceId,
      sendType: 'scheduled',
      scheduledAt: at.toISOString(),
    });
    await page.goto(`${server.baseUrl}/w/default/tasks?q=${encodeURIComponent('Planned for tonight')}`);
    const row = page.locator('tr').filter({ hasText: 'Planned for tonight' });
    await eventually(() => row.getByTestId('planned-audience').textContent()).toBe('3,000 planned');
    expect(await page.locator('thead').textContent()).toContain('Time (UTC+08:00)');
    // The send time in Shanghai's zone, with the year, and how long until it.
    const shanghai = new Date(at.getTime() + 8 * 3600_000).toISOString();
    const expected = `Sends ${shanghai.slice(0, 10)} ${shanghai.slice(11, 16)}`;
    expect(await row.getByTestId('sends-at').textContent()).toBe(expected);
    expect(await row.getByTestId('countdown').textContent()).toMatch(/^in 2 h (5|6) min$/);
    // Nothing in the times cell is cut off.
    const clipped = await row.getByTestId('sends-at').evaluate((el) => {
      const cell = el.closest('td')!;
      return (
        cell.scrollWidth > cell.clientWidth ||
        el.getBoundingClientRect().right > cell.getBoundingClientRect().right
      );
    });
    expect(clipped).toBe(false);
  });

  test('no header of the task list is clipped at 1280 px, in English and Chinese', async () => {
    await page.goto(`${server.baseUrl}/w/default/tasks`);
    await eventually(() => page.getByTestId('task-table').locator('tbody tr').count()).toBeGreaterThan(0);
    // A header is clipped when its text overflows the cell or a word of it is broken across lines
    // ("Sub-" / "campaigns"): each word must lie on one line.
    const clippedHeaders = () =>
      page.locator('thead th').evaluateAll((cells) =>
        cells
          .filter((th) => {
            const title = (th.querySelector('.ant-table-column-title') ?? th) as HTMLElement;
            if (title.scrollWidth > title.clientWidth + 1) return true;
            const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              const text = node.textContent ?? '';
              for (const match of text.matchAll(/\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (lines.size > 1) return true;
              }
            }
            return false;
          })
          .map((th) => th.textContent),
      );
    expect(await clippedHeaders()).toEqual([]);
    await page.getByTestId('language-switch').getByText('中文').click();
    await eventually(() => page.locator('thead').textContent()).toContain('子活动');
    expect(await clippedHeaders()).toEqual([]);
    await page.getByTestId('language-switch').getByText('EN').click();
  });

  test('at 1280 and 1440 px the whole list fits, long names included: no sideways scroll, no cell spilling', async () => {
    // Rows as long as a marketer's: long names with and without spaces, a long sub-campaign, two
    // sub-campaigns, a countdown of days, and finished sends collecting for days.
    const sub = await api<{ id: string }>('POST', '/sub-campaigns', {
      name: 'Winter clearance – lapsed high-value customers (second wave)',
    });
    const spring = await api<{ id: string }>('POST', '/sub-campaigns', { name: 'Spring' });
    const rows = [
      { name: 'Winter clearance reminder for lapsed high-value customers – second wave', subs: [sub.id] },
      { name: '冬季清仓提醒：面向流失高价值用户的第二轮推送（安卓）', subs: [sub.id, spring.id] },
      {
        name: 'Supercalifragilisticexpialidocious_campaign_name_without_spaces',
        subs: [sub.id],
        scheduledAt: new Date(Date.now() + 2.99 * 86_400_000).toISOString(),
      },
    ];
    for (const row of rows) {
      await api('POST', '/tasks', {
        name: row.name,
        appId: androidAppId,
        title: 'Winter',
        content: 'Deals',
        clickAction: { type: 'open_app' },
        audienceId,
        subCampaignIds: row.subs,
        ...(row.scheduledAt
          ? { sendType: 'scheduled', scheduledAt: row.scheduledAt }
          : { sendType: 'immediate' }),
      });
    }
    await eventually(async () => (await tasksNamed(rows[0]!.name))[0]?.status).toBe('completed');
    const sizes = [
      { width: 1280, height: 720 },
      { width: 1440, height: 900 },
    ];
    try {
      for (const size of sizes) {
        await page.setViewportSize(size);
        for (const language of ['中文', 'EN']) {
          await page.goto(`${server.baseUrl}/w/default/tasks`);
          await page.getByTestId('language-switch').getByText(language).click();
          await eventually(() => page.getByTestId('task-table').locator('tbody tr').count()).toBeGreaterThan(
            3,
          );
          await eventually(() => page.getByTestId('window-state').count()).toBeGreaterThan(1);
          // A cell spills when something in it reaches past its right edge or scrolls inside it; a name
          // cut with an ellipsis is neither (its overflow is hidden on purpose, shown on hover).
          const layout = () =>
            page.getByTestId('task-table').evaluate((table) => {
              const scroller = table.querySelector('.ant-table-content, .ant-table-body') as HTMLElement;
              const spilling = [...table.querySelectorAll('td')].flatMap((td) => {
                const edge = td.getBoundingClientRect().right;
                return [...td.querySelectorAll<HTMLElement>('*')]
                  .filter((el) => !el.closest('.ant-typography-ellipsis'))
                  .filter(
                    (el) =>
                      el.getBoundingClientRect().right > edge + 1 || el.scrollWidth > el.clientWidth + 1,
                  )
                  .map((el) => el.textContent);
              });
              return { sideways: scroller.scrollWidth - scroller.clientWidth, spilling };
            });
          // Polled: the table settles its fixed columns a moment after the language changes.
          await eventually(layout).toEqual({ sideways: 0, spilling: [] });
          await screenshot(page, `task-list-${size.width}-${language === 'EN' ? 'en' : 'zh'}`);
        }
      }
      // The long name is cut, and shown whole on hover.
      await page.getByText('Supercalifragilistic', { exact: false }).first().hover();
      await eventually(() => page.locator('.ant-tooltip:visible').textContent()).toBe(
        'Supercalifragilisticexpialidocious_campaign_name_without_spaces',
      );
    } finally {
      await page.getByTestId('language-switch').getByText('EN').click();
      await page.setViewportSize({ width: 1280, height: 720 });
    }
  });

  test('with the keyboard alone, Tab goes from the date-range filter on to the rows', async () => {
    await page.goto(`${server.baseUrl}/w/default/tasks`);
    await eventually(() => page.getByTestId('task-table').locator('tbody tr').count()).toBeGreaterThan(0);
    await page.getByPlaceholder('Created from').focus();
    const visited: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      visited.push(
        await page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          if (!el) return '';
          const inTable = el.closest('[data-testid="task-table"] tbody') !== null;
          return `${inTable ? 'row:' : ''}${el.tagName}:${el.getAttribute('placeholder') ?? el.textContent?.slice(0, 30) ?? ''}`;
        }),
      );
    }
    // From, then To, then (past the reset button if any) the first row's link: never stuck.
    expect(visited[0]).toBe('INPUT:Created to');
    expect(visited.some((v) => v.startsWith('row:A:'))).toBe(true);
    expect(browserErrors).toEqual([]);
  });
});
