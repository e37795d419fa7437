import { Client } from 'pg';

/**
 * A pg client that sends every statement unnamed, for a pooler that cannot keep prepared statements
 * across transactions (PgBouncer before 1.21 in transaction mode, or without max_prepared_statements):
 * the repositories name their hot-path statements, this drops the names (DATABASE_PREPARED_STATEMENTS=false).
 */
export class UnnamedStatementsClient extends Client {
  // Typed `never` so it stands in for every overload of Client.query; the arguments pass through as given.
  override query(...args: unknown[]): never {
    const [config] = args;
    if (config !== null && typeof config === 'object' && 'name' in config && 'text' in config) {
      const { name: _name, ...unnamed } = config as { name?: string };
      args[0] = unnamed;
    }
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}
