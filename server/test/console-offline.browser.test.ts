/**
 * The console when the connection drops (issue #18's walkthrough): a page never spins forever. While
 * the browser is offline a banner says so (in the console's language), a page that cannot load says
 * that the server could not be reached and offers a retry, and once the connection is back the page
 * loads what it missed by itself.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ConsoleServer, hasChromium, launchBrowser, logInAt, startServer } from './console-harness.ts';

describe.skipIf(!hasChromium)('the console offline', () => {
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
});
