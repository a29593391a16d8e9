/**
 * What `pushboard serve` runs, loads and prints when it starts: the JavaScript build (never the
 * TypeScript loader, unless the build is out of date — then it says so), none of the scaled mode's
 * modules in the embedded mode, and on a terminal one plain line saying where to open the console
 * (JSON log lines otherwise, or when PUSHBOARD_LOG_FORMAT says so).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { SCALED, storeEnvFor } from './backends.ts';
import { tempDir } from './helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'server/bin/pushboard.js');
const RECORD_IMPORTS = path.join(import.meta.dirname, 'fixtures/record-imports.mjs');
const children: ChildProcess[] = [];

afterEach(() => {
  // `script` runs the server in a process group of its own (detached): end the whole group.
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
  }
});

/**
 * Runs `command` (detached, in its own process group) until its output holds every one of `until`;
 * answers that output. The environment is the test store's, with no demo data.
 */
async function runUntil(command: string, args: string[], env: Record<string, string>, until: string[]) {
  const store = await storeEnvFor(tempDir());
  const child = spawn(command, args, {
    env: {
      ...process.env,
      ...store,
      PUSHBOARD_SEED_DEMO: '0',
      PUSHBOARD_ADMIN_PASSWORD: 'startup-test-pw',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let out = '';
  return new Promise<string>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
      if (until.every((text) => out.includes(text))) resolve(out);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ${until}: ${out}`)));
  });
}

/** `pushboard serve` on a pseudo-terminal (util-linux `script`), as a person starts it. */
function serveOnTerminal(env: Record<string, string> = {}) {
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} serve --port 0 --host 127.0.0.1`;
  // The plain line and pino's (from its transport thread) may come in either order.
  return runUntil('script', ['-qec', command, '/dev/null'], env, [
    'Server listening at',
    'Pushboard is running',
  ]);
}

const STORE = SCALED ? 'PostgreSQL postgres://' : 'SQLite /';

test('on a terminal, the start says in one plain line where to open the console, and the log is readable', async () => {
  const out = await serveOnTerminal();
  const line = out.split(/\r?\n/).find((l) => l.startsWith('Pushboard is running:'));
  expect(line).toMatch(/^Pushboard is running: open http:\/\/127\.0\.0\.1:\d+ \(workspace default\) — /);
  expect(line).toContain(STORE);
  // pino-pretty's lines, not JSON.
  expect(out).toMatch(/INFO.*Server listening at http:\/\/127\.0\.0\.1:\d+/);
  expect(out).not.toContain('{"level"');
});

test('PUSHBOARD_LOG_FORMAT=json keeps JSON lines on a terminal, with the same facts as fields', async () => {
  const out = await serveOnTerminal({ PUSHBOARD_LOG_FORMAT: 'json' });
  const running = out
    .split(/\r?\n/)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; url?: string; workspace?: string; store?: string })
    .find((entry) => entry.msg === 'Pushboard is running');
  expect(running?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(running?.workspace).toBe('default');
  expect(running?.store).toContain(STORE);
  expect(out).not.toContain('Pushboard is running: open');
});

test('a bad PUSHBOARD_LOG_FORMAT stops the server with a message naming the variable', async () => {
  const result = spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: { ...process.env, PUSHBOARD_DATA_DIR: tempDir(), PUSHBOARD_LOG_FORMAT: 'colourful' },
    encoding: 'utf8',
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('PUSHBOARD_LOG_FORMAT must be auto, json or pretty, got "colourful"');
});

test('serve runs the build, not the TypeScript loader, and the embedded mode loads neither BullMQ, ioredis nor pg', async () => {
  const log = path.join(tempDir(), 'imports.log');
  await runUntil(
    process.execPath,
    ['--import', RECORD_IMPORTS, BIN, 'serve', '--port', '0', '--host', '127.0.0.1'],
    { PUSHBOARD_TEST_IMPORT_LOG: log, LOG_LEVEL: 'info' },
    ['Pushboard is running'],
  );
  const imported = fs.readFileSync(log, 'utf8').split('\n');
  expect(imported).toContain(`file://${path.join(ROOT, 'server/dist/cli.js')}`);
  expect(
    imported.filter((url) => url.includes('/server/src/') || url.includes('/node_modules/tsx/')),
  ).toEqual([]);
  const scaledModules = imported.filter((url) =>
    /\/node_modules\/(bullmq|ioredis|pg|pg-[a-z-]+)\//.test(url),
  );
  if (SCALED) {
    // The same record shows them when they are loaded: the check can see what it looks for.
    expect(scaledModules.some((url) => url.includes('/node_modules/bullmq/'))).toBe(true);
    expect(scaledModules.some((url) => url.includes('/node_modules/pg/'))).toBe(true);
  } else {
    expect(scaledModules).toEqual([]);
  }
});

test('a build older than the sources is not run: the command says so and runs the sources', async () => {
  // A copy of the server beside the repository's node_modules, so that its sources can be edited.
  const copy = tempDir();
  for (const folder of ['bin', 'build', 'src', 'dist']) {
    fs.cpSync(path.join(ROOT, 'server', folder), path.join(copy, 'server', folder), { recursive: true });
  }
  fs.cpSync(path.join(ROOT, 'server/package.json'), path.join(copy, 'server/package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const migrate = () =>
    spawnSync(process.execPath, [path.join(copy, 'server/bin/pushboard.js'), 'migrate'], {
      env: { ...process.env, PUSHBOARD_DATA_DIR: tempDir() },
      encoding: 'utf8',
    });

  const current = migrate();
  expect(current.stderr).toBe('');
  expect(current.stdout).toBe('schema is up to date\n');

  fs.appendFileSync(path.join(copy, 'server/src/ids.ts'), '// an edit after the build\n');
  const edited = migrate();
  expect(edited.stderr).toContain(
    'pushboard: server/dist was built from other sources than those in server/src; running the TypeScript sources through tsx',
  );
  expect(edited.stdout).toBe('schema is up to date\n');

  fs.rmSync(path.join(copy, 'server/dist/build-stamp.json'));
  expect(migrate().stderr).toContain('pushboard: server/dist is missing (or its build did not finish)');
});
