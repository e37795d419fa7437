export const PG_POOL = Symbol('PG_POOL');
/** A one-connection pool beside PG_POOL, for TenantDb.runRawAside. */
export const PG_ASIDE_POOL = Symbol('PG_ASIDE_POOL');
export const DB_ROLE = Symbol('DB_ROLE');
