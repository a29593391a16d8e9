/**
 * The console's device-side integration in a real browser (headless Chromium) against the real
 * server (docs/devices.md#sdk-registration): an app's integration drawer shows the SDK key in full as the API reads it, the
 * two SDK endpoints as absolute URLs of this server, and code that opens on the app's platform and
 * copies exactly as shown; rotating the secrets from the drawer shows the new SDK key; the device
 * list shows what each device reported about itself. It holds at 1280×720 as at 1440×900, and in
 * Chinese. The tests run in order and share one browser page.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  apiClient,
  CONSOLE_INDEX,
  type ConsoleServer,
  hasChromium,
  launchBrowser,
  logInAt,
  screenshot,
  startServer,
} from './console-harness.ts';

if (!hasChromium) {
  console.warn(
    'console-sdk.browser.test.ts skipped: /usr/bin/chromium is missing (apt-get install -y chromium to run it).',
  );
}

/** An app as the create answer has it: its secrets in full. */
interface CreatedApp {
  id: string;
  name: string;
  sdkKey: string;
  sdkSecret: string;
}

describe.skipIf(!hasChromium)('the console’s device-side integration', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let api: Awaited<ReturnType<typeof apiClient>>;
  const browserErrors: string[] = [];
  let android: CreatedApp;
  let ios: CreatedApp;

  /** Polls until the expectation holds, for up to 20 s (a CI machine running both suites can be slow). */
  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 20_000, interval: 100 });

  const drawer = () => page.locator('.integration-drawer .ant-drawer-section');
  const activeTab = () => drawer().locator('.ant-tabs-tab-active').textContent();
  const code = () => drawer().getByTestId('snippet-code').textContent();

  /** Opens the integration drawer of an app from its row. */
  async function openIntegration(appId: string) {
    await page.getByTestId(`integrate-${appId}`).click();
    await eventually(() => drawer().isVisible()).toBe(true);
    await eventually(() => drawer().getByTestId('sdk-key').isVisible()).toBe(true);
  }

  async function closeDrawer() {
    await drawer().locator('.ant-drawer-close').click();
    await eventually(() => page.locator('.integration-drawer').count()).toBe(0);
  }

  /** Clicks the snippet's copy button and answers what landed on the clipboard. */
  async function copySnippet(): Promise<string> {
    await page.evaluate(() => navigator.clipboard.writeText(''));
    await drawer().getByTestId('copy-snippet').locator('button').click();
    await eventually(() => page.evaluate(() => navigator.clipboard.readText())).not.toBe('');
    return page.evaluate(() => navigator.clipboard.readText());
  }

  /** Whether the code block shows its longest line without scrolling sideways. */
  const codeFits = () =>
    drawer()
      .getByTestId('snippet-code')
      .evaluate((pre) => pre.scrollWidth <= pre.clientWidth);

  beforeAll(async () => {
    if (!fs.existsSync(CONSOLE_INDEX)) {
      throw new Error(`${CONSOLE_INDEX} is missing: build the console with \`npm run build\` first.`);
    }
    server = await startServer();
    api = await apiClient(server.baseUrl);
    android = await api<CreatedApp>('POST', '/apps', {
      name: 'Shop (Android)',
      platform: 'android',
      provider: 'simulator',
    });
    ios = await api<CreatedApp>('POST', '/apps', {
      name: 'Shop (iOS)',
      platform: 'ios',
      provider: 'simulator',
    });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    // The copy buttons write to the clipboard; the test reads it back.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.baseUrl });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
        browserErrors.push(msg.text());
      }
    });
    await logInAt(page, server.baseUrl, '/w/default/apps');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('an Android app’s integration shows its SDK key in full, this server’s endpoints, and Kotlin first', async () => {
    const read = await api<{ sdkKey: string; sdkSecret: string }>('GET', `/apps/${android.id}`);
    expect(read.sdkKey).toBe(android.sdkKey);
    expect(read.sdkSecret).not.toBe(android.sdkSecret);

    await openIntegration(android.id);
    expect(await drawer().getByTestId('sdk-key').textContent()).toBe(android.sdkKey);
    expect(await drawer().getByTestId('sdk-secret').textContent()).toBe(read.sdkSecret);
    expect(await drawer().textContent()).toContain('Shown once, when the app was created');
    expect(await drawer().getByTestId('endpoint-devices').textContent()).toBe(
      `POST ${server.baseUrl}/api/v1/sdk/devices`,
    );
    expect(await drawer().getByTestId('endpoint-receipts').textContent()).toBe(
      `POST ${server.baseUrl}/api/v1/receipts/sdk`,
    );
    const headers = await drawer().getByTestId('sdk-headers').textContent();
    expect(headers).toContain(`X-Pushboard-Key: ${android.sdkKey}`);
    expect(headers).toContain('X-Pushboard-Signature');
    expect(headers).toContain('HMAC-SHA256');

    expect(await activeTab()).toBe('Android (Kotlin)');
    const kotlin = await code();
    expect(kotlin).toContain(`private const val BASE_URL = "${server.baseUrl}"`);
    expect(kotlin).toContain(`private const val SDK_KEY = "${android.sdkKey}"`);
    expect(kotlin).toContain('private const val SDK_SECRET = "<your SDK secret>"');
    for (const part of ['javax.crypto.Mac', 'OkHttpClient', 'onNewToken', 'onMessageReceived', '"pb_task"']) {
      expect(kotlin).toContain(part);
    }
    expect(kotlin).not.toContain(android.sdkSecret);
    expect(await copySnippet()).toBe(kotlin);
    await screenshot(page, 'integrate-android');

    await drawer().getByRole('tab', { name: 'TypeScript' }).click();
    await eventually(activeTab).toBe('TypeScript');
    // Another tab's code is not copied yet.
    expect((await drawer().getByTestId('copy-snippet').textContent())?.trim()).toBe('Copy code');
    const typescript = await code();
    expect(typescript).toContain(
      'import { localStorageAdapter, Pushboard, taskIdFromPayload } from "@pushboard/sdk";',
    );
    expect(typescript).toContain(`baseUrl: "${server.baseUrl}",`);
    expect(typescript).toContain(`sdkKey: "${android.sdkKey}",`);
    expect(typescript).toContain('sdkSecret: "<your SDK secret>",');
    expect(typescript).toContain('await pb.register({');
    expect(typescript).toContain('await pb.track(taskId, "open");');
    expect(await copySnippet()).toBe(typescript);
    await closeDrawer();
  });

  test('an iOS app’s integration opens on Swift', async () => {
    await openIntegration(ios.id);
    expect(await drawer().getByTestId('sdk-key').textContent()).toBe(ios.sdkKey);
    expect(await activeTab()).toBe('iOS (Swift)');
    const swift = await code();
    expect(swift).toContain(`static let baseURL = "${server.baseUrl}"`);
    expect(swift).toContain(`static let sdkKey = "${ios.sdkKey}"`);
    expect(swift).toContain('static let sdkSecret = "<your SDK secret>"');
    for (const part of [
      'HMAC<SHA256>',
      'URLSession',
      'didRegisterForRemoteNotificationsWithDeviceToken',
      'UNUserNotificationCenterDelegate',
      'didReceive response: UNNotificationResponse',
    ]) {
      expect(swift).toContain(part);
    }
    expect(await copySnippet()).toBe(swift);
    await screenshot(page, 'integrate-ios');
    await closeDrawer();
  });

  test('at 1280×720 the drawer fits the window and every snippet shows its longest line', async () => {
    await page.setViewportSize({ width: 1280, height: 720 });
    try {
      await openIntegration(android.id);
      // Once it has slid in, it sits at the right edge and starts inside the window.
      await eventually(async () => {
        const box = await drawer().boundingBox();
        return box && [Math.round(box.x + box.width), box.x >= 0];
      }).toEqual([1280, true]);
      for (const tab of ['TypeScript', 'Android (Kotlin)', 'iOS (Swift)']) {
        await drawer().getByRole('tab', { name: tab }).click();
        await eventually(activeTab).toBe(tab);
        expect(await codeFits()).toBe(true);
      }
      await drawer().getByRole('tab', { name: 'Android (Kotlin)' }).click();
      await screenshot(page, 'integrate-android-1280');
      await closeDrawer();
      await screenshot(page, 'apps-1280');
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 });
    }
  });

  test('rotating the secrets from the drawer shows them once, and the drawer the new SDK key', async () => {
    await openIntegration(android.id);
    await drawer().getByTestId('integrate-rotate').click();
    await page.locator('.ant-popconfirm').getByRole('button', { name: 'Rotate secrets' }).click();
    await eventually(() => page.locator('.ant-popconfirm:visible').count()).toBe(0);
    const shown = page.getByTestId('shown-once');
    await eventually(() => shown.count()).toBe(1);
    const read = await api<{ sdkKey: string }>('GET', `/apps/${android.id}`);
    expect(read.sdkKey).not.toBe(android.sdkKey);
    // Receipt secret, SDK key, SDK secret: the new ones, in full.
    const [, sdkKey, sdkSecret] = await shown.locator('code').allTextContents();
    expect(sdkKey).toBe(read.sdkKey);
    expect(sdkSecret).toMatch(/^pbs_/);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
    await eventually(() => drawer().getByTestId('sdk-key').textContent()).toBe(read.sdkKey);
    expect(await code()).toContain(`private const val SDK_KEY = "${read.sdkKey}"`);
    android = { ...android, sdkKey: read.sdkKey, sdkSecret: sdkSecret as string };
    await closeDrawer();
  });

  test('the device list shows the time zone, locale and app version each device reported', async () => {
    await api('POST', `/apps/${android.id}/devices/batch`, {
      devices: [
        {
          deviceId: 'oaid-tz-0001',
          pushToken: 'token-0001',
          timeZone: 'Asia/Shanghai',
          locale: 'zh-CN',
          appVersion: '5.2.0 (1234)',
        },
        { deviceId: 'oaid-tz-0002', pushToken: 'token-0002', timeZone: 'Europe/Berlin', locale: 'de-DE' },
        { deviceId: 'oaid-tz-0003', pushToken: 'token-0003' },
      ],
    });
    // One registers itself as the snippets do: the endpoint and SDK key the drawer shows, signed with
    // the hex HMAC-SHA256 of the raw body keyed with the SDK secret.
    const body = JSON.stringify({
      deviceId: 'oaid-tz-0004',
      pushToken: 'token-0004',
      timeZone: 'America/New_York',
      locale: 'en-US',
      appVersion: '5.3.0',
    });
    const registered = await fetch(`${server.baseUrl}/api/v1/sdk/devices`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-pushboard-key': android.sdkKey,
        'x-pushboard-signature': createHmac('sha256', android.sdkSecret).update(body).digest('hex'),
      },
      body,
    });
    expect(registered.status).toBe(200);
    await page.reload();
    await page.locator('tr', { hasText: 'Shop (Android)' }).getByRole('button', { name: 'Devices' }).click();
    const table = page.getByTestId('device-table');
    await eventually(() => table.locator('tbody tr.ant-table-row').count()).toBe(4);
    const headings = await table.locator('thead th').allTextContents();
    expect(headings).toEqual(expect.arrayContaining(['Time zone', 'Locale', 'App version']));
    const column = (name: string) => headings.indexOf(name);
    const cells = (deviceId: string) =>
      table.locator('tr', { hasText: deviceId }).locator('td').allTextContents();
    const first = await cells('oaid-tz-0001');
    expect([first[column('Time zone')], first[column('Locale')], first[column('App version')]]).toEqual([
      'Asia/Shanghai',
      'zh-CN',
      '5.2.0 (1234)',
    ]);
    const second = await cells('oaid-tz-0002');
    expect([second[column('Time zone')], second[column('Locale')], second[column('App version')]]).toEqual([
      'Europe/Berlin',
      'de-DE',
      '–',
    ]);
    const fourth = await cells('oaid-tz-0004');
    expect([fourth[column('Time zone')], fourth[column('Locale')], fourth[column('App version')]]).toEqual([
      'America/New_York',
      'en-US',
      '5.3.0',
    ]);
    const third = await cells('oaid-tz-0003');
    expect([third[column('Time zone')], third[column('Locale')], third[column('App version')]]).toEqual([
      '–',
      '–',
      '–',
    ]);
    await screenshot(page, 'devices-profile');
    await page.locator('.ant-drawer').getByRole('button', { name: 'Close' }).click();
    await eventually(() => page.locator('.ant-drawer').count()).toBe(0);
  });

  test('the integration reads in Chinese', async () => {
    await page.getByTestId('language-switch').getByText('中文').click();
    await eventually(() => page.getByTestId(`integrate-${ios.id}`).textContent()).toBe('接入');
    await openIntegration(ios.id);
    expect(await drawer().textContent()).toContain('接入「Shop (iOS)」的设备');
    expect(await activeTab()).toBe('iOS（Swift）');
    expect((await drawer().getByTestId('copy-snippet').textContent())?.trim()).toBe('复制代码');
    expect(await drawer().getByTestId('endpoint-devices').textContent()).toBe(
      `POST ${server.baseUrl}/api/v1/sdk/devices`,
    );
    await screenshot(page, 'integrate-ios-zh');
    await page.setViewportSize({ width: 1280, height: 720 });
    try {
      for (const tab of ['TypeScript', 'Android（Kotlin）', 'iOS（Swift）']) {
        await drawer().getByRole('tab', { name: tab }).click();
        await eventually(activeTab).toBe(tab);
        expect(await codeFits()).toBe(true);
      }
      await screenshot(page, 'integrate-ios-zh-1280');
      await closeDrawer();
      await screenshot(page, 'apps-zh-1280');
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 });
    }
    await page.getByTestId('language-switch').getByText('EN').click();
    await eventually(() => page.getByRole('heading', { name: 'Apps' }).count()).toBe(1);
  });

  test('an app’s rarer actions are in its row’s menu: Delete asks first, then deletes', async () => {
    const doomed = await api<CreatedApp>('POST', '/apps', {
      name: 'Old shop (Android)',
      platform: 'android',
      provider: 'simulator',
    });
    await page.reload();
    await page.getByTestId(`more-of-${doomed.id}`).click();
    const menu = page.locator('.ant-dropdown:visible');
    await eventually(() => menu.getByRole('menuitem').allTextContents()).toEqual([
      'Rotate secrets',
      'Delete',
    ]);
    await menu.getByRole('menuitem', { name: 'Delete' }).click();
    const confirm = page.locator('.ant-modal-confirm');
    await eventually(() => confirm.textContent()).toContain('Delete the app "Old shop (Android)"');
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await eventually(() => page.getByTestId(`integrate-${doomed.id}`).count()).toBe(0);
    const apps = await api<{ items: { id: string }[] }>('GET', '/apps');
    expect(apps.items.map((a) => a.id)).not.toContain(doomed.id);
  });

  test('the browser reported no errors', () => {
    expect(browserErrors).toEqual([]);
  });
});
