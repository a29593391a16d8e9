/**
 * What the walkthrough of issue #18 found wanting in the console's states. Every column of times names
 * its zone. When the connection drops a page never spins forever: while
 * the browser is offline a banner says so (in the console's language), a page that cannot load says
 * that the server could not be reached and offers a retry, and once the connection is back the page
 * loads what it missed by itself.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ConsoleServer, hasChromium, launchBrowser, logInAt, startServer } from './console-harness.ts';

describe.skipIf(!hasChromium)('the console’s states', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 15_000, interval: 100 });

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-US' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await logInAt(page, server.baseUrl, '/w/default/tasks');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('offline, a page says the server could not be reached; back online, it loads by itself', async () => {
    await expect.poll(() => page.getByTestId('offline-banner').count()).toBe(0);
    await context.setOffline(true);
    await eventually(() => page.getByTestId('offline-banner').textContent()).toContain('You are offline');

    await page.getByRole('navigation', { name: 'Navigation' }).getByRole('link', { name: 'Apps' }).click();
    await eventually(() => page.locator('.ant-result-title').textContent()).toContain('Could not load this');
    expect(await page.locator('.ant-result-subtitle').textContent()).toContain('could not be reached');
    expect(await page.getByRole('button', { name: 'Try again' }).count()).toBe(1);

    await context.setOffline(false);
    await eventually(() => page.getByTestId('offline-banner').count()).toBe(0);
    await eventually(() => page.getByText('Pushboard Demo (Android)').count()).toBeGreaterThan(0);
    expect(await page.locator('.ant-result-title').count()).toBe(0);
  });

  test('the banner and the error read in Chinese in the Chinese console', async () => {
    await page.getByTestId('language-switch').getByText('中文').click();
    await eventually(() => page.getByRole('navigation', { name: '导航' }).count()).toBe(1);
    await context.setOffline(true);
    try {
      await eventually(() => page.getByTestId('offline-banner').textContent()).toContain('网络已断开');
      await page.getByRole('navigation', { name: '导航' }).getByRole('link', { name: '人群' }).click();
      await eventually(() => page.locator('.ant-result-title').textContent()).toContain('加载失败');
      const subtitle = (await page.locator('.ant-result-subtitle').textContent()) ?? '';
      expect(subtitle).not.toMatch(/[A-Za-z]{4,}/);
    } finally {
      await context.setOffline(false);
    }
    await eventually(() => page.getByTestId('offline-banner').count()).toBe(0);
    await eventually(() => page.locator('.ant-result-title').count()).toBe(0);
  });

  test('every column of times names the zone its times are in', async () => {
    const pages: [string, string[]][] = [
      ['/w/default/apps', ['Created (UTC)']],
      ['/w/default/audiences', ['Created (UTC)']],
      ['/w/default/campaigns', ['Created (UTC)']],
      ['/w/default/settings', ['Member since (UTC)']],
    ];
    await page.getByTestId('language-switch').getByText('EN').click();
    for (const [path, headers] of pages) {
      await page.goto(`${server.baseUrl}${path}`);
      for (const header of headers) {
        await eventually(() => page.locator('th').filter({ hasText: header }).count()).toBeGreaterThan(0);
      }
    }
    await page.goto(`${server.baseUrl}/w/default/tasks`);
  });
});
