import { Injectable } from '@nestjs/common';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import { ListRequest, Page, TimeKey, toPage } from '../common/pagination';
import { SignalDetailView, SignalListFilter, signalOrder, SignalView } from './dto/signal.dto';
import { OrdersService } from '../orders/orders.service';
import { SignalRecord, SignalsRepository } from './signals.repository';

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

  async get(auth: AuthContext, id: string): Promise<SignalDetailView> {
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
