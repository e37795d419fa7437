export const PG_POOL = Symbol('PG_POOL');
export const DB_ROLE = Symbol('DB_ROLE');
