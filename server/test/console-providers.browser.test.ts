/**
 * The console's FCM and APNs apps and the push-token lifecycle in a real browser (headless Chromium)
 * against the real server: key files generated here and uploaded through the form, read in the
 * browser and shown; a wrong key file named at once; a change that keeps the stored key; a change of
 * account that needs the key again; a device whose token the provider called invalid, counted in the
 * app list and listed under the device filter; and a task's failure reasons on its details page.
 * The tests run in order and share one browser page.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
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
import { tempDir } from './helpers.ts';

if (!hasChromium) {
  console.warn(
    'console-providers.browser.test.ts skipped: /usr/bin/chromium is missing (apt-get install -y chromium to run it).',
  );
}

const RSA_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;
const P8_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;
const SCREENSHOTS = path.resolve(import.meta.dirname, '../../docs/screenshots');
const PROJECT_ID = 'shop-push-4f2a1';
const CLIENT_EMAIL = 'firebase-adminsdk-x1y2z@shop-push-4f2a1.iam.gserviceaccount.com';

/** A service-account key file as the Firebase console downloads it. */
function serviceAccountFile(overrides: Record<string, unknown> = {}) {
  return {
    type: 'service_account',
    project_id: PROJECT_ID,
    private_key_id: '2f6c1e0b9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b',
    private_key: RSA_KEY,
    client_email: CLIENT_EMAIL,
    client_id: '109876543210987654321',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/firebase-adminsdk',
    universe_domain: 'googleapis.com',
    ...overrides,
  };
}

interface AppRead {
  id: string;
  name: string;
  provider: string;
  devices: number;
  invalidTokens: number;
  providerConfig: Record<string, unknown> & { serviceAccount?: Record<string, string> };
}

