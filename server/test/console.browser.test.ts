/**
 * The web console in a real browser (headless Chromium) against the real server: logging in,
 * creating a task with its live preview, the task list with its sub-campaign hover, a task that
 * really sends through the simulator with its details filling in live (breakdown, timeline, device
 * table, Generate Audience), the edit and delete rules, the other pages, and switching between
 * English and Chinese.
 * The tests run in order and share one browser page, like a marketer's session.
 */
import fs from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TaskStatus } from '../src/domain/task-state.ts';
import type { TaskRow } from '../src/storage/database.ts';
import { openStoreOf, storeEnvFor } from './backends.ts';
import {
  ADMIN_PASSWORD,
  apiClient,
  CONSOLE_INDEX,
  type ConsoleServer,
  hasChromium,
  launchBrowser,
  screenshot,
  startServer,
} from './console-harness.ts';

if (!hasChromium) {
  console.warn(
    'console.browser.test.ts skipped: /usr/bin/chromium is missing (apt-get install -y chromium to run it).',
  );
}

describe.skipIf(!hasChromium)('the web console', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: Awaited<ReturnType<typeof apiClient>>;
  const browserErrors: string[] = [];
  const sub = { spring: '', autumn: '', loyal: '' };
  let androidAppId = '';
  let iosAppId = '';
  let audienceId = '';

  /** The statistics counters of a task row. */
  type TaskCounter =
    | 'planned_sends'
    | 'unmatched'
    | 'total_sent'
    | 'deliveries'
    | 'failures'
    | 'no_feedback'
    | 'impressions'
    | 'opens'
    | 'dismissals'
    | 'pending'
    | 'late';

  /** Puts a task in another state with these counts, as the dispatcher would, straight in the database. */
  async function setTaskState(
    taskId: string,
    status: TaskStatus,
    started: Date,
    counts: Partial<Pick<TaskRow, TaskCounter>>,
    reason?: string,
  ) {
    const db = await openStoreOf(await storeEnvFor(server.dataDir));
    try {
      await db
        .updateTable('tasks')
        .set({
          status,
          started_at: started.toISOString(),
          completed_at: started.toISOString(),
          failure_reason: reason ?? null,
          ...counts,
        })
        .where('id', '=', taskId)
        .execute();
    } finally {
      await db.destroy();
    }
  }

  /** Receipts the simulator has still to report for a task (its outbox in the server's database). */
  async function receiptsLeft(taskId: string): Promise<number> {
    const db = await openStoreOf(await storeEnvFor(server.dataDir));
    try {
      const row = await db
        .selectFrom('simulator_receipts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('task_id', '=', taskId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    } finally {
      await db.destroy();
    }
  }

  /** A task made through the API (scheduled a week ahead unless told otherwise). */
  function createTask(fields: Record<string, unknown>) {
    return api<{ id: string }>('POST', '/tasks', {
      appId: androidAppId,
      title: 'Title',
      content: 'Content',
      clickAction: { type: 'open_app' },
      audienceId,
      sendType: 'scheduled',
      scheduledAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      ...fields,
    });
  }

  /** Polls until the expectation holds, for up to 20 s (a CI machine running both suites can be slow). */
  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 20_000, interval: 100 });

  /** Picks an option of the antd Select with this test ID. */
  async function choose(testId: string, option: string) {
    await page.getByTestId(testId).click();
    await page
      .locator('.ant-select-dropdown:visible .ant-select-item-option')
      .filter({ hasText: option })
      .first()
      .click();
  }

  beforeAll(async () => {
    if (!fs.existsSync(CONSOLE_INDEX)) {
      throw new Error(`${CONSOLE_INDEX} is missing: build the console with \`npm run build\` first.`);
    }
    server = await startServer();
    api = await apiClient(server.baseUrl);
    const apps = await api<{ items: { id: string; platform: string }[] }>('GET', '/apps');
    androidAppId = apps.items.find((a) => a.platform === 'android')!.id;
    iosAppId = apps.items.find((a) => a.platform === 'ios')!.id;
    const audiences = await api<{ items: { id: string }[] }>('GET', '/audiences');
    audienceId = audiences.items[0]!.id;
    const campaign = await api<{ id: string }>('POST', '/campaigns', { name: 'Spring sale 2026' });
    sub.spring = (
      await api<{ id: string }>('POST', `/campaigns/${campaign.id}/sub-campaigns`, { name: 'Spring – push' })
    ).id;
    sub.autumn = (
      await api<{ id: string }>('POST', `/campaigns/${campaign.id}/sub-campaigns`, {
        name: 'Spring – reminders',
      })
    ).id;
    sub.loyal = (await api<{ id: string }>('POST', '/sub-campaigns', { name: 'Loyalty (independent)' })).id;

    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    page.on('console', (msg) => {
      // Refused requests (a wrong password, a validation error) are expected and shown in the page.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
        browserErrors.push(msg.text());
      }
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a wrong password is refused with a message, and the right one opens Normal Tasks', async () => {
    await page.goto(`${server.baseUrl}/w/default/tasks`);
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toContain('wrong password');
    await screenshot(page, 'login');

    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/w/default/tasks');
    await eventually(() => page.getByRole('heading', { name: 'Normal Tasks' }).count()).toBe(1);
    const nav = await page.getByRole('navigation', { name: 'Navigation' }).textContent();
    for (const word of ['User Marketing', 'Reach Marketing', 'PUSH', 'Normal Tasks', 'Audiences', 'Apps']) {
      expect(nav).toContain(word);
    }
    expect(await page.locator('.ant-breadcrumb').textContent()).toContain('PUSH');
    await eventually(() => page.getByText('No tasks yet').count()).toBe(1);
  });

  test('a task made in the form, with the phone preview following it, appears in the list with its sub-campaigns', async () => {
    await page.getByRole('button', { name: 'Create task' }).first().click();
    await page.waitForURL('**/tasks/new');
    await page.getByLabel('Task name', { exact: true }).fill('Spring sale – day 1');
    await choose('app-select', 'Pushboard Demo (Android)');
    await page.getByLabel('Title', { exact: true }).fill('48 hours of spring deals');
    await page
      .getByLabel('Content', { exact: true })
      .fill('Up to 50% off everything in the app. Tap to see today’s picks.');
    // The preview follows the selected app's platform and what is typed.
    await eventually(() => page.getByTestId('preview-android').count()).toBe(1);
    await eventually(() => page.getByTestId('preview-title').textContent()).toBe('48 hours of spring deals');

    await page.getByText('Open URL', { exact: true }).click();
    await page.getByLabel('URL', { exact: true }).fill('https://example.com/spring');
    await eventually(() => page.getByTestId('phone-preview').textContent()).toContain(
      'https://example.com/spring',
    );
    await page.getByRole('button', { name: 'Add parameter' }).click();
    await page.getByPlaceholder('Key').fill('campaign');
    await page.getByPlaceholder('Value').fill('spring');

    await choose('audience-select', 'All simulator devices');
    await page.getByText('Scheduled', { exact: true }).click();
    const when = new Date(Date.now() + 3 * 86_400_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    const typed = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} 10:30`;
    await page.getByPlaceholder('Select date').fill(typed);
    await page.getByPlaceholder('Select date').press('Enter');
    await page.getByRole('heading', { name: 'Create task' }).click();
    await eventually(() => page.locator('.ant-picker-dropdown:visible').count()).toBe(0);

    // Each sub-campaign is ticked until its tree node shows it ticked: on a loaded machine a click on
    // a dropdown still opening can go unnoticed (as pickOption does for plain selects).
    for (const name of ['Spring – push', 'Loyalty (independent)']) {
      const node = page
        .locator('.ant-select-dropdown:visible .ant-select-tree-treenode')
        .filter({ hasText: name });
      for (let attempt = 1; ; attempt++) {
        if ((await page.locator('.ant-select-dropdown:visible').count()) === 0) {
          await page.getByTestId('sub-campaign-select').click();
        }
        await node
          .locator('.ant-select-tree-checkbox')
          .click({ timeout: 3_000 })
          .catch(() => undefined);
        const ticked = await expect
          .poll(() => node.getAttribute('class'), { timeout: 3_000, interval: 100 })
          .toContain('checkbox-checked')
          .then(
            () => true,
            () => false,
          );
        if (ticked) break;
        if (attempt === 3) throw new Error(`sub-campaign “${name}” was never ticked`);
      }
    }
    await page.getByRole('heading', { name: 'Create task' }).click();
    await eventually(() => page.locator('.ant-select-dropdown:visible').count()).toBe(0);
    expect(await page.getByPlaceholder('Select date').inputValue()).toBe(typed);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'create-task');

    await page.getByRole('button', { name: 'Create task' }).last().click();
    await page.waitForURL(/\/tasks\/tsk_/);
    await eventually(() => page.getByTestId('task-details').count()).toBe(1);

    await page.getByRole('link', { name: '← Normal Tasks' }).click();
    await eventually(() => page.getByRole('link', { name: 'Spring sale – day 1' }).count()).toBe(1);
    await page.getByTestId('sub-campaign-count').hover();
    await eventually(() => page.getByTestId('sub-campaign-list').textContent()).toContain('Spring – push');
    expect(await page.getByTestId('sub-campaign-list').textContent()).toContain('Loyalty (independent)');
  });

  test('the form refuses a payload over the platform’s limit next to the content, as the server would', async () => {
    await page.goto(`${server.baseUrl}/w/default/tasks/new`);
    await page.getByLabel('Task name', { exact: true }).fill('Too long');
    await choose('app-select', 'Pushboard Demo (iOS)');
    await eventually(() => page.getByTestId('preview-ios').count()).toBe(1);
    await page.getByLabel('Title', { exact: true }).fill('Big');
    // Past the iOS payload limit: the meter counts what the server will (its own rule, trimmed texts),
    // so the form does not send what the server would refuse.
    await page.getByLabel('Content', { exact: true }).fill('x'.repeat(2100));
    await choose('audience-select', 'All simulator devices');
    await page.getByRole('button', { name: 'Create task' }).last().click();
    await eventually(() => page.locator('.ant-form-item-explain-error').allTextContents()).toContainEqual(
      expect.stringMatching(/^The push payload is [\d,]+ bytes, over the [\d,]+-byte limit/),
    );
    expect(page.url()).toMatch(/\/tasks\/new$/);
  });

  test('a task whose audience is an uploaded ID file is created in one go', async () => {
    await page.goto(`${server.baseUrl}/w/default/tasks/new`);
    await page.getByLabel('Task name', { exact: true }).fill('Uploaded list');
    await choose('app-select', 'Pushboard Demo (Android)');
    await page.getByLabel('Title', { exact: true }).fill('Hello');
    await page.getByLabel('Content', { exact: true }).fill('From a file');
    await page.getByText('Upload a device ID file', { exact: true }).click();
    await page
      .getByTestId('task-form')
      .locator('input[type=file]')
      .setInputFiles({
        name: 'ids.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('android-000001\nandroid-000002\nandroid-000003\n'),
      });
    await page.getByRole('button', { name: 'Create task' }).last().click();
    // An immediate send asks first; an uploaded file's match is known only once it is read.
    await eventually(() => page.locator('.ant-modal-confirm').textContent()).toContain(
      'The device IDs in ids.txt are matched',
    );
    await page.locator('.ant-modal-confirm').getByRole('button', { name: 'Send now' }).click();
    await page.waitForURL(/\/tasks\/tsk_/);
    await eventually(() => page.getByTestId('task-details').textContent()).toContain(
      'Uploaded list (uploaded IDs)',
    );
  });

  test('the details page shows the statistics by source, the rates and the expiry countdown', async () => {
    const list = await api<{ items: { id: string; name: string }[] }>('GET', '/tasks');
    const task = list.items.find((t) => t.name === 'Spring sale – day 1')!;
    await setTaskState(task.id, 'completed', new Date(Date.now() - 3 * 3600_000), {
      planned_sends: 2000,
      unmatched: 40,
      total_sent: 1960,
      deliveries: 1800,
      failures: 60,
      no_feedback: 100,
      impressions: 1500,
      opens: 420,
      dismissals: 130,
    });
    await page.goto(`${server.baseUrl}/w/default/tasks/${task.id}`);
    await eventually(() => page.getByTestId('stat-deliveries').textContent()).toContain('1,800');
    expect(await page.getByTestId('stat-impressions').textContent()).toContain('83.3%');
    expect(await page.getByTestId('task-details').textContent()).toContain('Push service');
    expect(await page.getByTestId('task-details').textContent()).toContain('Device SDK');
    expect(await page.getByTestId('details-expiry').textContent()).toMatch(/Kept for another 2 d 2[01] h/);
  });

  test('a Umeng task with no receipts back says why: receipts need Umeng’s Pro tier', async () => {
    const umeng = await api<{ id: string }>('POST', '/apps', {
      name: 'Umeng Android',
      platform: 'android',
      provider: 'umeng',
      providerConfig: { appKey: 'k'.repeat(24), appMasterSecret: 's'.repeat(32) },
    });
    const task = await createTask({ name: 'Umeng without Pro', appId: umeng.id });
    await setTaskState(task.id, 'completed', new Date(Date.now() - 3600_000), {
      planned_sends: 500,
      total_sent: 500,
      failures: 20,
      no_feedback: 480,
    });
    await page.goto(`${server.baseUrl}/w/default/tasks/${task.id}`);
    await eventually(() => page.getByTestId('umeng-receipts-note').textContent()).toContain('Pro tier');
  });

  test('a task sends for real: its statistics fill in live, the device table filters, and "opened" becomes an audience', async () => {
    // An Android simulator app whose receipts all come back within about a second of the send.
    const app = await api<{ id: string }>('POST', '/apps', {
      name: 'Flash sale app (Android)',
      platform: 'android',
      provider: 'simulator',
      providerConfig: { seed: 9, timeScale: 100_000 },
    });
    const channels = ['simulator', 'huawei', 'xiaomi', 'oppo', 'vivo', 'honor'];
    const devices = Array.from({ length: 300 }, (_, i) => ({
      deviceId: `flash-${String(i).padStart(4, '0')}`,
      pushToken: `flash-token-${i}`,
      channel: channels[(i * 7) % channels.length],
    }));
    await api('POST', `/apps/${app.id}/devices/batch`, { devices });
    const audience = await api<{ id: string }>('POST', '/audiences', {
      name: 'Flash sale – app users',
      deviceIds: devices.map((d) => d.deviceId),
    });
    // Due in a few seconds, so that the page is open before the send starts.
    const task = await api<{ id: string; name: string }>('POST', '/tasks', {
      name: 'Flash sale – 2 hours only',
      appId: app.id,
      title: 'Flash sale: 2 hours only',
      content: 'Everything at half price until 14:00. Tap to shop.',
      clickAction: { type: 'open_app' },
      audienceId: audience.id,
      sendType: 'scheduled',
      scheduledAt: new Date(Date.now() + 5000).toISOString(),
      subCampaignIds: [sub.spring],
    });
    const streams: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith(`/tasks/${task.id}/events`)) streams.push(request.url());
    });
    await page.goto(`${server.baseUrl}/w/default/tasks/${task.id}`);
    await eventually(() => page.getByTestId('status-scheduled').count()).toBe(1);
    expect(await page.getByTestId('stat-deliveries').textContent()).toContain('0');
    // Marks this document: a reload would lose the mark.
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    // It sends, and its statistics fill in from the live stream.
    await expect
      .poll(() => page.getByTestId('status-completed').count(), { timeout: 20_000, interval: 100 })
      .toBe(1);
    await expect.poll(() => receiptsLeft(task.id), { timeout: 20_000, interval: 200 }).toBe(0);
    const sent = await api<{
      statistics: { totalSent: number; deliveries: number; impressions: number; opens: number };
    }>('GET', `/tasks/${task.id}`);
    const stats = sent.statistics;
    expect(stats.totalSent).toBe(300);
    expect(stats.deliveries).toBeGreaterThan(200);
    expect(stats.opens).toBeGreaterThan(5);
    const figure = (testId: string) =>
      page.getByTestId(testId).locator('.ant-statistic-content-value').textContent();
    await eventually(() => figure('stat-deliveries')).toBe(String(stats.deliveries));
    await eventually(() => figure('stat-impressions')).toBe(String(stats.impressions));
    await eventually(() => figure('stat-opens')).toBe(String(stats.opens));
    expect(streams.length).toBeGreaterThan(0);
    expect(await page.getByTestId('live-tag').textContent()).toBe('Live');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );

    // The breakdown per channel (readable names, a total row matching the statistics) and the timeline.
    const channelTable = page.getByTestId('channel-table');
    await eventually(async () => (await channelTable.locator('tr.ant-table-row').count()) === 6).toBe(true);
    for (const name of ['Simulator', 'Huawei', 'Xiaomi', 'OPPO', 'vivo', 'Honor']) {
      expect(await channelTable.textContent()).toContain(name);
    }
    const total = channelTable.locator('.ant-table-summary tr');
    await eventually(() => total.locator('td').nth(2).textContent()).toContain(String(stats.deliveries));
    expect(await total.locator('td').nth(1).textContent()).toContain('300');
    expect(await total.textContent()).not.toContain('NaN');
    const timeline = page.getByTestId('timeline-chart');
    expect(await timeline.locator('rect[fill="#4096ff"]').count()).toBeGreaterThan(0);
    expect(await timeline.locator('rect[fill="#52c41a"]').count()).toBeGreaterThan(0);

    // The device table filtered by "opened": only devices with an open time, as many as the Opens statistic.
    const table = page.getByTestId('device-results');
    await choose('device-filter-receipt', 'with open');
    // A multiple choice stays open after a pick.
    await page.keyboard.press('Escape');
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain(`${stats.opens} devices`);
    const rows = table.locator('tr.ant-table-row');
    await eventually(() => rows.count()).toBe(Math.min(stats.opens, 50));
    const openTimes = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[6]?.textContent ?? ''));
    for (const time of openTimes) expect(time).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

    // Generate Audience from "opened": the modal starts from the table's filter.
    await table.getByRole('button', { name: 'Generate Audience' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('Opened the flash sale');
    expect(await dialog.textContent()).toContain('with open');
    await dialog.getByRole('button', { name: 'Generate' }).click();
    await eventually(() => page.locator('.ant-message').textContent()).toContain(
      `Audience "Opened the flash sale" created with ${stats.opens} devices.`,
    );
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
    await eventually(() => page.locator('.ant-message-notice').count()).toBe(0);
    await screenshot(page, 'task-details', { live: true });

    await page.goto(`${server.baseUrl}/w/default/audiences`);
    const row = page.locator('tr', { hasText: 'Opened the flash sale' });
    await eventually(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain('Task result');
    const audiences = await api<{ items: { name: string; size: number; source: string }[] }>(
      'GET',
      '/audiences',
    );
    const opened = audiences.items.find((a) => a.name === 'Opened the flash sale')!;
    expect(opened).toMatchObject({ size: stats.opens, source: 'task_result' });
    expect(await row.textContent()).toContain(String(stats.opens));
  });

  test('a task that has been sent cannot be edited or deleted, and the disabled buttons say why', async () => {
    const ios = await createTask({
      name: 'Weekend picks (iOS)',
      appId: iosAppId,
      subCampaignIds: [sub.loyal],
    });
    await setTaskState(ios.id, 'completed', new Date(Date.now() - 50 * 3600_000), {
      planned_sends: 1000,
      unmatched: 12,
      total_sent: 988,
      deliveries: 970,
      failures: 18,
      impressions: 610,
      opens: 133,
    });
    const failed = await createTask({
      name: 'Re-engagement – lapsed users',
    });
    await setTaskState(
      failed.id,
      'failed',
      new Date(Date.now() - 26 * 3600_000),
      { planned_sends: 3000, unmatched: 3000 },
      'No device of the audience has a push token for this app.',
    );

    await page.goto(`${server.baseUrl}/w/default/tasks`);
    const row = page.locator('tr', { hasText: 'Spring sale – day 1' });
    await eventually(() => row.getByTestId(/^status-/).textContent()).toBe('Completed');
    // A rate over zero deliveries reads "–", never NaN or a blank.
    const failedRow = page.locator('tr', { hasText: 'Re-engagement – lapsed users' });
    expect(await failedRow.textContent()).toContain('–');
    expect(await failedRow.textContent()).not.toContain('NaN');
    // iOS dismissals are not tracked: 0.
    expect(await page.locator('tr', { hasText: 'Weekend picks (iOS)' }).textContent()).toContain('62.9%');
    await screenshot(page, 'task-list');
    const edit = row.getByRole('button', { name: 'Edit' });
    const remove = row.getByRole('button', { name: 'Delete' });
    expect(await edit.isDisabled()).toBe(true);
    expect(await remove.isDisabled()).toBe(true);
    await edit.hover();
    await eventually(() => page.locator('.ant-tooltip:visible').textContent()).toContain(
      'this one is Completed',
    );
    await page.mouse.move(0, 0);
    await remove.hover();
    await eventually(() => page.locator('.ant-tooltip:visible').last().textContent()).toContain(
      'Only a scheduled task can be deleted',
    );
    // Rates over deliveries: 1500 / 1800 impressions.
    expect(await row.textContent()).toContain('83.3%');
  });

  test('a scheduled task can be edited, and is deleted after confirmation', async () => {
    const task = await api<{ id: string }>('POST', '/tasks', {
      name: 'Autumn teaser',
      appId: androidAppId,
      title: 'Coming soon',
      content: 'Autumn collection preview',
      clickAction: { type: 'open_app' },
      audienceId,
      sendType: 'scheduled',
      scheduledAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      subCampaignIds: [sub.autumn],
    });
    await page.goto(`${server.baseUrl}/w/default/tasks`);
    const row = page.locator('tr', { hasText: 'Autumn teaser' });
    await row.getByRole('button', { name: 'Edit' }).click();
    await page.waitForURL(`**/tasks/${task.id}/edit`);
    await page.getByLabel('Title', { exact: true }).fill('Coming very soon');
    // Category and time to live: a service push that may wait 2 hours for an offline device.
    expect(await page.getByTestId('ttl-amount').inputValue()).toBe('3');
    await page.getByLabel('Service', { exact: true }).check();
    await page.getByTestId('ttl-amount').fill('2');
    await choose('ttl-unit', 'hours');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(`**/tasks/${task.id}`);
    await eventually(() => page.getByTestId('task-details').textContent()).toContain('Coming very soon');
    expect(await page.getByTestId('task-details').textContent()).toContain('2 hours');
    expect(await api<{ ttlSeconds: number; category: string }>('GET', `/tasks/${task.id}`)).toMatchObject({
      ttlSeconds: 7200,
      category: 'service',
    });

    await page.goto(`${server.baseUrl}/w/default/tasks`);
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.locator('.ant-popconfirm').getByRole('button', { name: 'Delete' }).click();
    await eventually(() => row.count()).toBe(0);
    const left = await api<{ items: { name: string }[] }>('GET', '/tasks');
    expect(left.items.map((t) => t.name)).not.toContain('Autumn teaser');
  });

  test('an audience made from pasted IDs lists its members, and deleting it while a task uses it shows why not', async () => {
    await page.goto(`${server.baseUrl}/w/default/audiences`);
    await page.getByRole('button', { name: 'Create audience' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('VIP testers');
    await dialog.getByPlaceholder('One device ID per line').fill('dev-a\ndev-b, dev-c\ndev-a');
    await eventually(() => dialog.textContent()).toContain('3 distinct device IDs');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const row = page.locator('tr', { hasText: 'VIP testers' });
    await eventually(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain('API / pasted IDs');

    await row.getByRole('button', { name: 'Members' }).click();
    await eventually(() => page.locator('.ant-drawer').textContent()).toContain('dev-c');
    expect(await page.locator('.ant-drawer').textContent()).toContain('Showing 3 of 3 device IDs');
    await page.locator('.ant-drawer').getByRole('button', { name: 'Close' }).click();

    const audiences = await api<{ items: { id: string; name: string }[] }>('GET', '/audiences');
    await api('POST', '/tasks', {
      name: 'VIP preview',
      appId: androidAppId,
      title: 'Early access',
      content: 'For our VIPs',
      clickAction: { type: 'open_app' },
      audienceId: audiences.items.find((a) => a.name === 'VIP testers')!.id,
      sendType: 'scheduled',
      scheduledAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await page.reload();
    await eventually(() => row.textContent()).toContain('1 scheduled or sending');
    await screenshot(page, 'audiences');
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.locator('.ant-popconfirm').getByRole('button', { name: 'Delete' }).click();
    await eventually(() => page.locator('.ant-modal-confirm').textContent()).toContain(
      'The audience was not deleted',
    );
    expect(await page.locator('.ant-modal-confirm').textContent()).toMatch(/task/i);
  });

  test('a new app shows its secrets once, and its devices are imported from a CSV file', async () => {
    await page.goto(`${server.baseUrl}/w/default/apps`);
    await page.getByRole('button', { name: 'Create app' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('Shop (iOS)');
    await dialog.getByText('iOS', { exact: true }).click();
    await dialog.getByRole('button', { name: 'Create' }).click();
    await eventually(() => page.getByTestId('shown-once').textContent()).toContain('SDK secret');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);

    const row = page.locator('tr', { hasText: 'Shop (iOS)' });
    await row.getByRole('button', { name: 'Devices' }).click();
    const drawer = page.locator('.ant-drawer');
    await drawer.locator('input[type=file]').setInputFiles({
      name: 'devices.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('ios-1,token-1,apns\nios-2,token-2,apns\n'),
    });
    await drawer.getByRole('button', { name: 'Import' }).click();
    await eventually(() => page.locator('.ant-message').textContent()).toContain('2 new devices');
    await eventually(() => drawer.textContent()).toContain('ios-2');
    await drawer.getByRole('button', { name: 'Close' }).click();
    await eventually(() => page.locator('.ant-drawer-content:visible').count()).toBe(0);
    await eventually(() => row.locator('td').nth(3).textContent()).toBe('2');
    await screenshot(page, 'apps');
  });

  test('an API token is shown once when created, then masked, and can be revoked', async () => {
    await page.goto(`${server.baseUrl}/w/default/settings`);
    await page.getByRole('tab', { name: 'API tokens' }).click();
    await page.getByRole('button', { name: 'Create API token' }).click();
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('CRM sync');
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    const token = (await page.getByTestId('shown-once').locator('code').textContent()) ?? '';
    expect(token.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
    const row = page.locator('tr', { hasText: 'CRM sync' });
    await eventually(() => row.textContent()).toContain('Active');
    expect(await row.textContent()).not.toContain(token);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('.ant-popconfirm').getByRole('button', { name: 'Revoke' }).click();
    await eventually(() => row.textContent()).toContain('Revoked');
    const res = await fetch(`${server.baseUrl}/api/v1/workspaces`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
  });

  test('the console switches to Chinese and back, and remembers the choice across a reload', async () => {
    await page.goto(`${server.baseUrl}/w/default/tasks`);
    await page.getByTestId('language-switch').getByText('中文').click();
    await eventually(() => page.getByRole('heading', { name: '普通任务' }).count()).toBe(1);
    const nav = await page.getByRole('navigation', { name: '导航' }).textContent();
    expect(nav).toContain('用户营销');
    expect(nav).toContain('触达营销');
    expect(await page.locator('tr', { hasText: 'Spring sale – day 1' }).textContent()).toContain('已完成');
    await page.reload();
    await eventually(() => page.getByRole('heading', { name: '普通任务' }).count()).toBe(1);
    await screenshot(page, 'task-list-zh');
    await page.getByTestId('language-switch').getByText('EN').click();
    await eventually(() => page.getByRole('heading', { name: 'Normal Tasks' }).count()).toBe(1);
  });

  test('a user who must change their password is asked for a new one before anything else', async () => {
    await api('POST', '/users', { username: 'newcomer', password: 'given-by-the-admin-1' }, true);
    await api('POST', '/members', { username: 'newcomer', role: 'viewer' });
    // As the first start marks a generated admin password.
    const db = await openStoreOf(await storeEnvFor(server.dataDir));
    try {
      await db
        .updateTable('users')
        .set({ password_change_required: 1 })
        .where('username', '=', 'newcomer')
        .execute();
    } finally {
      await db.destroy();
    }
    const fresh = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    const own = await fresh.newPage();
    try {
      await own.goto(`${server.baseUrl}/w/default/tasks`);
      await own.getByLabel('Username', { exact: true }).fill('newcomer');
      await own.getByLabel('Password', { exact: true }).fill('given-by-the-admin-1');
      await own.getByRole('button', { name: 'Log in' }).click();
      await eventually(() => own.getByText('Choose your own password').count()).toBe(1);
      await own.getByLabel('New password', { exact: true }).fill('short');
      await own.getByLabel('Repeat the new password', { exact: true }).fill('short');
      await own.getByRole('button', { name: 'Change password and continue' }).click();
      await eventually(() => own.getByText('Choose your own password').count()).toBe(1);
      expect(own.url()).not.toContain('/tasks?');
      await own.getByLabel('New password', { exact: true }).fill('my-own-password-42');
      await own.getByLabel('Repeat the new password', { exact: true }).fill('my-own-password-42');
      await screenshot(own, 'password-change');
      await own.getByRole('button', { name: 'Change password and continue' }).click();
      await own.waitForURL('**/w/default/tasks');
      await eventually(() => own.getByRole('heading', { name: 'Normal Tasks' }).count()).toBe(1);
    } finally {
      await fresh.close();
    }
    const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'newcomer', password: 'my-own-password-42' }),
    });
    expect(login.status).toBe(200);
    expect((await login.json()).passwordChangeRequired).toBe(false);
  });

  test('the instance admin disables a user in Settings › Users, who can then no longer log in, and enables them again', async () => {
    const newcomerLogin = () =>
      fetch(`${server.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'newcomer', password: 'my-own-password-42' }),
      });
    await page.goto(`${server.baseUrl}/w/default/settings`);
    await page.getByRole('tab', { name: 'Users' }).click();
    const row = page.locator('tr:visible', { hasText: 'newcomer' });
    await eventually(() => row.textContent()).toContain('Active');
    await row.getByRole('button', { name: 'Disable' }).click();
    await page.locator('.ant-popconfirm').getByRole('button', { name: 'Disable' }).click();
    await eventually(() => row.textContent()).toContain('Disabled');
    await screenshot(page, 'settings-users');
    const refused = await newcomerLogin();
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe('USER_DISABLED');

    await row.getByRole('button', { name: 'Enable' }).click();
    await eventually(() => row.textContent()).toContain('Active');
    expect((await newcomerLogin()).status).toBe(200);
  });

  test('the browser reported no errors', () => {
    expect(browserErrors).toEqual([]);
  });
});
