/**
 * Harness of the console's browser tests: the real `pushboard serve` as a child process on a free
 * loopback port with its own data folder, Debian's Chromium driven by playwright-core, a small API
 * client to prepare data, and screenshots into docs/screenshots when PUSHBOARD_SCREENSHOTS=1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { storeEnvFor } from './backends.ts';
import { tempDir } from './helpers.ts';

/** Debian's Chromium; the browser tests are skipped when it is absent (CI installs it). */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = fs.existsSync(CHROMIUM);

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'server/bin/pushboard.js');
/** The built console; `npm install` builds it (root `prepare`), `npm run build` rebuilds it. */
export const CONSOLE_INDEX = path.join(ROOT, 'web/dist/index.html');
const SCREENSHOTS = path.join(ROOT, 'docs/screenshots');

export const ADMIN_PASSWORD = 'console-test-password';

/** A running server: its URL, data folder, and a way to stop it. */
export interface ConsoleServer {
  baseUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts `pushboard serve` with a small demo fleet (and `env` on top) and resolves once it listens. */
export async function startServer(env: Record<string, string> = {}): Promise<ConsoleServer> {
  const dataDir = tempDir('pushboard-console-');
  const store = await storeEnvFor(dataDir);
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1'], {
    env: {
      ...process.env,
      ...store,
      PUSHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      PUSHBOARD_DEMO_FLEET_SIZE: '2000',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (chunk) => {
    out += chunk;
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`pushboard serve exited with ${code}: ${out}`)));
  });
  const home = await (await fetch(`${baseUrl}/`)).text();
  if (!home.includes('<div id="root">')) {
    child.kill('SIGTERM');
    throw new Error(
      'The server does not serve the built console at /: WEB_ROOT in server/src/main.ts must point at web/dist.',
    );
  }
  return {
    baseUrl,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launches headless Chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Saves a full-page screenshot as docs/screenshots/<name>.png, only when PUSHBOARD_SCREENSHOTS=1.
 * `live`: the page holds a live event stream open, so it never goes network-idle; it is taken once
 * no skeleton or spinner is left instead.
 */
export async function screenshot(page: Page, name: string, options: { live?: boolean } = {}): Promise<void> {
  if (process.env.PUSHBOARD_SCREENSHOTS !== '1') return;
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  // Let fades and table loading overlays finish.
  if (options.live) {
    await page.waitForFunction(() => document.querySelector('.ant-skeleton, .ant-spin-spinning') === null);
  } else {
    await page.waitForLoadState('networkidle');
  }
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A logged-in API client for preparing data the way a script would. */
export async function apiClient(baseUrl: string) {
  const call = async <T>(method: string, url: string, token: string | null, body?: unknown): Promise<T> => {
    const res = await fetch(`${baseUrl}/api/v1${url}`, {
      method,
      headers: {
        ...(token && { authorization: `Bearer ${token}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const { token } = await call<{ token: string }>('POST', '/auth/login', null, {
    username: 'admin',
    password: ADMIN_PASSWORD,
  });
  // Paths are of workspace `default`, unless `instanceWide` (`/users`…).
  return <T>(method: string, url: string, body?: unknown, instanceWide = false) =>
    call<T>(method, instanceWide ? url : `/workspaces/default${url}`, token, body);
}

/** Opens `path` of the console on `page` and logs in as the admin there; resolves once back at `path`. */
export async function logInAt(page: Page, baseUrl: string, path: string): Promise<void> {
  await page.goto(`${baseUrl}${path}`);
  await page.getByLabel('Username', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`**${path}`);
}

/**
 * Picks `option` in the antd select `select` until `shown()` (by default the select's text) contains
 * it. A click on a dropdown still opening or closing (a loaded machine) can go unnoticed, so the pick
 * is tried again, up to three times. A multiple choice stays open after a pick and is closed with
 * Escape (`close`); a single select closes by itself, and inside a dialog Escape would close the dialog.
 */
export async function pickOption(
  page: Page,
  select: Locator,
  option: string,
  { shown = async () => (await select.textContent()) ?? '', close = false } = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await select.click();
    await page
      .locator('.ant-select-dropdown:visible .ant-select-item-option')
      .filter({ hasText: option })
      .first()
      .click({ timeout: 3_000 })
      .catch(() => undefined);
    if (close) await page.keyboard.press('Escape');
    const picked = await expect
      .poll(shown, { timeout: 3_000, interval: 100 })
      .toContain(option)
      .then(
        () => true,
        () => false,
      );
    if (picked) return;
    if (attempt === 3) throw new Error(`“${option}” was never picked`);
  }
}
