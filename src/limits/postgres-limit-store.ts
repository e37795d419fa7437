import type { Pool } from 'pg';
import type { LimitCounter, LimitStore } from './limit-store';

// The database clock decides expiry, so replicas with skewed clocks agree.
const TTL_MS = `GREATEST(0, ceil(extract(epoch FROM (expires_at - now())) * 1000))::bigint`;

/** Counters in the platform table limit_counters (no tenant rows, no RLS); one statement per call. */
export class PostgresLimitStore implements LimitStore {
  constructor(private readonly pool: Pool) {}

  async add(key: string, by: number, windowMs: number): Promise<LimitCounter> {
    const { rows } = await this.pool.query<{ count: number; ttl_ms: string }>(
      `INSERT INTO limit_counters AS c (key, count, expires_at) VALUES ($1, GREATEST($2::int, 0), now() + $3::int * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN c.expires_at <= now() THEN EXCLUDED.count ELSE GREATEST(c.count + $2::int, 0) END,
         expires_at = CASE WHEN c.expires_at <= now() THEN EXCLUDED.expires_at ELSE c.expires_at END
       RETURNING count, ${TTL_MS} AS ttl_ms`,
      [key, by, windowMs],
    );
    return { count: rows[0].count, ttlMs: Number(rows[0].ttl_ms) };
  }

  async peek(key: string): Promise<LimitCounter> {
    const { rows } = await this.pool.query<{ count: number; ttl_ms: string }>(
      `SELECT count, ${TTL_MS} AS ttl_ms FROM limit_counters WHERE key = $1 AND expires_at > now()`,
      [key],
    );
    return rows[0] ? { count: rows[0].count, ttlMs: Number(rows[0].ttl_ms) } : { count: 0, ttlMs: 0 };
  }

  async hold(key: string, ttlMs: number): Promise<void> {
    await this.pool.query(`UPDATE limit_counters SET expires_at = now() + $2::int * interval '1 millisecond' WHERE key = $1 AND expires_at > now()`, [
      key,
      ttlMs,
    ]);
  }

  async delete(...keys: string[]): Promise<void> {
    await this.pool.query('DELETE FROM limit_counters WHERE key = ANY($1::text[])', [keys]);
  }

  /** Expired rows of keys never seen again (one-off IPs): removed in batches by LimitStoreSweep. */
  async sweep(batch: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM limit_counters WHERE key IN (SELECT key FROM limit_counters WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [batch],
    );
    return rowCount ?? 0;
  }
}
