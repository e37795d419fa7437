import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { APP_CONFIG, AppConfig } from '../config/app-config';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  messageId: string;
}

/**
 * SMTP through nodemailer, from SMTP_URL (smtp:// upgrades with STARTTLS when the server offers it; smtps:// is TLS
 * from the start). Its own logger stays off: the URL holds the SMTP password, and a transcript would show the AUTH.
 */
@Injectable()
export class MailTransport implements OnModuleDestroy {
  private readonly transporter?: Transporter;
  private readonly from?: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const smtp = config.notifications.smtp;
    if (!smtp) return;
    this.from = smtp.from;
    this.transporter = createTransport({
      url: smtp.url,
      connectionTimeout: smtp.timeoutMs,
      greetingTimeout: smtp.timeoutMs,
      socketTimeout: smtp.timeoutMs * 3,
      logger: false,
      debug: false,
    });
  }

  /** False without SMTP_URL: notifications are then recorded and never mailed. */
  get enabled(): boolean {
    return this.transporter !== undefined;
  }

  async send(mail: OutgoingMail): Promise<void> {
    if (!this.transporter) throw new Error('SMTP is not configured');
    await this.transporter.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text, messageId: mail.messageId });
  }

  onModuleDestroy(): void {
    this.transporter?.close();
  }
}

/** What an SMTP failure may tell a log or the mailbox row: nodemailer's code, the server's reply code and the command, never the message (a reply may echo what it was sent). */
export function smtpFailure(err: unknown): { summary: string; permanent: boolean } {
  const e = err as { code?: unknown; responseCode?: unknown; command?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'ERROR';
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const command =
    typeof e.command === 'string'
      ? e.command
          .replace(/[^A-Z ]/g, '')
          .trim()
          .slice(0, 20)
      : '';
  // A recipient refused with a 5xx reply will be refused again: drop rather than retry for ever.
  const permanent = code === 'EENVELOPE' && reply !== undefined && reply >= 500;
  return { summary: [code, reply, command && `(${command})`].filter(Boolean).join(' '), permanent };
}
