/**
 * Crash safety with a real process: `pushboard serve` is killed with SIGKILL in the middle of a send
 * and started again on the same data folder. The task resumes and completes, no device is handed to
 * the provider twice, and every matched device has exactly one result.
 */
import { once } from 'node:events';
import { afterEach, test } from 'vitest';
import { storeEnvFor } from './backends.ts';
import { tempDir } from './helpers.ts';
import {
  baseUrlOf,
  expectCompletesOnRestart,
  killAll,
  LISTENING,
  sendToDemoAudience,
  spawnServe,
  watchTask,
} from './serve-harness.ts';

const PASSWORD = 'crash-test-password';

afterEach(killAll);

// 40,000 Android and 20,000 iOS demo devices; the task goes to the Android app with the demo audience
// (the iOS IDs are unmatched). The rate limit spreads the send over about two seconds.
const ENV = {
  PUSHBOARD_DEMO_FLEET_SIZE: '40000',
  PUSHBOARD_ADMIN_PASSWORD: PASSWORD,
  PUSHBOARD_DISPATCH_RATE_LIMIT: '20000',
  PUSHBOARD_DISPATCH_BATCH_SIZE: '500',
  // Scaled run: the killed process's jobs go to the restarted one once their 2 s locks expire.
  PUSHBOARD_JOB_LOCK_MS: '2000',
  LOG_LEVEL: 'info',
};

/** Starts `pushboard serve` on `dataDir`'s store and resolves once it listens. */
async function serve(dataDir: string) {
  return spawnServe([], { ...(await storeEnvFor(dataDir)), ...ENV }, LISTENING);
}

test('kill -9 mid-send, then restart: the task completes, nothing handed twice, one result per device', async () => {
  const dir = tempDir();
  const first = await serve(dir);
  const send = await sendToDemoAudience(baseUrlOf(first), PASSWORD, 'Crash test');

  // Kill the server as soon as a part of the audience has been sent.
  await watchTask(
    baseUrlOf(first),
    send.token,
    send.taskId,
    (task) => task.status !== 'scheduled' && Number(task.statistics.totalSent) >= 2000,
  );
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');

  await expectCompletesOnRestart(dir, send, PASSWORD, () => serve(dir));
});
