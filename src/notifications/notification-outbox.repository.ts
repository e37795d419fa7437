import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { PG_POOL } from '../database/database.tokens';
import type { MailKind } from './notification-kinds';

/** One recorded event as the triggers wrote it (details: order or breach fields, never a secret). */
export interface PendingNotification {
  id: string;
  kind: MailKind;
  details: Record<string, unknown>;
  createdAt: Date;
}

/** A member's due mail, held under a lease for one attempt. */
export interface TakenMailbox {
  memberId: string;
  email: string;
  workspaceName: string;
  failures: number;
  notifications: PendingNotification[];
}

/** The most events one mail carries; older ones beyond it go in the next mail (a digest interval later). */
const MAX_PER_MAIL = 200;

/** The mail loop's queries: the due scan across workspaces, then each member's mailbox in its workspace (raw pg). */
@Injectable()
export class NotificationOutboxRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Members with mail due, through the SECURITY DEFINER scan. */
  async due(gatherMs: number, digestMs: number, limit: number): Promise<{ workspaceId: string; memberId: string }[]> {
    const { rows } = await this.pool.query<{ workspace_id: string; member_id: string }>(
      'SELECT workspace_id::text AS workspace_id, member_id::text AS member_id FROM notification_mailboxes_due($1, $2, $3)',
      [gatherMs, digestMs, limit],
    );
    return rows.map((r) => ({ workspaceId: r.workspace_id, memberId: r.member_id }));
  }

  /**
   * Locks the member's mailbox and, when her mail is still due, takes her pending notifications for one attempt (the
   * mailbox's next attempt pushed `leaseMs` out, so no other worker sends them meanwhile). A removed member's pending
   * notifications are dropped. Undefined when nothing is to be sent now.
   */
  async take(client: PoolClient, memberId: string, digestMs: number, leaseMs: number): Promise<TakenMailbox | undefined> {
    await client.query({
      name: 'notifications.mailbox_ensure',
      text: 'INSERT INTO notification_mailboxes (member_id, workspace_id) VALUES ($1, app_current_workspace()) ON CONFLICT (member_id) DO NOTHING',
      values: [memberId],
    });
    const { rows } = await client.query<{ email: string; removed: boolean; workspaceName: string; failures: number; due: boolean }>({
      name: 'notifications.mailbox_lock',
      text: `SELECT m.email, m.removed_at IS NOT NULL AS removed, w.name AS "workspaceName", b.failures,
                    (b.next_attempt_at IS NULL OR b.next_attempt_at <= now())
                    AND (b.last_mailed_at IS NULL OR b.last_mailed_at + $2 * interval '1 millisecond' <= now()) AS due
               FROM notification_mailboxes b JOIN members m ON m.id = b.member_id JOIN workspaces w ON w.id = b.workspace_id
              WHERE b.member_id = $1 FOR UPDATE OF b`,
      values: [memberId, digestMs],
    });
    const box = rows[0];
    if (!box?.due) return undefined;
    if (box.removed) {
      await this.drop(client, memberId);
      return undefined;
    }
    const pending = await client.query<PendingNotification>({
      name: 'notifications.pending',
      text: `SELECT id::text AS id, kind, details, created_at AS "createdAt" FROM notifications
              WHERE member_id = $1 AND status = 'pending' ORDER BY seq LIMIT ${MAX_PER_MAIL}`,
      values: [memberId],
    });
    if (pending.rows.length === 0) return undefined;
    await client.query({
      name: 'notifications.mailbox_lease',
      text: `UPDATE notification_mailboxes SET next_attempt_at = clock_timestamp() + $2 * interval '1 millisecond', last_attempt_at = clock_timestamp() WHERE member_id = $1`,
      values: [memberId, leaseMs],
    });
    return { memberId, email: box.email, workspaceName: box.workspaceName, failures: box.failures, notifications: pending.rows };
  }

  /** The mail was accepted by the SMTP server: its notifications are mailed, and the digest interval starts now. */
  async mailed(client: PoolClient, memberId: string, ids: string[], mailId: string): Promise<void> {
    await client.query({
      name: 'notifications.mailed',
      text: `WITH marked AS (
               UPDATE notifications SET status = 'mailed', mailed_at = clock_timestamp(), mail_id = $3 WHERE id = ANY ($2::uuid[]) AND status = 'pending')
             UPDATE notification_mailboxes SET last_mailed_at = clock_timestamp(), next_attempt_at = NULL, failures = 0, last_error = NULL WHERE member_id = $1`,
      values: [memberId, ids, mailId],
    });
  }

  /** The attempt failed: the notifications stay pending, the next attempt waits `retryInMs`. */
  async failed(client: PoolClient, memberId: string, error: string, retryInMs: number): Promise<void> {
    await client.query({
      name: 'notifications.failed',
      text: `UPDATE notification_mailboxes SET failures = failures + 1, last_error = $2, next_attempt_at = clock_timestamp() + $3 * interval '1 millisecond' WHERE member_id = $1`,
      values: [memberId, error.slice(0, 500), retryInMs],
    });
  }

  /** The SMTP server refused the member's address for good (or she left): her pending notifications are dropped, not retried. */
  async drop(client: PoolClient, memberId: string, error?: string): Promise<void> {
    await client.query({
      name: 'notifications.drop',
      text: `WITH dropped AS (UPDATE notifications SET status = 'dropped' WHERE member_id = $1 AND status = 'pending')
             UPDATE notification_mailboxes SET next_attempt_at = NULL, last_error = COALESCE($2, last_error) WHERE member_id = $1`,
      values: [memberId, error?.slice(0, 500) ?? null],
    });
  }
}
