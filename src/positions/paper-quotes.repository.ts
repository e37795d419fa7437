import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';

@Injectable()
export class PaperQuotesRepository {
  async connection(client: PoolClient, id: string): Promise<{ broker: string; status: string } | undefined> {
    const { rows } = await client.query<{ broker: string; status: string }>('SELECT broker, status FROM broker_connections WHERE id = $1', [id]);
    return rows[0];
  }

  /** One row per price, stamped in the order given (clock_timestamp advances between rows). */
  async insert(client: PoolClient, workspaceId: string, connectionId: string, quotes: { symbol: string; price: string }[]): Promise<void> {
    for (const q of quotes) {
      await client.query('INSERT INTO paper_quotes (workspace_id, connection_id, symbol, price) VALUES ($1, $2, $3, $4)', [
        workspaceId,
        connectionId,
        q.symbol,
        q.price,
      ]);
    }
  }
}
