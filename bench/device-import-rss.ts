/**
 * Measures a device CSV import over real HTTP: generates a CSV (1,000,000 lines by default), starts
 * the real server as a child process on a fresh data folder, streams the file to
 * `POST …/apps/{appId}/devices/import` as a `text/csv` body, samples the server's resident memory
 * (VmRSS) every 100 ms, and prints throughput, duration and peak RSS, then the latency of a few
 * device listings over the imported app. Linux only (reads /proc).
 *
 *   npx tsx bench/device-import-rss.ts [--lines 1000000]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'server/bin/pushboard.js');
const ADMIN_PASSWORD = 'bench-admin-password';
// Sampling period of the server's RSS, in milliseconds.
const SAMPLE_MS = 100;
const CHANNELS = ['umeng', 'huawei', 'xiaomi', 'oppo', 'vivo', 'honor'];

const lineCount = Number(argument('--lines') ?? 1_000_000);

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

/** Writes `lines` devices with OAID-like IDs in random order and 44-character tokens. */
async function writeCsv(file: string, lines: number): Promise<number> {
  const out = fs.createWriteStream(file);
  out.write('deviceId,pushToken,channel\n');
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    const hash = createHash('sha256').update(String(i)).digest();
    const hex = hash.toString('hex');
    const oaid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
    chunk += `${oaid},A${hash.toString('base64url')},${CHANNELS[(hash[0] as number) % CHANNELS.length]}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return fs.statSync(file).size;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kilobytes ?? 0) * 1024;
}

interface Answer {
  status: number;
  body: string;
}

/** One HTTP request; `body` is a string, or a file streamed as the request body. */
function request(
  port: number,
  method: string,
  urlPath: string,
  options: { token?: string; json?: unknown; file?: string; contentType?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined;
    if (options.json !== undefined) {
      payload = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (options.file) {
      headers['content-type'] = options.contentType ?? 'text/csv';
      headers['content-length'] = fs.statSync(options.file).size;
    }
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        body += text;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    if (options.file) fs.createReadStream(options.file).pipe(req);
    else req.end(payload);
  });
}

async function waitForHealth(port: number, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
    try {
      if ((await request(port, 'GET', '/api/v1/health')).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server did not answer /api/v1/health within 60 s');
}

function expectStatus(answer: Answer, status: number, what: string): unknown {
  if (answer.status !== status)
    throw new Error(`${what}: HTTP ${answer.status} ${answer.body.slice(0, 500)}`);
  return JSON.parse(answer.body);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
// RSS in both units, so that "300 MB" can be read either way.
const memory = (bytes: number) => `${mib(bytes)} (${(bytes / 1e6).toFixed(0)} MB)`;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushboard-bench-'));
  const csv = path.join(dir, 'devices.csv');
  let server: ChildProcess | undefined;
  try {
    process.stderr.write(`generating ${lineCount.toLocaleString('en')} lines… `);
    const size = await writeCsv(csv, lineCount);
    process.stderr.write(`${mib(size)}\n`);

    const port = await freePort();
    server = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        PUSHBOARD_DATA_DIR: path.join(dir, 'data'),
        PORT: String(port),
        HOST: '127.0.0.1',
        PUSHBOARD_SEED_DEMO: 'false',
        PUSHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await waitForHealth(port, server);
    const pid = server.pid as number;

    const { token } = expectStatus(
      await request(port, 'POST', '/api/v1/auth/login', {
        json: { username: 'admin', password: ADMIN_PASSWORD },
      }),
      200,
      'login',
    ) as { token: string };
    const { id: appId } = expectStatus(
      await request(port, 'POST', '/api/v1/workspaces/default/apps', {
        token,
        json: {
          name: 'Bench (Android)',
          platform: 'android',
          provider: 'umeng',
          providerConfig: { appKey: 'k', appMasterSecret: 's' },
        },
      }),
      201,
      'create app',
    ) as { id: string };

    const idleRss = rssBytes(pid);
    let peakRss = idleRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssBytes(pid));
    }, SAMPLE_MS);
    const started = performance.now();
    const answer = await request(port, 'POST', `/api/v1/workspaces/default/apps/${appId}/devices/import`, {
      token,
      file: csv,
    });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssBytes(pid));
    const result = expectStatus(answer, 200, 'import') as {
      lines: number;
      inserted: number;
      updated: number;
    };

    // Listings over the imported app: the first page of each order and filter, timed over real HTTP.
    const listings: [string, number][] = [];
    for (const query of ['', '?sort=deviceId', '?channel=huawei', '?q=ab', '?page=1000']) {
      const t0 = performance.now();
      expectStatus(
        await request(port, 'GET', `/api/v1/workspaces/default/apps/${appId}/devices${query}`, { token }),
        200,
        `list ${query}`,
      );
      listings.push([query || '(newest first)', performance.now() - t0]);
    }

    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    console.log(`device CSV import over HTTP — ${new Date().toISOString()}`);
    console.log(
      `machine      ${cpu}, ${os.cpus().length} CPUs, ${mib(os.totalmem())} RAM, Node ${process.version}`,
    );
    console.log(`file         ${lineCount.toLocaleString('en')} lines, ${mib(size)}`);
    console.log(`result       ${JSON.stringify(result)}`);
    console.log(`duration     ${seconds.toFixed(1)} s`);
    console.log(`throughput   ${Math.round(lineCount / seconds).toLocaleString('en')} lines/s`);
    console.log(`server RSS   idle ${memory(idleRss)}, peak ${memory(peakRss)}; target: peak under 300 MB`);
    for (const [query, ms] of listings) console.log(`list         ${query.padEnd(16)} ${ms.toFixed(0)} ms`);
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
