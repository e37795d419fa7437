import { Injectable } from '@nestjs/common';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../workspaces/auth/auth-context';
import type { SignalListQuery } from './dto/signal.dto';
import { OrdersService, OrderView } from '../routing/api/orders.service';
import { SignalRecord, SignalsRepository } from './signals.repository';

export interface SignalView {
  id: string;
  sourceId: string;
  /** Arrival order (a 64-bit integer, as a string). */
  seq: string;
  status: string;
  payload: unknown;
  error: string | null;
  receivedAt: string;
  enqueuedAt: string | null;
  routingStartedAt: string | null;
  completedAt: string | null;
}

/** Read side of signals: status, timings and the orders each produced. Raw bodies are never served. */
@Injectable()
export class SignalsService {
  constructor(
    private readonly db: TenantDb,
    private readonly signals: SignalsRepository,
    private readonly orders: OrdersService,
  ) {}

  async list(auth: AuthContext, query: SignalListQuery): Promise<{ signals: SignalView[]; nextCursor: string | null }> {
    const rows = await this.db.run(auth.workspaceId, async (tx) => {
      const last = query.cursor ? await this.signals.find(tx, query.cursor) : undefined;
      if (query.cursor && !last) throw Problem.unprocessable('invalid_cursor', 'The cursor names no signal of this workspace.');
      return this.signals.list(tx, { sourceId: query.sourceId, status: query.status, before: last ?? undefined, limit: query.limit });
    });
    return { signals: rows.map(toView), nextCursor: rows.length === query.limit ? rows[rows.length - 1].id : null };
  }

  async get(auth: AuthContext, id: string): Promise<SignalView & { orders: OrderView[] }> {
    return this.db.run(auth.workspaceId, async (tx) => {
      const signal = await this.signals.find(tx, id);
      if (!signal) throw Problem.notFound('Signal');
      return { ...toView(signal), orders: await this.orders.ofSignal(tx, id) };
    });
  }
}

function toView(s: SignalRecord): SignalView {
  return {
    id: s.id,
    sourceId: s.sourceId,
    seq: s.seq.toString(),
    status: s.status,
    payload: s.payload,
    error: s.error,
    receivedAt: s.receivedAt.toISOString(),
    enqueuedAt: s.enqueuedAt?.toISOString() ?? null,
    routingStartedAt: s.routingStartedAt?.toISOString() ?? null,
    completedAt: s.completedAt?.toISOString() ?? null,
  };
}
