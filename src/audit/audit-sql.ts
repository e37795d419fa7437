import type { PoolClient } from 'pg';
import type { TenantTx } from '../database/tenant-db';

/**
 * One statement runner over the caller's transaction, Prisma or raw pg, so the audit and alert
 * writes that join a caller's transaction are written once. Return only text, booleans and
 * integers that fit in int4: the two drivers decode other types differently.
 */
export interface SqlTx {
  /** `name`: a hot-path statement raw pg prepares once per connection. */
  query<R extends object>(text: string, values: unknown[], name?: string): Promise<R[]>;
}

export function prismaSql(tx: TenantTx): SqlTx {
  return { query: <R extends object>(text: string, values: unknown[]) => tx.$queryRawUnsafe<R[]>(text, ...values) };
}

export function pgSql(client: PoolClient): SqlTx {
  return { query: async <R extends object>(text: string, values: unknown[], name?: string) => (await client.query<R>({ name, text, values })).rows };
}
