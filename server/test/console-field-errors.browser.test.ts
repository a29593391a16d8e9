/**
 * Field problems and the payload meter in a real browser against the real server (issue #18, item 9):
 * in the Chinese console a field problem the server finds reads in Chinese, built from its code, with
 * no English from the server; and the task form's payload meter shows the server's count and refuses
 * to submit content over the limit, whichever field made it grow.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { taskPayloadBytes } from '../../web/src/features/tasks/payload.ts';
import { PAYLOAD_LIMIT_BYTES } from '../src/domain/task-content.ts';
import {
  apiClient,
  type ConsoleServer,
  hasChromium,
  launchBrowser,
  logInAt,
  pickOption,
  startServer,
} from './console-harness.ts';

describe.skipIf(!hasChromium)('field problems and the payload meter in the console', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let api: Awaited<ReturnType<typeof apiClient>>;
  const browserErrors: string[] = [];

  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 20_000, interval: 100 });
  const choose = (testId: string, option: string) => pickOption(page, page.getByTestId(testId), option);

  beforeAll(async () => {
    server = await startServer();
    api = await apiClient(server.baseUrl);
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-US' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    await logInAt(page, server.baseUrl, '/w/default/tasks');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function useLanguage(locale: 'en' | 'zh') {
    await page.evaluate((value) => localStorage.setItem('pushboard.locale', value), locale);
  }

  test('in Chinese, a field problem of a refused test push reads in Chinese, with its field’s label', async () => {
    // An app deleted while the form still names it: the server refuses the test push with a field
    // problem (appId NOT_IN_WORKSPACE) the console could not have found itself.
    const app = await api<{ id: string }>('POST', '/apps', {
      name: 'Short-lived app',
      platform: 'android',
      provider: 'simulator',
    });
    await useLanguage('zh');
    try {
      await page.goto(`${server.baseUrl}/w/default/tasks/new`);
      await page.getByLabel('任务名称', { exact: true }).fill('试推');
      await choose('app-select', 'Short-lived app');
      await page.getByLabel('标题', { exact: true }).fill('双十一');
      await page.getByLabel('内容', { exact: true }).fill('全场五折');
      await api('DELETE', `/apps/${app.id}`);

      await page.getByTestId('form-test-push').click();
      await page.getByTestId('test-push-ids').fill('dev-0000001');
      await page.getByTestId('test-push-send').click();
      const refusal = page.getByTestId('test-push-error');
      await eventually(() => refusal.textContent()).toContain('应用: 在此工作区中不存在');
      // Not a word of the server's English ("App app_… does not exist in this workspace").
      expect(await refusal.textContent()).not.toMatch(/[A-Za-z]{4,}/);
      expect(browserErrors).toEqual([]);
    } finally {
      await useLanguage('en');
    }
  });

  test('the meter counts what the server counts and the form refuses a payload over the limit', async () => {
    const apps = await api<{ items: { id: string; platform: 'android' | 'ios' }[] }>('GET', '/apps');
    expect(apps.items.some((a) => a.platform === 'android')).toBe(true);
    await page.goto(`${server.baseUrl}/w/default/tasks/new`);
    await page.getByLabel('Task name', { exact: true }).fill('Too long');
    await choose('app-select', 'Pushboard Demo (Android)');
    await choose('audience-select', 'All simulator devices');
    const limit = PAYLOAD_LIMIT_BYTES.android;
    const meter = page.getByText(/^Push payload: \d+ of \d+ bytes/);

    // Within the limit by content alone, with emoji and CJK; then the title pushes it over.
    const content = ` 限时抢购 🎉${'é'.repeat(700)} `;
    await page.getByLabel('Content', { exact: true }).fill(content);
    let title = 'Sale';
    await page.getByLabel('Title', { exact: true }).fill(title);
    const fits = taskPayloadBytes('android', title, content, { type: 'open_app' });
    expect(fits).toBeLessThanOrEqual(limit);
    await eventually(() => meter.textContent()).toBe(`Push payload: ${fits} of ${limit} bytes (Android)`);

    title = `Sale ${'中'.repeat(Math.ceil((limit - fits) / 6) + 1)}`;
    await page.getByLabel('Title', { exact: true }).fill(title);
    const over = taskPayloadBytes('android', title, content, { type: 'open_app' });
    expect(over).toBeGreaterThan(limit);
    await eventually(() => meter.textContent()).toBe(`Push payload: ${over} of ${limit} bytes (Android)`);

    // The server would refuse it naming the same size.
    const answer = await api('POST', '/test-pushes', {
      appId: apps.items.find((a) => a.platform === 'android')!.id,
      title,
      content,
      clickAction: { type: 'open_app' },
      deviceIds: ['dev-0000001'],
    }).then(
      () => 'accepted',
      (error: Error) => error.message,
    );
    // apiClient's error is "<method> <url>: <status> <body>".
    const refused = JSON.parse(answer.slice(answer.indexOf('{'))) as {
      error: { details: { code: string; params?: { bytes: number } }[] };
    };
    expect(refused.error.details.find((d) => d.code === 'PAYLOAD_TOO_LARGE')?.params?.bytes).toBe(over);

    // Submitting is refused in the form: the content field says why, no confirmation, no task.
    await page.getByRole('button', { name: 'Create task' }).last().click();
    await eventually(() => page.getByText(/^The push payload is \d+ bytes/).textContent()).toBe(
      `The push payload is ${over} bytes, over the ${limit}-byte limit: shorten the title, content or parameters.`,
    );
    expect(await page.locator('.ant-modal-confirm').count()).toBe(0);
    const tasks = await api<{ items: { name: string }[] }>(
      'GET',
      `/tasks?q=${encodeURIComponent('Too long')}`,
    );
    expect(tasks.items.filter((t) => t.name === 'Too long')).toEqual([]);
    expect(page.url()).toMatch(/\/tasks\/new$/);
  });
});
