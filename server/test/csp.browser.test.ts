/**
 * The Content-Security-Policy in real Chromium: the built console (log in, Normal Tasks, Apps) and
 * the docs UI at /docs work under it, and the browser reports no violation of it.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import { WEB_ROOT } from '../src/main.ts';
import { hasChromium, launchBrowser } from './console-harness.ts';
import { ADMIN_PASSWORD, createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  t = await createTestInstance();
  const app = await buildApp({ config: t.config, db: t.db, logger: false, webRoot: WEB_ROOT });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  close = async () => {
    await app.close();
    await t.close();
  };
});
afterAll(() => close());

test.skipIf(!hasChromium)('the console and the docs UI run under the CSP without a violation', async () => {
  const browser = await launchBrowser();
  const messages: string[] = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
    const answer = await page.goto(`${base}/w/default/tasks`);
    expect(answer?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/w/default/tasks');
    await page.getByRole('heading', { name: 'Normal Tasks' }).waitFor();
    await page.getByRole('link', { name: 'Apps' }).first().click();
    await page.waitForURL('**/apps');
    await page.goto(`${base}/docs`);
    await page.locator('.swagger-ui .opblock').first().waitFor();
    expect(await page.locator('.swagger-ui .opblock').count()).toBeGreaterThan(10);
  } finally {
    await browser.close();
  }
  expect(messages.filter((m) => /Content.Security.Policy|Refused to/i.test(m))).toEqual([]);
});
