/**
 * Stopping (docs/operations.md#stopping): a real `pushboard serve` sent SIGTERM in the middle of a large send exits
 * within 10 s with code 0, and a restart over the same store completes the task with every device
 * sent exactly once; a second SIGTERM ends the process at once and loses nothing either; and a
 * SIGTERM sent to a parent process (`npm start`) reaches the server.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterEach, expect, onTestFinished, test } from 'vitest';
import { storeEnvFor } from './backends.ts';
import { tempDir } from './helpers.ts';
import {
  baseUrlOf,
  expectCompletesOnRestart,
  killAll,
  LISTENING,
  type ServeProcess,
  sendToDemoAudience,
  spawnServe,
  watchTask,
} from './serve-harness.ts';

const PASSWORD = 'shutdown-test-password';

afterEach(killAll);

// 40,000 Android and 20,000 iOS demo devices, sent through the Android app at 10,000 a second: the
// send lasts about four seconds, so the signal lands in the middle of it.
const ENV = {
  PUSHBOARD_DEMO_FLEET_SIZE: '40000',
  PUSHBOARD_ADMIN_PASSWORD: PASSWORD,
  PUSHBOARD_DISPATCH_RATE_LIMIT: '10000',
  PUSHBOARD_DISPATCH_BATCH_SIZE: '500',
  // Scaled run: jobs a stopped process held go to the restarted one once their 2 s locks expire.
  PUSHBOARD_JOB_LOCK_MS: '2000',
  LOG_LEVEL: 'info',
};

/** The bound docs/operations.md#stopping sets on stopping. */
const EXIT_BOUND_MS = 10_000;

async function serve(dataDir: string): Promise<ServeProcess> {
  return spawnServe([], { ...(await storeEnvFor(dataDir)), ...ENV }, LISTENING);
}

/** Milliseconds from now until `child` exits, and its exit code. */
async function exitOf(server: ServeProcess): Promise<{ ms: number; code: number | null }> {
  const started = Date.now();
  const [code] = (await once(server.child, 'exit')) as [number | null];
  return { ms: Date.now() - started, code };
}

/** Starts a send of the demo audience and resolves once part of it has been handed over. */
async function sendUnderWay(server: ServeProcess) {
  const send = await sendToDemoAudience(baseUrlOf(server), PASSWORD, 'Shutdown test');
  await watchTask(
    baseUrlOf(server),
    send.token,
    send.taskId,
    (task) => task.status !== 'scheduled' && Number(task.statistics.totalSent) >= 2000,
  );
  return send;
}

test('SIGTERM mid-send exits within 10 s with code 0, and a restart sends every device exactly once', async () => {
  const dir = tempDir();
  const first = await serve(dir);
  const send = await sendUnderWay(first);
  const exited = exitOf(first);
  first.child.kill('SIGTERM');
  const { ms, code } = await exited;
  console.info(`SIGTERM under load: exited after ${ms} ms with code ${code}`);
  expect(code).toBe(0);
  expect(ms).toBeLessThan(EXIT_BOUND_MS);
  await expectCompletesOnRestart(dir, send, PASSWORD, () => serve(dir));
});

test('a second SIGTERM ends the process at once and loses nothing', async () => {
  const dir = tempDir();
  const first = await serve(dir);
  const send = await sendUnderWay(first);
  const exited = exitOf(first);
  first.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 50));
  first.child.kill('SIGTERM');
  const { ms } = await exited;
  console.info(`second SIGTERM: exited after ${ms} ms`);
  expect(ms).toBeLessThan(2000);
  await expectCompletesOnRestart(dir, send, PASSWORD, () => serve(dir));
});

test('a SIGTERM to `npm start` reaches the server, which exits', async () => {
  const dir = tempDir();
  const root = path.resolve(import.meta.dirname, '../..');
  const npm = spawn('npm', ['start', '--', '--port', '0', '--host', '127.0.0.1'], {
    cwd: root,
    env: { ...process.env, ...(await storeEnvFor(dir)), ...ENV, PUSHBOARD_SEED_DEMO: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that whatever it started can be killed by the group's ID afterwards.
    detached: true,
  });
  onTestFinished(() => {
    try {
      process.kill(-(npm.pid as number), 'SIGKILL');
    } catch {
      // The whole group has exited.
    }
  });
  let out = '';
  npm.stdout.on('data', (chunk) => {
    out += chunk;
  });
  npm.stderr.on('data', (chunk) => {
    out += chunk;
  });
  for (let i = 0; i < 600 && !LISTENING.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const base = LISTENING.exec(out)?.[1];
  expect(base, out).toBeDefined();
  const started = Date.now();
  npm.kill('SIGTERM');
  await once(npm, 'exit');
  // The server itself must be gone, not only npm: its port no longer answers.
  let gone = false;
  while (!gone && Date.now() - started < EXIT_BOUND_MS) {
    gone = await fetch(`${base}/api/v1/health`).then(
      () => false,
      () => true,
    );
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  console.info(`SIGTERM to npm start: server gone after ${Date.now() - started} ms: ${gone}`);
  expect(gone).toBe(true);
});
