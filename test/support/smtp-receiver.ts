import { simpleParser } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** Envelope recipients (RCPT TO). */
  to: string[];
  from: string;
  subject: string;
  text: string;
  messageId: string;
  /** The message as it crossed the wire (headers and encoded body), for canary scans. */
  raw: string;
}

/**
 * A real SMTP server (the `smtp-server` package) on 127.0.0.1: AUTH PLAIN/LOGIN required and checked against one
 * user and password (535 otherwise), like a relay; each accepted message is parsed with mailparser. `stop()` and
 * `start()` again reuse the port, so a test can take the server down and bring it back under the same SMTP_URL.
 */
export class SmtpReceiver {
  readonly mails: ReceivedMail[] = [];
  /** Recipients refused at RCPT TO with a permanent 550. */
  readonly refused = new Set<string>();
  authFailures = 0;
  private server?: SMTPServer;
  private port = 0;

  private constructor(
    readonly user: string,
    readonly password: string,
  ) {}

  static async start(user: string, password: string): Promise<SmtpReceiver> {
    const receiver = new SmtpReceiver(user, password);
    await receiver.start();
    return receiver;
  }

  /** The SMTP_URL a client uses to reach it. */
  get url(): string {
    return `smtp://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.user && auth.password === this.password) return callback(null, { user: auth.username });
        this.authFailures++;
        const err = Object.assign(new Error('Invalid username or password'), { responseCode: 535 });
        callback(err);
      },
      onMailFrom: (_address, session, callback) => callback(session.user ? null : Object.assign(new Error('Authentication required'), { responseCode: 530 })),
      onRcptTo: (address, _session, callback) =>
        callback(this.refused.has(address.address) ? Object.assign(new Error('No such mailbox'), { responseCode: 550 }) : null),
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          simpleParser(raw)
            .then((parsed) => {
              this.mails.push({
                to: session.envelope.rcptTo.map((r) => r.address),
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                subject: parsed.subject ?? '',
                text: parsed.text ?? '',
                messageId: parsed.messageId ?? '',
                raw,
              });
              callback();
            })
            .catch((err: Error) => callback(err));
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Mail sent to `address`, in arrival order. */
  to(address: string): ReceivedMail[] {
    return this.mails.filter((m) => m.to.includes(address));
  }

  /** Waits (polling, bounded) until `address` has `count` mails. */
  async waitFor(address: string, count: number, timeoutMs = 15_000): Promise<ReceivedMail[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.to(address).length < count) {
      if (Date.now() > deadline)
        throw new Error(`${address} got ${this.to(address).length} mails, not ${count}: ${JSON.stringify(this.to(address).map((m) => m.subject))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.to(address);
  }
}