describe.skipIf(!hasChromium)('the console with FCM and APNs apps', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let api: Awaited<ReturnType<typeof apiClient>>;
  let files: string;
  const browserErrors: string[] = [];
  let fcmAppId = '';
  let apnsAppId = '';

  /** Polls until the expectation holds, for up to 20 s (a CI machine running both suites can be slow). */
  const eventually = <T>(value: () => T | Promise<T>) =>
    expect.poll(value, { timeout: 20_000, interval: 100 });

  /** Writes a key file into the test's temp folder and answers its path. */
  function keyFileAt(name: string, content: string): string {
    const file = path.join(files, name);
    fs.writeFileSync(file, content);
    return file;
  }

  /** The app of that name, as the API reads it. */
  async function appNamed(name: string): Promise<AppRead> {
    const apps = await api<{ items: AppRead[] }>('GET', '/apps');
    const app = apps.items.find((a) => a.name === name);
    if (!app) throw new Error(`no app named ${name}`);
    return app;
  }

  /** The provider config as stored (decrypted), straight from the server's database. */
  async function storedConfig(appId: string) {
    const db = await openStoreOf(await storeEnvFor(server.dataDir));
    try {
      const row = await db
        .selectFrom('apps')
        .select('provider_config')
        .where('id', '=', appId)
        .executeTakeFirstOrThrow();
      return JSON.parse(row.provider_config);
    } finally {
      await db.destroy();
    }
  }

  /** Closes the "shown once" secrets of a new app. */
  async function dismissSecrets() {
    await eventually(() => page.getByTestId('shown-once').count()).toBe(1);
    // The form's dialog has finished closing: only the secrets' dialog is left to click in.
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(1);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
  }

  /** The error messages shown next to the form's fields. */
  const fieldErrors = () => page.locator('.ant-form-item-explain-error').allTextContents();

  beforeAll(async () => {
    if (!fs.existsSync(CONSOLE_INDEX)) {
      throw new Error(`${CONSOLE_INDEX} is missing: build the console with \`npm run build\` first.`);
    }
    files = tempDir('pushboard-key-files-');
    server = await startServer();
    api = await apiClient(server.baseUrl);
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    page.on('console', (msg) => {
      // Refused requests (a validation error) are expected and shown in the page.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
        browserErrors.push(msg.text());
      }
    });
    await page.goto(`${server.baseUrl}/w/default/apps`);
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/w/default/apps');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (files) fs.rmSync(files, { recursive: true, force: true });
  });

  test('an FCM app is made by uploading its service-account key file, whose project and client email the form shows', async () => {
    await page.getByRole('button', { name: 'Create app' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('Shop (Android, FCM)');
    // An Android app is offered the providers that send to Android, FCM among them, and not APNs.
    const choice = dialog.getByTestId('provider-choice');
    expect(await choice.textContent()).toContain('Firebase (FCM)');
    expect(await choice.textContent()).not.toContain('Apple (APNs)');
    await choice.getByText('Firebase (FCM)', { exact: true }).click();

    await dialog
      .getByTestId('fcm-key-file')
      .setInputFiles(keyFileAt('shop-push-4f2a1-2f6c1e0b9d8a.json', JSON.stringify(serviceAccountFile())));
    const summary = dialog.getByTestId('fcm-key-summary');
    await eventually(() => summary.textContent()).toContain(PROJECT_ID);
    expect(await summary.textContent()).toContain(CLIENT_EMAIL);
    expect(await dialog.textContent()).not.toContain('BEGIN PRIVATE KEY');
    await dialog.getByLabel('Android notification channel ID', { exact: true }).fill('promotions');
    await screenshot(page, 'app-form-fcm');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dismissSecrets();

    const app = await appNamed('Shop (Android, FCM)');
    fcmAppId = app.id;
    expect(app.provider).toBe('fcm');
    expect(app.providerConfig.serviceAccount?.client_email).toBe(CLIENT_EMAIL);
    expect(app.providerConfig.serviceAccount?.private_key).toMatch(/^••••/);
    expect((await storedConfig(app.id)).serviceAccount.private_key).toBe(RSA_KEY);
    await eventually(() => page.getByTestId(`provider-of-${app.id}`).textContent()).toBe('Firebase (FCM)');
    expect(await page.locator('tr', { hasText: 'Shop (Android, FCM)' }).textContent()).toContain(PROJECT_ID);
  });

  test('a key file without private_key is refused in the form, naming the missing field', async () => {
    await page.getByRole('button', { name: 'Create app' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('Broken key');
    await dialog.getByTestId('provider-choice').getByText('Firebase (FCM)', { exact: true }).click();
    const { private_key: _, ...withoutKey } = serviceAccountFile();
    await dialog
      .getByTestId('fcm-key-file')
      .setInputFiles(keyFileAt('no-key.json', JSON.stringify(withoutKey)));
    await eventually(fieldErrors).toContainEqual(expect.stringContaining('has no "private_key" field'));
    expect(await dialog.getByTestId('fcm-key-summary').count()).toBe(0);

    // A file that is not JSON at all says where the right file comes from.
    await dialog.getByTestId('fcm-key-file').setInputFiles(keyFileAt('notes.json', 'project: shop'));
    await eventually(fieldErrors).toContainEqual(expect.stringContaining('Service accounts'));
    await screenshot(page, 'app-form-bad-key');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await eventually(fieldErrors).toContainEqual(expect.stringContaining('not a JSON key file'));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
    expect((await api<{ items: AppRead[] }>('GET', '/apps')).items.map((a) => a.name)).not.toContain(
      'Broken key',
    );
  });

  test('an APNs app is made with a .p8 key; iOS apps are offered APNs and not FCM', async () => {
    await page.getByRole('button', { name: 'Create app' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('Shop (iOS, APNs)');
    await dialog.getByText('iOS', { exact: true }).click();
    const choice = dialog.getByTestId('provider-choice');
    await eventually(() => choice.textContent()).toContain('Apple (APNs)');
    expect(await choice.textContent()).not.toContain('Firebase (FCM)');
    await choice.getByText('Apple (APNs)', { exact: true }).click();
    await dialog.getByLabel('Team ID', { exact: true }).fill('AB12CD34EF');
    await dialog.getByLabel('Key ID', { exact: true }).fill('ZX98YW76VU');
    await dialog.getByLabel('Bundle ID', { exact: true }).fill('com.example.shop');
    await dialog.getByText('Sandbox', { exact: true }).click();

    // A key that is not a PKCS#8 PEM is refused before anything is sent.
    await dialog.getByTestId('apns-key-file').setInputFiles(keyFileAt('AuthKey_wrong.p8', 'not a key'));
    await eventually(fieldErrors).toContainEqual(expect.stringContaining('This is not a .p8 key'));
    await dialog.getByTestId('apns-key-file').setInputFiles(keyFileAt('AuthKey_ZX98YW76VU.p8', P8_KEY));
    await eventually(fieldErrors).toEqual([]);
    expect(await dialog.textContent()).toContain('AuthKey_ZX98YW76VU.p8');
    await screenshot(page, 'app-form-apns');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dismissSecrets();

    const app = await appNamed('Shop (iOS, APNs)');
    apnsAppId = app.id;
    expect(app.providerConfig).toMatchObject({
      teamId: 'AB12CD34EF',
      keyId: 'ZX98YW76VU',
      bundleId: 'com.example.shop',
      environment: 'sandbox',
    });
    expect(app.providerConfig.privateKey).toMatch(/^••••/);
    expect((await storedConfig(app.id)).privateKey.trim()).toBe(P8_KEY.trim());
    await eventually(() => page.getByTestId(`provider-of-${app.id}`).textContent()).toBe('Apple (APNs)');
    expect(await page.locator('tr', { hasText: 'Shop (iOS, APNs)' }).textContent()).toContain(
      'com.example.shop · Sandbox',
    );
  });

  test('the FCM app’s channel ID changes without uploading the key again, and the stored key is kept', async () => {
    await page
      .locator('tr', { hasText: 'Shop (Android, FCM)' })
      .getByRole('button', { name: 'Edit' })
      .click();
    const dialog = page.getByRole('dialog');
    await eventually(() => dialog.getByTestId('kept-key').textContent()).toContain('kept unless');
    expect(await dialog.getByTestId('fcm-key-summary').textContent()).toContain(CLIENT_EMAIL);
    const channel = dialog.getByLabel('Android notification channel ID', { exact: true });
    expect(await channel.inputValue()).toBe('promotions');
    await channel.fill('news');
    await screenshot(page, 'app-form-fcm-edit');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await eventually(() => page.locator('.ant-message').textContent()).toContain(
      'App "Shop (Android, FCM)" saved.',
    );
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);

    const app = await api<AppRead>('GET', `/apps/${fcmAppId}`);
    expect(app.providerConfig.androidChannelId).toBe('news');
    expect(app.providerConfig.serviceAccount).toMatchObject({
      project_id: PROJECT_ID,
      client_email: CLIENT_EMAIL,
    });
    expect(app.providerConfig.serviceAccount?.private_key).toMatch(/^••••/);
    const stored = await storedConfig(fcmAppId);
    expect(stored.serviceAccount.private_key).toBe(RSA_KEY);
    // Still a config the server takes: sending the read back is accepted as it is.
    await api('PATCH', `/apps/${fcmAppId}`, { providerConfig: app.providerConfig });
  });

  test('a new key ID without the .p8 key again is refused next to the key field, in words, until the key is given', async () => {
    await page.locator('tr', { hasText: 'Shop (iOS, APNs)' }).getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog');
    await eventually(() => dialog.getByTestId('kept-key').count()).toBe(1);
    await dialog.getByLabel('Key ID', { exact: true }).fill('NEWKEY1234');
    await eventually(() => dialog.getByTestId('new-key-needed').textContent()).toContain(
      'You changed Key ID: choose the .p8 key file again',
    );
    await dialog.getByRole('button', { name: 'Save' }).click();
    await eventually(fieldErrors).toContainEqual(expect.stringContaining('Needed again'));
    await screenshot(page, 'app-form-apns-new-key');
    expect((await api<AppRead>('GET', `/apps/${apnsAppId}`)).providerConfig.keyId).toBe('ZX98YW76VU');

    const newKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await dialog.getByTestId('apns-key-file').setInputFiles(keyFileAt('AuthKey_NEWKEY1234.p8', newKey));
    await eventually(() => dialog.getByTestId('new-key-needed').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
    expect((await api<AppRead>('GET', `/apps/${apnsAppId}`)).providerConfig.keyId).toBe('NEWKEY1234');
    expect((await storedConfig(apnsAppId)).privateKey.trim()).toBe(newKey.trim());
  });

  test('a device whose token the provider called invalid is counted in the app list and listed under the invalid filter with its reason', async () => {
    await api('POST', `/apps/${fcmAppId}/devices/batch`, {
      devices: [
        { deviceId: 'oaid-0001', pushToken: 'fcm-token-0001' },
        { deviceId: 'oaid-0002', pushToken: 'fcm-token-0002' },
        { deviceId: 'oaid-0003', pushToken: 'fcm-token-0003' },
      ],
    });
    // As a send marks it when FCM answers 404 UNREGISTERED (token-lifecycle.test.ts covers that part).
    const invalidAt = new Date(Date.now() - 3_600_000).toISOString();
    const db = await openStoreOf(await storeEnvFor(server.dataDir));
    try {
      await db
        .updateTable('devices')
        .set({ token_status: 'invalid', token_invalid_at: invalidAt, token_invalid_reason: 'UNREGISTERED' })
        .where('app_id', '=', fcmAppId)
        .where('device_id', '=', 'oaid-0002')
        .execute();
    } finally {
      await db.destroy();
    }

    await page.reload();
    const row = page.locator('tr', { hasText: 'Shop (Android, FCM)' });
    await eventually(() => row.locator('td').nth(3).textContent()).toBe('3');
    await eventually(() => page.getByTestId(`invalid-tokens-of-${fcmAppId}`).textContent()).toBe('1');
    expect(await page.getByTestId(`invalid-tokens-of-${apnsAppId}`).textContent()).toBe('0');
    await screenshot(page, 'apps-providers');

    // The count opens the app's devices filtered to the invalid tokens.
    await page.getByTestId(`invalid-tokens-of-${fcmAppId}`).click();
    const table = page.getByTestId('device-table');
    const filter = page.getByTestId('token-status-filter');
    await eventually(() => filter.locator('.ant-radio-button-wrapper-checked').textContent()).toBe(
      'Invalid (1)',
    );
    await eventually(() => table.locator('tbody tr.ant-table-row').count()).toBe(1);
    const invalid = table.locator('tr', { hasText: 'oaid-0002' });
    expect(await invalid.textContent()).toContain('Invalid');
    expect(await invalid.textContent()).toContain('UNREGISTERED');
    await screenshot(page, 'devices-invalid-tokens');

    await filter.getByText('Active', { exact: true }).click();
    await eventually(() => table.locator('tbody tr.ant-table-row').count()).toBe(2);
    expect(await table.textContent()).not.toContain('oaid-0002');
    await filter.getByText('All', { exact: true }).click();
    await eventually(() => table.locator('tbody tr.ant-table-row').count()).toBe(3);
    await page.locator('.ant-drawer').getByRole('button', { name: 'Close' }).click();
    await eventually(() => page.locator('.ant-drawer-content:visible').count()).toBe(0);
  });

  test('a task’s details list its failure reasons with their share of the failures', async () => {
    // A simulator app that refuses about half of its devices, with the reasons push services give.
    const app = await api<{ id: string }>('POST', '/apps', {
      name: 'Refusing app (Android)',
      platform: 'android',
      provider: 'simulator',
      providerConfig: { seed: 11, acceptRate: 0.5, timeScale: 100_000 },
    });
    const devices = Array.from({ length: 60 }, (_, i) => ({
      deviceId: `refused-${String(i).padStart(3, '0')}`,
      pushToken: `refused-token-${i}`,
    }));
    await api('POST', `/apps/${app.id}/devices/batch`, { devices });
    const audience = await api<{ id: string }>('POST', '/audiences', {
      name: 'Refusing app users',
      deviceIds: devices.map((d) => d.deviceId),
    });
    const task = await api<{ id: string }>('POST', '/tasks', {
      name: 'Weekend offer',
      appId: app.id,
      title: 'Weekend offer',
      content: 'Two days of free delivery.',
      clickAction: { type: 'open_app' },
      audienceId: audience.id,
      sendType: 'immediate',
      subCampaignIds: [],
    });
    await expect
      .poll(async () => (await api<{ status: string }>('GET', `/tasks/${task.id}`)).status, {
        timeout: 20_000,
        interval: 200,
      })
      .toBe('completed');
    const { statistics } = await api<{ statistics: { failures: number } }>('GET', `/tasks/${task.id}`);
    const { failureReasons } = await api<{ failureReasons: { reason: string; devices: number }[] }>(
      'GET',
      `/tasks/${task.id}/breakdown`,
    );
    expect(statistics.failures).toBeGreaterThan(0);
    expect(failureReasons.length).toBeGreaterThan(0);

    await page.goto(`${server.baseUrl}/w/default/tasks/${task.id}`);
    const card = page.getByTestId('failure-reasons');
    await eventually(() => card.locator('tbody tr.ant-table-row').count()).toBe(failureReasons.length);
    const top = failureReasons[0]!;
    const topRow = card.locator('tbody tr.ant-table-row').first();
    expect(await topRow.textContent()).toContain(top.reason);
    const share = `${((top.devices / statistics.failures) * 100).toFixed(1)}%`;
    expect(await topRow.locator('td').nth(1).textContent()).toBe(String(top.devices));
    expect(await topRow.locator('td').nth(2).textContent()).toBe(share);
    // The page is long (the device table follows): the card alone shows what this test is about.
    if (process.env.PUSHBOARD_SCREENSHOTS === '1') {
      await page.waitForTimeout(500);
      await card.screenshot({ path: path.join(SCREENSHOTS, 'task-failure-reasons.png') });
    }
  });

  test('a Umeng Android app takes its vendor-channel activity and options; a malformed option is refused next to the field', async () => {
    await page.goto(`${server.baseUrl}/w/default/apps`);
    await page.getByRole('button', { name: 'Create app' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('Shop (Android, Umeng)');
    await dialog.getByTestId('provider-choice').getByText('Umeng U-Push', { exact: true }).click();
    await dialog.getByLabel('appKey', { exact: true }).fill('5f8e2a1b9c3d4e5f6a7b8c9d');
    await dialog.getByLabel('appMasterSecret', { exact: true }).fill('umeng-master-secret-for-tests');
    expect(await dialog.textContent()).toContain('limits broadcast and groupcast sends');
    await dialog
      .getByLabel('Vendor channel activity', { exact: true })
      .fill('com.example.shop.MfrMessageActivity');
    const options = dialog.getByLabel('Vendor channel options', { exact: true });
    await options.fill('xiaomi_channel_id=high_system\nhuawei_channel_importance=HIGH');
    await dialog.getByRole('button', { name: 'Create' }).click();
    // The server's rule, shown next to the options field: Huawei takes NORMAL or LOW.
    await eventually(fieldErrors).toContainEqual(expect.stringContaining('"NORMAL" or "LOW"'));
    await options.fill('xiaomi_channel_id=high_system\nnot an option');
    await eventually(fieldErrors).toContainEqual('Line 2 is not name=value.');
    await options.fill('xiaomi_channel_id=high_system\nhuawei_channel_importance=NORMAL');
    await screenshot(page, 'app-form-umeng');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dismissSecrets();

    const app = await appNamed('Shop (Android, Umeng)');
    expect(app.providerConfig).toMatchObject({
      channelActivity: 'com.example.shop.MfrMessageActivity',
      channelProperties: { xiaomi_channel_id: 'high_system', huawei_channel_importance: 'NORMAL' },
      productionMode: true,
    });
    // Editing shows them again as typed.
    await page
      .locator('tr', { hasText: 'Shop (Android, Umeng)' })
      .getByRole('button', { name: 'Edit' })
      .click();
    const edit = page.getByRole('dialog');
    await eventually(() => edit.getByLabel('Vendor channel options', { exact: true }).inputValue()).toBe(
      'xiaomi_channel_id=high_system\nhuawei_channel_importance=NORMAL',
    );
    await page.keyboard.press('Escape');
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
  });

  test('the app list and the FCM form read in Chinese', async () => {
    await page.goto(`${server.baseUrl}/w/default/apps`);
    await page.getByTestId('language-switch').getByText('中文').click();
    await eventually(() => page.getByTestId(`provider-of-${apnsAppId}`).textContent()).toBe('Apple（APNs）');
    expect(await page.getByTestId('app-table').textContent()).toContain('失效令牌');
    await page
      .locator('tr', { hasText: 'Shop (Android, FCM)' })
      .getByRole('button', { name: /编\s?辑/ })
      .click();
    await eventually(() => page.getByRole('dialog').textContent()).toContain('服务账号密钥文件');
    expect(await page.getByRole('dialog').textContent()).toContain('Android 通知渠道 ID');
    await page.keyboard.press('Escape');
    await eventually(() => page.locator('.ant-modal-wrap:visible').count()).toBe(0);
    await page.getByTestId('language-switch').getByText('EN').click();
    await eventually(() => page.getByRole('heading', { name: 'Apps' }).count()).toBe(1);
  });

  test('the browser reported no errors', () => {
    expect(browserErrors).toEqual([]);
  });
});
