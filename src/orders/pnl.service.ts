import { Injectable } from '@nestjs/common';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import { OrdersRepository } from './orders.repository';
import { PnlFill, PnlReport, realizedPnl } from './realized-pnl';

/** Realised P&L from the recorded fills, per connection or per route: a read of our own rows, no broker call. */
@Injectable()
export class PnlService {
  constructor(
    private readonly db: TenantDb,
    private readonly orders: OrdersRepository,
  ) {}

  async ofConnection(auth: AuthContext, connectionId: string): Promise<PnlReport & { connectionId: string }> {
    return { connectionId, ...(await this.report(auth, { connectionId }, 'Connection')) };
  }

  async ofRoute(auth: AuthContext, routeId: string): Promise<PnlReport & { routeId: string }> {
    return { routeId, ...(await this.report(auth, { routeId }, 'Route')) };
  }

  private async report(auth: AuthContext, scope: { connectionId: string } | { routeId: string }, resource: string): Promise<PnlReport> {
    const fills = await this.db.run(auth.workspaceId, async (tx) => {
      if (!(await this.orders.scopeExists(tx, scope))) throw Problem.notFound(resource);
      return this.orders.fillsOf(tx, scope);
    });
    return realizedPnl(
      fills.map((f): PnlFill => ({
        symbol: f.order.symbol,
        side: f.order.side as PnlFill['side'],
        quantity: f.quantity.toString(),
        price: f.price.toString(),
        fee: f.fee?.toString() ?? null,
      })),
    );
  }
}
