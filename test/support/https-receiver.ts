import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { IncomingHttpHeaders } from 'node:http';
import { createServer, Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';

/** A self-signed certificate made for this test run; `caFile` is what OUTBOUND_CA_FILE points at. */
export interface TestCertificate {
  key: string;
  cert: string;
  caFile: string;
}

/** Generates a fresh self-signed certificate (openssl) for the given DNS names and 127.0.0.1. */
export function selfSignedCertificate(dnsNames: string[] = ['hooks.test', 'localhost']): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const san = [...dnsNames.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=switchyard-test-receiver',
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), caFile: certFile };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
  /** Standard Webhooks verification of the request with `secret` (when one was set): the parsed payload, or the error. */
  verified?: { ok: true; payload: any } | { ok: false; error: string };
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string | Buffer };

/**
 * An HTTPS receiver on 127.0.0.1 with a self-signed certificate. With `secret` set it verifies every request
 * as a real Standard Webhooks receiver does (the standardwebhooks package: id, timestamp within 5 minutes, v1 HMAC).
 */
export class HttpsReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** How the next requests are answered; default 200. */
  answer: (req: ReceivedRequest) => Answer | 'hang' = () => ({ status: 200, body: 'ok' });
  secret?: string;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(certificate: TestCertificate): Promise<HttpsReceiver> {
    let receiver!: HttpsReceiver;
    const server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const record: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          status: 0,
        };
        if (receiver.secret) {
          try {
            record.verified = { ok: true, payload: new Webhook(receiver.secret).verify(record.body, req.headers as Record<string, string>) };
          } catch (err) {
            record.verified = { ok: false, error: (err as Error).message };
          }
        }
        const answer = receiver.answer(record);
        receiver.requests.push(record);
        receiver.waiters.splice(0).forEach((w) => w());
        if (answer === 'hang') return; // never answers: the caller's timeout must end it
        record.status = answer.status;
        res.writeHead(answer.status, answer.headers ?? { 'content-type': 'text/plain' });
        res.end(answer.body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new HttpsReceiver(server, (server.address() as AddressInfo).port);
    return receiver;
  }

  url(host = '127.0.0.1', path = '/hooks'): string {
    return `https://${host}:${this.port}${path}`;
  }

  /** Resolves once `count` requests arrived; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 15_000): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.requests.length} of ${count} requests`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.requests.slice(0, count);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Writes a PEM to a temporary file (a CA bundle with another certificate, for a negative test). */
export function pemFile(pem: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'switchyard-ca-')), 'ca.pem');
  writeFileSync(file, pem);
  return file;
}
