export const PG_POOL = Symbol('PG_POOL');
/** A one-connection pool beside PG_POOL, for TenantDb.runRawAside. */
export const PG_ASIDE_POOL = Symbol('PG_ASIDE_POOL');
/**
 * The order-lifecycle pool beside PG_POOL, for order sync and the order streams (TenantDb.runRawLifecycle): routing
 * jobs stalled in the database can hold every PG_POOL connection, and fills must still be read and written then.
 */
export const PG_LIFECYCLE_POOL = Symbol('PG_LIFECYCLE_POOL');
export const DB_ROLE = Symbol('DB_ROLE');
