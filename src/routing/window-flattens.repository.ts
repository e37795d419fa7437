import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { TradingWindow } from '../common/trading-windows';

/** A route with a window that flattens at its end: its own windows and its workspace's, each checked as one list. */
export interface WindowFlattenRoute {
  workspaceId: string;
  routeId: string;
  connectionId: string;
  routeWindows: TradingWindow[] | null;
  workspaceWindows: TradingWindow[] | null;
}

/** The window flattener's queries (worker). */
@Injectable()
export class WindowFlattensRepository {
  /** Across workspaces, through the SECURITY DEFINER scan `window_flatten_routes` only. */
  async routes(pool: Pool): Promise<WindowFlattenRoute[]> {
    const { rows } = await pool.query<WindowFlattenRoute>(
      `SELECT workspace_id::text AS "workspaceId", route_id::text AS "routeId", connection_id::text AS "connectionId",
              route_windows AS "routeWindows", workspace_windows AS "workspaceWindows" FROM window_flatten_routes()`,
    );
    return rows;
  }

  /** Claims the route's window end (false: another look claimed it already); the flatten id, if one is made, is set with it. */
  async claim(client: PoolClient, workspaceId: string, routeId: string, windowEnd: Date, flattenId: string | null): Promise<boolean> {
    const { rowCount } = await client.query(
      `INSERT INTO window_flattens (workspace_id, route_id, window_end, flatten_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [workspaceId, routeId, windowEnd, flattenId],
    );
    return rowCount === 1;
  }

  /** The symbols the route's orders filled on its connection (what its flatten closes), if the connection is active. */
  async routeSymbols(client: PoolClient, routeId: string, connectionId: string): Promise<string[] | undefined> {
    const { rows } = await client.query<{ active: boolean; symbols: string[] }>(
      `SELECT c.status = 'active' AS active,
              ARRAY(SELECT DISTINCT o.symbol FROM orders o
                     WHERE o.route_id = $1 AND o.connection_id = $2 AND o.filled_quantity > 0 ORDER BY o.symbol) AS symbols
         FROM broker_connections c WHERE c.id = $2`,
      [routeId, connectionId],
    );
    return rows[0]?.active ? rows[0].symbols : undefined;
  }
}
