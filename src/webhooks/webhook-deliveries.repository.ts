import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { PG_POOL } from '../database/database.tokens';
import type { SealedSecret } from '../kms/envelope';

/** A delivery the worker holds for one attempt, with what it needs to sign and send it. */
export interface TakenDelivery {
  id: string;
  endpointId: string;
  /** The exact bytes that are signed and sent (jsonb's text form). */
  payload: string;
  attempts: number;
  url: string;
  endpointDeleted: boolean;
  /** The endpoint's signing secrets, newest first: the current one and any still in their rotation grace period. */
  secrets: { version: number; sealed: SealedSecret }[];
}

/** One attempt's outcome, as the deliveries API shows it. */
export interface AttemptRecord {
  statusCode: number | null;
  error: string | null;
  /** A short, control-character-free excerpt of the answer's body. */
  responseExcerpt: string | null;
  durationMs: number;
}

export type AttemptVerdict = { kind: 'delivered' } | { kind: 'retry'; inMs: number } | { kind: 'failed' };

/** The delivery loop's queries: the due scan across workspaces, then each delivery in its workspace (raw pg). */
@Injectable()
export class WebhookDeliveriesRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Due deliveries (an order's later event waits for its earlier one), through the SECURITY DEFINER scan. */
  async due(limit: number): Promise<{ id: string; workspaceId: string }[]> {
    const { rows } = await this.pool.query<{ id: string; workspace_id: string }>(
      'SELECT id::text AS id, workspace_id::text AS workspace_id FROM webhook_deliveries_due($1)',
      [limit],
    );
    return rows.map((r) => ({ id: r.id, workspaceId: r.workspace_id }));
  }

  /**
   * Takes the delivery for one attempt (its next attempt pushed `leaseMs` out, so no other worker sends it meanwhile),
   * with its endpoint and the endpoint's sealed secret; undefined when it is no longer due, an earlier event waits or the
   * endpoint was disabled since the due scan.
   */
  async take(client: PoolClient, id: string, leaseMs: number): Promise<TakenDelivery | undefined> {
    const { rows } = await client.query({
      name: 'webhooks.take',
      text: `WITH taken AS (
          UPDATE webhook_deliveries d SET next_attempt_at = clock_timestamp() + $2 * interval '1 millisecond'
           WHERE d.id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id AND p.status = 'pending' AND p.seq < d.seq)
             AND NOT EXISTS (SELECT 1 FROM webhook_endpoints x WHERE x.id = d.endpoint_id AND x.disabled_at IS NOT NULL AND x.deleted_at IS NULL)
          RETURNING d.id, d.endpoint_id, d.payload, d.attempts)
        SELECT t.id, t.endpoint_id AS "endpointId", t.payload::text AS payload, t.attempts, e.url, e.deleted_at IS NOT NULL AS "endpointDeleted"
          FROM taken t JOIN webhook_endpoints e ON e.id = t.endpoint_id`,
      values: [id, leaseMs],
    });
    const row = rows[0];
    if (!row) return undefined;
    const secrets = await client.query({
      name: 'webhooks.signing_secrets',
      text: `SELECT version, format_version AS "formatVersion", algorithm, kms_key_id AS "kmsKeyId", wrapped_key AS "wrappedKey", iv, tag, ciphertext
               FROM webhook_endpoint_secrets WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY version DESC`,
      values: [row.endpointId],
    });
    return {
      id: row.id,
      endpointId: row.endpointId,
      payload: row.payload,
      attempts: row.attempts,
      url: row.url,
      endpointDeleted: row.endpointDeleted,
      secrets: secrets.rows.map(({ version, ...sealed }) => ({ version, sealed: sealed as SealedSecret })),
    };
  }

  /** Records one attempt and where it leaves the delivery. */
  async record(client: PoolClient, id: string, attempt: AttemptRecord, verdict: AttemptVerdict): Promise<void> {
    const status = verdict.kind === 'delivered' ? 'delivered' : verdict.kind === 'failed' ? 'failed' : 'pending';
    await client.query({
      name: 'webhooks.record',
      text: `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, last_attempt_at = clock_timestamp(), last_status_code = $3, last_error = $4,
               attempt_log = attempt_log || jsonb_build_array(jsonb_build_object('at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                 'statusCode', $3::integer, 'error', $4::text, 'responseExcerpt', $5::text, 'durationMs', $6::integer)),
               next_attempt_at = CASE WHEN $2 = 'pending' THEN clock_timestamp() + $7 * interval '1 millisecond' ELSE next_attempt_at END,
               delivered_at = CASE WHEN $2 = 'delivered' THEN clock_timestamp() END
             WHERE id = $1 AND status = 'pending'`,
      values: [id, status, attempt.statusCode, attempt.error, attempt.responseExcerpt, attempt.durationMs, verdict.kind === 'retry' ? verdict.inMs : 0],
    });
  }

  /** The endpoint was deleted: its pending events end failed, unsent. */
  async abandon(client: PoolClient, id: string, reason: string): Promise<void> {
    await client.query({
      name: 'webhooks.abandon',
      text: `UPDATE webhook_deliveries SET status = 'failed', last_error = $2 WHERE id = $1 AND status = 'pending'`,
      values: [id, reason],
    });
  }
}
