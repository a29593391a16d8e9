/**
 * What a marketer trying the console for the first time tripped over (issue #18), in a real browser
 * against the real server: dialogs start clean every time they open (a cancelled or saved dialog's
 * values never greet the next one, so a sub-campaign can no longer be saved into the campaign an
 * earlier dialog was opened for); refusals read in Chinese in the Chinese console; a gone page offers
 * the way back; the tab names the page; the task list follows a task that fires and shows whether its
 * statistics are still collecting or final, without a manual refresh.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  apiClient,
  type ConsoleServer,
  hasChromium,
  launchBrowser,
  logInAt,
  startServer,
} from './console-harness.ts';

interface CampaignRead {
  id: string;
  name: string;
  subCampaigns: { id: string; name: string }[];
}

describe.skipIf(!hasChromium)('the console, as a first-time marketer finds it', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let api: Awaited<ReturnType<typeof apiClient>>;
  const browserErrors: string[] = [];

  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 20_000, interval: 100 });

  beforeAll(async () => {
    // A one-hour statistics window and two hours of details: the texts must say so, not "72 hours".
    server = await startServer({ PUSHBOARD_STATISTICS_WINDOW_HOURS: '1', PUSHBOARD_RETENTION_HOURS: '2' });
    api = await apiClient(server.baseUrl);
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-US' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    await logInAt(page, server.baseUrl, '/w/default/campaigns');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A task for the demo Android app and the first audience, scheduled `inMs` from now. */
  async function scheduledTask(name: string, inMs: number, fields: Record<string, unknown> = {}) {
    const apps = await api<{ items: { id: string; platform: string }[] }>('GET', '/apps');
    const audiences = await api<{ items: { id: string }[] }>('GET', '/audiences');
    return api<{ id: string }>('POST', '/tasks', {
      name,
      appId: apps.items.find((a) => a.platform === 'android')!.id,
      title: 'Title',
      content: 'Content',
      clickAction: { type: 'open_app' },
      audienceId: audiences.items[0]!.id,
      sendType: 'scheduled',
      scheduledAt: new Date(Date.now() + inMs).toISOString(),
      ...fields,
    });
  }

  /** The open dialog (Ant Design renders one at a time here). */
  const dialog = () => page.getByRole('dialog');
  const campaignRow = (name: string) =>
    page.getByTestId('campaign-table').locator('tr').filter({ hasText: name });

  test('campaign and sub-campaign dialogs open with their own values, never the previous dialog’s', async () => {
    const spring = await api<CampaignRead>('POST', '/campaigns', {
      name: 'Spring sale',
      description: 'March',
    });
    const autumn = await api<CampaignRead>('POST', '/campaigns', { name: 'Autumn sale', description: '' });
    await page.reload();

    // Edit Spring, change the name without saving, cancel.
    await campaignRow('Spring sale').getByRole('button', { name: 'Edit' }).click();
    await expect.poll(() => dialog().getByLabel('Name').inputValue()).toBe('Spring sale');
    await dialog().getByLabel('Name').fill('Spring sale (typed, not saved)');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => dialog().count()).toBe(0);

    // Edit Autumn: its own name and (empty) description.
    await campaignRow('Autumn sale').getByRole('button', { name: 'Edit' }).click();
    await eventually(() => dialog().getByLabel('Name').inputValue()).toBe('Autumn sale');
    expect(await dialog().getByLabel('Description').inputValue()).toBe('');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => dialog().count()).toBe(0);

    // Create campaign: empty.
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await eventually(() => dialog().getByLabel('Name').inputValue()).toBe('');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => dialog().count()).toBe(0);

    // Add a sub-campaign under Spring, cancel; then under Autumn: the dialog names Autumn, and it is
    // saved there.
    await campaignRow('Spring sale').getByRole('button', { name: 'Expand row' }).click();
    await page.getByRole('button', { name: 'Add sub-campaign' }).first().click();
    await eventually(() => dialog().textContent()).toContain('Spring sale');
    await dialog().getByLabel('Name').fill('Typed under Spring');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => dialog().count()).toBe(0);
    await campaignRow('Spring sale').getByRole('button', { name: 'Collapse row' }).click();

    await campaignRow('Autumn sale').getByRole('button', { name: 'Expand row' }).click();
    await page.getByRole('button', { name: 'Add sub-campaign' }).first().click();
    await eventually(() => dialog().textContent()).toContain('Autumn sale');
    expect(await dialog().getByLabel('Name').inputValue()).toBe('');
    await dialog().getByLabel('Name').fill('Autumn – push');
    await dialog().getByRole('button', { name: 'Save' }).click();
    await eventually(() => dialog().count()).toBe(0);

    // One sub-campaign is counted in the singular; the tab names the page.
    await eventually(() => campaignRow('Autumn sale').textContent()).toContain('1 sub-campaign');
    expect(await campaignRow('Autumn sale').textContent()).not.toContain('1 sub-campaigns');
    expect(await page.title()).toBe('Campaigns · Pushboard');

    const campaigns = await api<{ items: CampaignRead[] }>('GET', '/campaigns');
    const byId = new Map(campaigns.items.map((c) => [c.id, c]));
    expect(byId.get(autumn.id)!.subCampaigns.map((s) => s.name)).toEqual(['Autumn – push']);
    expect(byId.get(spring.id)!.subCampaigns).toEqual([]);
    expect(byId.get(spring.id)!.name).toBe('Spring sale');
  });

  test('in Chinese, a refused action says why in Chinese, not in the server’s English', async () => {
    const campaign = await api<CampaignRead>('POST', '/campaigns', { name: 'Used campaign' });
    const sub = await api<{ id: string }>('POST', `/campaigns/${campaign.id}/sub-campaigns`, {
      name: 'Used sub',
    });
    await scheduledTask('Uses the sub-campaign', 7 * 86_400_000, { subCampaignIds: [sub.id] });
    await page.goto(`${server.baseUrl}/w/default/campaigns`);
    await page.getByTestId('language-switch').getByText('中文').click();
    try {
      await campaignRow('Used campaign').getByRole('button', { name: '删除' }).click();
      await page
        .locator('.ant-popconfirm')
        .getByRole('button', { name: /删\s*除/ })
        .click();
      const refusal = page.locator('.ant-modal-confirm');
      await eventually(() => refusal.textContent()).toContain('有任务在使用该营销活动的子活动。');
      expect(await refusal.textContent()).not.toMatch(/[A-Za-z]{4,}/);
      expect(await refusal.count()).toBe(1);
      // Closed by its button; a click that lands while the dialog still zooms in on a loaded machine
      // can go unnoticed, so it is clicked again until the dialog is gone.
      for (let attempt = 0; attempt < 5 && (await refusal.count()) > 0; attempt++) {
        await refusal
          .getByRole('button')
          .last()
          .click({ timeout: 2_000 })
          .catch(() => undefined);
        await expect
          .poll(() => page.locator('.ant-modal-wrap:visible').count(), { timeout: 2_000, interval: 100 })
          .toBe(0)
          .catch(() => undefined);
      }
      await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
    } finally {
      // The next tests read the console in English, whatever happened here.
      await page.getByTestId('language-switch').getByText('EN').click();
    }
  });

  test('a task that is gone says so, offers the way back, and the tab says where one is', async () => {
    await page.goto(`${server.baseUrl}/w/default/tasks/no-such-task`);
    await eventually(() => page.getByRole('button', { name: 'Back to the console' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Back to the console' }).click();
    await page.waitForURL('**/w/default/tasks');
    await eventually(() => page.title()).toBe('Normal Tasks · Pushboard');
  });

  test('the task list follows a scheduled task that fires and says how long its statistics collect', async () => {
    const task = await scheduledTask('Fires while watched', 6000);
    await page.goto(`${server.baseUrl}/w/default/tasks?q=${encodeURIComponent('Fires while watched')}`);
    const row = page.locator('tr').filter({ hasText: 'Fires while watched' });
    await eventually(() => row.textContent()).toContain('Scheduled');
    expect(await row.getByTestId('window-state').count()).toBe(0);
    // No reload from here on: the list notices the task fire, finish, and collect.
    await expect
      .poll(() => row.textContent(), { timeout: 45_000, interval: 250 })
      .toMatch(/Completed.*Collecting · (59 min( \d+ s)?|1 h) left/);
    // The list's note names the deployment's windows, in the singular where it is one.
    expect(
      await page.getByText('Statistics are collected for 1 hour after a task starts').textContent(),
    ).toContain('Device-level details are kept for 2 hours.');
    await page.goto(`${server.baseUrl}/w/default/tasks/${task.id}`);
    await eventually(() => page.getByTestId('task-windows').textContent()).toContain(
      'Statistics window (1 hour)',
    );
    const read = await api<{ status: string; statisticsFinalAt: string }>('GET', `/tasks/${task.id}`);
    expect(read.status).toBe('completed');
    expect(Date.parse(read.statisticsFinalAt)).toBeGreaterThan(Date.now());
  });

  test('Create audience opens empty after a cancelled dialog', async () => {
    await page.goto(`${server.baseUrl}/w/default/audiences`);
    await page.getByRole('button', { name: 'Create audience' }).click();
    await dialog().getByLabel('Name').fill('Half-typed');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => dialog().count()).toBe(0);
    await page.getByRole('button', { name: 'Create audience' }).click();
    await eventually(() => dialog().getByLabel('Name').inputValue()).toBe('');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect(browserErrors).toEqual([]);
  });
});
