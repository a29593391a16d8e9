/**
 * A task's results on the details page (issue #18), in a real browser against the real server: every
 * rate has one base, named beside it, and reads the same on the cards, in the funnel and in the
 * channel table; each statistic's definition sits behind ⓘ, a legend names the source of each dot
 * (push service, device SDK, or Pushboard's own count), the elapsed time is labelled; Generate Audience
 * says what it will save and refuses an empty audience; the device list searches by device ID; and the
 * breakdown per channel and the timeline survive the retention purge of the device results.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { storeEnvFor } from './backends.ts';
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

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/pushboard.js');

interface TaskRead {
  id: string;
  status: string;
  startedAt: string;
  statistics: { totalSent: number; deliveries: number; impressions: number; opens: number };
}

describe.skipIf(!hasChromium)('the task details page: results', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let api: Awaited<ReturnType<typeof apiClient>>;
  let task: TaskRead;
  const browserErrors: string[] = [];

  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 20_000, interval: 100 });
  const details = () => page.goto(`${server.baseUrl}/w/default/tasks/${task.id}`);

  beforeAll(async () => {
    server = await startServer();
    api = await apiClient(server.baseUrl);
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      locale: 'en-US',
      timezoneId: 'Asia/Shanghai',
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    await logInAt(page, server.baseUrl, '/w/default/tasks');

    // A send whose receipts all come back within a second, over six channels.
    const app = await api<{ id: string }>('POST', '/apps', {
      name: 'Results app',
      platform: 'android',
      provider: 'simulator',
      providerConfig: { seed: 3, timeScale: 100_000 },
    });
    const channels = ['simulator', 'huawei', 'xiaomi', 'oppo', 'vivo', 'honor'];
    const devices = Array.from({ length: 400 }, (_, i) => ({
      deviceId: `res-${String(i).padStart(4, '0')}`,
      pushToken: `res-token-${i}`,
      channel: channels[(i * 7) % channels.length],
    }));
    await api('POST', `/apps/${app.id}/devices/batch`, { devices });
    const audience = await api<{ id: string }>('POST', '/audiences', {
      name: 'Results audience',
      deviceIds: devices.map((d) => d.deviceId),
    });
    const created = await api<{ id: string }>('POST', '/tasks', {
      name: 'Results task',
      appId: app.id,
      title: 'Hello',
      content: 'World',
      clickAction: { type: 'open_app' },
      audienceId: audience.id,
      sendType: 'immediate',
    });
    // Until the receipts stop moving: the page is then compared with settled numbers.
    let last = '';
    for (let i = 0; i < 100; i++) {
      task = await api<TaskRead>('GET', `/tasks/${created.id}`);
      const now = JSON.stringify(task.statistics);
      if (task.status === 'completed' && now === last && task.statistics.opens > 0) break;
      last = now;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(task.statistics.totalSent).toBe(400);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('one base per rate, named, and the same number on the cards, in the funnel and in the channel table', async () => {
    await details();
    const s = task.statistics;
    const openRate = `${((s.opens / s.deliveries) * 100).toFixed(1)}% of deliveries`;
    const impressionRate = `${((s.impressions / s.deliveries) * 100).toFixed(1)}% of deliveries`;
    const deliveryRate = `${((s.deliveries / s.totalSent) * 100).toFixed(1)}% of total sent`;
    await eventually(() => page.getByTestId('stat-opens-rate').textContent()).toBe(openRate);
    expect(await page.getByTestId('stat-impressions-rate').textContent()).toBe(impressionRate);
    expect(await page.getByTestId('stat-deliveries-rate').textContent()).toBe(deliveryRate);

    // The funnel: the same rates with the same bases, no second percentage of another base.
    const funnel = page.getByTestId('funnel');
    expect(await page.getByTestId('funnel-2-rate').textContent()).toBe(` · ${deliveryRate}`);
    expect(await page.getByTestId('funnel-3-rate').textContent()).toBe(` · ${impressionRate}`);
    expect(await page.getByTestId('funnel-4-rate').textContent()).toBe(` · ${openRate}`);
    expect(await funnel.textContent()).not.toContain('↓');

    // The channel table's total row: the same rates again, and its counts equal the header's.
    const total = page.getByTestId('channel-table').locator('.ant-table-summary tr');
    await eventually(() => total.textContent()).toContain(openRate);
    expect(await total.textContent()).toContain(impressionRate);
    expect(await total.textContent()).toContain(deliveryRate);
    expect(await total.locator('td').nth(2).textContent()).toContain(String(s.deliveries));
    expect(await page.getByTestId('channels-updating').count()).toBe(0);
    expect(browserErrors).toEqual([]);
  });

  test('definitions behind ⓘ, a legend of the source dots, and the elapsed time labelled', async () => {
    await details();
    await eventually(() => page.getByTestId('stat-opens-rate').count()).toBe(1);
    // Every figure of the statistics cards has its definition, and the funnel explains its rates.
    const definitions = page.getByTestId('definition');
    expect(await definitions.count()).toBeGreaterThanOrEqual(9);
    // Reachable by keyboard: focusing the ⓘ of Impressions shows the seed's definition.
    await page.getByTestId('stat-impressions').getByTestId('definition').focus();
    await eventually(() => page.locator('.ant-tooltip:visible').last().textContent()).toContain(
      'deliveries minus blocked notifications',
    );
    // The dots: planned sends are Pushboard's own count, deliveries push-service data, impressions SDK data.
    const source = (testId: string) =>
      page.getByTestId(testId).locator('[data-source]').first().getAttribute('data-source');
    expect(await source('stat-planned')).toBe('pushboard');
    expect(await source('stat-deliveries')).toBe('provider');
    expect(await source('stat-impressions')).toBe('sdk');
    const legend = await page.getByTestId('source-legend').textContent();
    for (const name of ['Push service', 'Device SDK', 'Pushboard']) expect(legend).toContain(name);
    // Inside the statistics window: "… elapsed", not a bare duration.
    expect(await page.getByTestId('elapsed').textContent()).toMatch(/^\d.* elapsed$/);
    await screenshot(page, 'polish-results-details-en-1440', { live: true });
    await page.setViewportSize({ width: 1280, height: 720 });
    await screenshot(page, 'polish-results-details-en-1280', { live: true });
    await page.evaluate(() => localStorage.setItem('pushboard.locale', 'zh'));
    await details();
    await eventually(() => page.getByTestId('stat-opens-rate').textContent()).toMatch(/^占送达数 \d+\.\d%$/);
    expect(await page.getByTestId('elapsed').textContent()).toMatch(/^已过 /);
    expect(await page.getByTestId('source-legend').textContent()).toContain('推送服务');
    await screenshot(page, 'polish-results-details-zh-1280', { live: true });
    await page.setViewportSize({ width: 1440, height: 900 });
    await screenshot(page, 'polish-results-details-zh-1440', { live: true });
    await page.evaluate(() => localStorage.setItem('pushboard.locale', 'en'));
    expect(browserErrors).toEqual([]);
  });

  test('Generate Audience says how many devices it will save, refuses an empty one, and warns of a snapshot', async () => {
    await details();
    const table = page.getByTestId('device-results');
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain('400 devices');
    await table.getByRole('button', { name: 'Generate Audience' }).click();
    const dialog = page.getByRole('dialog');
    // Every device of the task, before saving; the window is still open: a snapshot.
    await eventually(() => dialog.getByTestId('generate-count').textContent()).toBe(
      '400 devices match this filter and will be saved.',
    );
    expect(await dialog.getByTestId('generate-snapshot').textContent()).toContain('snapshot');
    // A filter nothing matches (pending, on a completed task): nothing to save, Generate disabled.
    const result = dialog.getByTestId('device-filter-result');
    await pickOption(page, result, 'Pending');
    await eventually(() => dialog.getByTestId('generate-count').textContent()).toContain('nothing to save');
    expect(await dialog.getByRole('button', { name: 'Generate' }).isDisabled()).toBe(true);
    // Failures: the count before, the same count saved.
    await pickOption(page, result, 'Failure');
    const failures = (await api<TaskRead & { statistics: { failures: number } }>('GET', `/tasks/${task.id}`))
      .statistics.failures;
    const devices = failures === 1 ? '1 device' : `${failures} devices`;
    await eventually(() => dialog.getByTestId('generate-count').textContent()).toBe(
      `${devices} ${failures === 1 ? 'matches' : 'match'} this filter and will be saved.`,
    );
    await dialog.getByRole('button', { name: 'Generate' }).click();
    await eventually(() => page.locator('.ant-message').textContent()).toContain(`created with ${devices}.`);
    expect(browserErrors).toEqual([]);
  });

  test('times name their zone, the CSV its offset; the device-ID search finds the IDs starting with the text', async () => {
    await details();
    const table = page.getByTestId('device-results');
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain('400 devices');
    // The zone of the times shown is named; the export's times say UTC with their offset.
    expect(await table.getByTestId('time-zone').textContent()).toMatch(
      /Times in .*UTC[+-]\d\d:\d\d.*ISO 8601 times in UTC/,
    );
    expect(await page.getByTestId('windows-time-zone').textContent()).toMatch(/^Times in .*UTC[+-]\d\d:\d\d/);
    const csv = await page.evaluate(async (url) => {
      const token = localStorage.getItem('pushboard.token');
      return (await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} })).text();
    }, `/api/v1/workspaces/default/tasks/${task.id}/devices.csv?sendResult=success`);
    expect(csv.split('\r\n')[1]).toMatch(/,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,/);
    const search = table.getByTestId('device-search').getByRole('searchbox');
    await search.fill('res-001');
    await search.press('Enter');
    // res-0010 … res-0019.
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain('10 devices');
    const ids = await table.locator('tr.ant-table-row td:first-child').allTextContents();
    expect(ids).toHaveLength(10);
    for (const id of ids) expect(id).toMatch(/^res-001\d$/);
    await search.fill('');
    await search.press('Enter');
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain('400 devices');
    expect(browserErrors).toEqual([]);
  });

  test('the receipt filter holds a receipt had and one lacked: shown but not opened', async () => {
    await details();
    const table = page.getByTestId('device-results');
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain('400 devices');
    const devices = (query: string) =>
      api<{ total: number }>('GET', `/tasks/${task.id}/devices?${query}`).then((page) => page.total);
    const shownNotOpened = await devices('receipt=impression&without=open');
    const notDismissed = await devices('receipt=impression&without=dismissal');
    // The fixture has both kinds, so the filter is seen to narrow (and not to match all or nothing).
    expect(shownNotOpened).toBeGreaterThan(0);
    expect(shownNotOpened).toBeLessThan(await devices('receipt=impression'));

    const receipt = table.getByTestId('device-filter-receipt');
    const tags = () => receipt.locator('.ant-select-selection-item-content').allTextContents();
    const pickReceipt = (option: string) =>
      pickOption(page, receipt, option, { shown: async () => (await tags()).join('|'), close: true });
    await pickReceipt('with impression');
    await pickReceipt('without open');
    expect(await tags()).toEqual(['with impression', 'without open']);
    await screenshot(page, 'polish-results-receipt-filter', { live: true });
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain(
      `${shownNotOpened.toLocaleString('en')} devices`,
    );
    // A second receipt lacked replaces the first: the field shows the filter that applies.
    await pickReceipt('without dismissal');
    expect(await tags()).toEqual(['with impression', 'without dismissal']);
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain(
      `${notDismissed.toLocaleString('en')} devices`,
    );
    // The same receipt both ways cannot be chosen: "with dismissal" takes the place of "without dismissal".
    await pickReceipt('with dismissal');
    expect(await tags()).toEqual(['with dismissal']);
    await receipt.hover();
    await receipt.locator('.ant-select-clear').click();
    await eventually(() => table.locator('.ant-card-head').textContent()).toContain('400 devices');
    expect(browserErrors).toEqual([]);
  });

  test('the breakdown per channel and the timeline survive the purge of the device results', async () => {
    const asOf = new Date(Date.parse(task.startedAt) + 73 * 3_600_000).toISOString();
    const purge = spawnSync(process.execPath, [BIN, 'purge', '--as-of', asOf], {
      env: { ...process.env, ...(await storeEnvFor(server.dataDir)), LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    expect(purge.status, purge.stderr).toBe(0);
    expect(purge.stdout).toContain('of 1 tasks');
    await details();
    // The device list is gone...
    await eventually(() => page.getByText('Device details have expired').count()).toBe(1);
    // ...the channel table and the timeline stay, with the same totals as the statistics.
    const table = page.getByTestId('channel-table');
    await eventually(() => table.locator('tr.ant-table-row').count()).toBe(6);
    const total = table.locator('.ant-table-summary tr');
    expect(await total.locator('td').nth(1).textContent()).toContain('400');
    expect(await total.locator('td').nth(2).textContent()).toContain(String(task.statistics.deliveries));
    expect(await page.getByTestId('timeline-chart').locator('rect[fill="#52c41a"]').count()).toBeGreaterThan(
      0,
    );
    expect(browserErrors).toEqual([]);
  });
});
