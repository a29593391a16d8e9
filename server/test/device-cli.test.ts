import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createAppStore, newAppRow } from '../src/apps/app-store.ts';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/storage/open-store.ts';
import { bootstrapTenancy } from '../src/tenancy/bootstrap.ts';
import { storeEnvFor } from './backends.ts';
import { ADMIN_PASSWORD, tempDir } from './helpers.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/pushboard.js');

let dir: string;
let env: NodeJS.ProcessEnv;
let appId: string;

beforeEach(async () => {
  dir = tempDir('pushboard-cli-');
  env = {
    ...process.env,
    ...(await storeEnvFor(dir)),
    PUSHBOARD_SEED_DEMO: 'false',
    PUSHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
  };
  // The CLI imports into an existing app: migrate, bootstrap and create one, as a first start would.
  const db = await openStore(loadConfig({}, env));
  await bootstrapTenancy(db, ADMIN_PASSWORD, new Date());
  const app = newAppRow({
    workspaceId: 'default',
    name: 'CLI app',
    platform: 'android',
    provider: 'simulator',
    providerConfig: {},
    now: new Date(),
  });
  await createAppStore(db).insertApp(app);
  appId = app.id;
  await db.destroy();
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `pushboard …` as a child process; answers its exit code and output. */
function pushboard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function writeFile(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

async function storedDevices() {
  const db = await openStore(loadConfig({}, env));
  try {
    return await db
      .selectFrom('devices')
      .select(['device_id', 'push_token', 'channel'])
      .orderBy('device_id')
      .execute();
  } finally {
    await db.destroy();
  }
}

describe('pushboard devices import', () => {
  test('a valid file is imported, exits 0 and prints a summary', async () => {
    const lines = ['deviceId,pushToken,channel'];
    for (let i = 0; i < 2000; i++) lines.push(`oaid-${i},token-${i},${i % 2 ? 'huawei' : 'xiaomi'}`);
    const file = writeFile('devices.csv', `${lines.join('\n')}\n`);
    const { code, stdout, stderr } = await pushboard('devices', 'import', appId, file);
    expect(stderr).not.toContain('pushboard:');
    expect(code).toBe(0);
    expect(stdout).toContain('Imported 2,000 lines');
    expect(stdout).toContain('2,000 new devices, 0 updated');
    const devices = await storedDevices();
    expect(devices).toHaveLength(2000);
    expect(devices[0]).toEqual({ device_id: 'oaid-0', push_token: 'token-0', channel: 'xiaomi' });
  });

  test('a file with bad lines exits 1, lists them by line number and imports nothing', async () => {
    const file = writeFile('bad.csv', 'ok-1,t1\nbad id,t2\nok-2,t3\nno-token\n');
    const { code, stderr } = await pushboard('devices', 'import', appId, file, '--workspace', 'default');
    expect(code).toBe(1);
    expect(stderr).toContain('nothing was imported');
    expect(stderr).toContain('line 2: deviceId');
    expect(stderr).toContain('line 4: has 1 column(s)');
    expect(await storedDevices()).toEqual([]);
  });

  test('a file that would leave less than PUSHBOARD_MIN_FREE_BYTES free exits 1 and imports nothing', async () => {
    const file = writeFile('devices.csv', 'ok-1,t1\nok-2,t2\n');
    // A minimum no disk has: the disk is "full" for Pushboard.
    env.PUSHBOARD_MIN_FREE_BYTES = String(Number.MAX_SAFE_INTEGER);
    const { code, stderr } = await pushboard('devices', 'import', appId, file);
    expect(code).toBe(1);
    expect(stderr).toContain('Not enough free disk space');
    delete env.PUSHBOARD_MIN_FREE_BYTES;
    expect(await storedDevices()).toEqual([]);
  });

  test('an unknown app exits 1 naming the app and workspace', async () => {
    const file = writeFile('devices.csv', 'd,t\n');
    const { code, stderr } = await pushboard('devices', 'import', 'app_nope', file, '--workspace', 'other');
    expect(code).toBe(1);
    expect(stderr).toContain('App app_nope does not exist in workspace other');
  });

  test('a missing file or a missing argument is bad usage: exit 2', async () => {
    const missing = await pushboard('devices', 'import', appId, path.join(dir, 'nope.csv'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.csv: there is no such file');
    const noFile = await pushboard('devices', 'import', appId);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain("missing required argument 'file'");
  });
});
