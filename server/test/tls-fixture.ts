/**
 * A self-signed TLS certificate for loopback, made with `openssl` for the local fakes of TLS services
 * (FCM, APNs). The server under test trusts it the way a deployment trusts any extra CA: a child
 * process through `NODE_EXTRA_CA_CERTS=<certPath>`, an in-process provider through its `ca` test
 * option. TLS verification itself is never switched off.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A certificate for `127.0.0.1` and `localhost`, with its key, and where its PEM file lies. */
export interface TestCertificate {
  key: string;
  cert: string;
  /** The certificate's PEM file, for `NODE_EXTRA_CA_CERTS`. */
  certPath: string;
  /** Removes the files. */
  remove(): void;
}

/** Makes a fresh certificate (valid for a day) in its own temporary folder. */
export function createTestCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushboard-tls-'));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  return {
    key: readFileSync(keyPath, 'utf8'),
    cert: readFileSync(certPath, 'utf8'),
    certPath,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
