import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Db } from '../src/storage/database.ts';
import { migrateToLatest } from '../src/storage/migrations/index.ts';
import { bootstrapTenancy } from '../src/tenancy/bootstrap.ts';
import { openStoreOf, storeEnvFor } from './backends.ts';
import { tempDir } from './helpers.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/pushboard.js');

let dir: string;
let store: Record<string, string>;
beforeEach(async () => {
  dir = tempDir('pushboard-cli-');
  store = await storeEnvFor(dir);
  // The CLI imports into an existing store: bootstrap it (workspace `default`) as a first start would.
  const db = await openStoreOf(store);
  await migrateToLatest(db);
  await bootstrapTenancy(db, 'x', new Date());
  await db.destroy();
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function pushboard(...args: string[]) {
  return pushboardWith({}, ...args);
}

function pushboardWith(extraEnv: Record<string, string>, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: {
      ...process.env,
      ...store,
      ...extraEnv,
      PUSHBOARD_SEED_DEMO: 'false',
      PUSHBOARD_ADMIN_PASSWORD: 'x',
      LOG_LEVEL: 'silent',
    },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeFile(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

/** Reads the store the CLI wrote, then closes it. */
async function withStore<T>(read: (db: Db) => Promise<T>): Promise<T> {
  const db = await openStoreOf(store);
  try {
    return await read(db);
  } finally {
    await db.destroy();
  }
}

describe('pushboard audiences import', () => {
  test('imports a file into the default workspace, prints the id and size, and exits 0', async () => {
    const file = writeFile('vip.txt', 'oaid-1\n\noaid-2\r\noaid-1\noaid-3\n');
    const run = pushboard('audiences', 'import', 'VIP buyers', file);
    expect(run.code, run.stderr).toBe(0);
    const match = /^Created audience (aud_\w+) "VIP buyers" with 3 device IDs\.$/m.exec(run.stdout);
    expect(match).not.toBeNull();
    // Progress goes to stderr: bytes of the file and IDs read (duplicates included).
    expect(run.stderr).toContain('vip.txt: 30 B of 30 B (100%), 4 IDs read');

    const stored = await withStore(async (db) => ({
      audience: await db.selectFrom('audiences').selectAll().executeTakeFirstOrThrow(),
      members: await db.selectFrom('audience_members').select('device_id').orderBy('device_id').execute(),
    }));
    expect(stored.audience).toMatchObject({
      id: match?.[1],
      workspace_id: 'default',
      name: 'VIP buyers',
      source: 'upload',
      status: 'ready',
      size: 3,
      file_name: 'vip.txt',
    });
    expect(stored.members.map((m) => m.device_id)).toEqual(['oaid-1', 'oaid-2', 'oaid-3']);
  });

  test('--json prints the new audience as JSON', () => {
    const file = writeFile('crm.csv', 'email,deviceId\na@x.io,d-1\nb@x.io,d-2\n');
    const run = pushboard('audiences', 'import', 'CRM', file, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'CRM', size: 2, source: 'upload' });
  });

  test('a file with bad lines exits 1 listing them by line number, and stores nothing', async () => {
    const file = writeFile('bad.txt', 'ok-1\nnot ok\nok-2\n\u0007bell\n');
    const run = pushboard('audiences', 'import', 'Broken', file);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('nothing was imported');
    expect(run.stderr).toContain('line 2: contains whitespace');
    expect(run.stderr).toContain('line 4: contains a control character');
    const count = await withStore(async (db) => ({
      audiences: (await db.selectFrom('audiences').select('id').execute()).length,
      members: (await db.selectFrom('audience_members').select('device_id').execute()).length,
    }));
    expect(count).toEqual({ audiences: 0, members: 0 });
  });

  test('a file that would leave less than PUSHBOARD_MIN_FREE_BYTES free exits 1 and stores nothing', async () => {
    const file = writeFile('ids.txt', 'ok-1\nok-2\n');
    // A minimum no disk has: the disk is "full" for Pushboard.
    const run = pushboardWith(
      { PUSHBOARD_MIN_FREE_BYTES: String(Number.MAX_SAFE_INTEGER) },
      'audiences',
      'import',
      'Full',
      file,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Not enough free disk space');
    const audiences = await withStore((db) => db.selectFrom('audiences').select('id').execute());
    expect(audiences).toEqual([]);
  });

  test('a missing file or an unknown workspace exits 1 with a clear message', () => {
    const missing = pushboard('audiences', 'import', 'Ghost', path.join(dir, 'nope.csv'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such file');

    const file = writeFile('ids.txt', 'a\n');
    const foreign = pushboard('audiences', 'import', 'Elsewhere', file, '--workspace', 'ws_missing');
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain('Workspace ws_missing does not exist');
  });

  test('bad usage exits 2', () => {
    expect(pushboard('audiences', 'import', 'Only a name').code).toBe(2);
    expect(pushboard('audiences', 'import', 'x', writeFile('a.txt', 'a\n'), '--no-such-flag').code).toBe(2);
    expect(pushboard('audiences', 'import', '   ', writeFile('b.txt', 'a\n')).code).toBe(2);
  });
});
