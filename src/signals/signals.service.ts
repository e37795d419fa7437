import { Injectable } from '@nestjs/common';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import { ListRequest, Page, TimeKey, toPage } from '../common/pagination';
import { SignalListFilter, signalOrder } from './dto/signal.dto';
import { OrdersService, OrderView } from '../orders/orders.service';
import { SignalRecord, SignalsRepository } from './signals.repository';

export interface SignalView {
  id: string;
  sourceId: string;
  /** Arrival order (a 64-bit integer, as a string). */
  seq: string;
  status: string;
  payload: unknown;
  /** Body fields routing did not read (kept in the stored raw body): a misspelt field shows up here. */
  ignoredFields: string[];
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

  async list(auth: AuthContext, { filter, page }: ListRequest<SignalListFilter, TimeKey>): Promise<Page<SignalView>> {
    const rows = await this.db.run(auth.workspaceId, (tx) => this.signals.list(tx, filter, page));
    return toPage(rows, page, signalOrder, toView);
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
  const { ignoredFields, ...payload } = (s.payload ?? {}) as { ignoredFields?: string[] };
  return {
    id: s.id,
    sourceId: s.sourceId,
    seq: s.seq.toString(),
    status: s.status,
    payload,
    ignoredFields: ignoredFields ?? [],
    error: s.error,
    receivedAt: s.receivedAt.toISOString(),
    enqueuedAt: s.enqueuedAt?.toISOString() ?? null,
    routingStartedAt: s.routingStartedAt?.toISOString() ?? null,
    completedAt: s.completedAt?.toISOString() ?? null,
  };
}
