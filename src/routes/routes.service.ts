import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { byCreatedAt, Page, PageRequest, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import { Prisma, type Route } from '../generated/prisma/client';
import type { AuthContext } from '../common/auth/auth-context';
import type { TradingWindow } from '../common/trading-windows';
import type { CreateRouteDto, RouteView, UpdateRouteDto } from './route.dto';
import { RoutesRepository } from './routes.repository';

function toView(r: Route): RouteView {
  return {
    id: r.id,
    sourceId: r.sourceId,
    connectionId: r.connectionId,
    enabled: r.enabled,
    sizing: { mode: r.sizingMode, value: r.sizingValue.toString() },
    symbolMap: r.symbolMap as Record<string, string>,
    allowedSymbols: r.allowedSymbols.length ? r.allowedSymbols : null,
    limits: {
      maxQuantity: r.maxQuantity?.toString() ?? null,
      maxNotional: r.maxNotional?.toString() ?? null,
      maxOrdersPerMinute: r.maxOrdersPerMinute,
      maxSignalAgeSeconds: r.maxSignalAgeSeconds,
      duplicateWindowSeconds: r.duplicateWindowSeconds,
      tradingWindows: (r.tradingWindows as TradingWindow[] | null) ?? null,
      blockExitsOutsideWindows: r.blockExitsOutsideWindows,
      maxPosition: r.maxPosition?.toString() ?? null,
      maxOpenPositions: r.maxOpenPositions,
    },
    positionMode: r.positionMode,
    entryWhenOpen: r.entryWhenOpen,
    approval: r.approval,
    approvalExpirySeconds: r.approvalExpirySeconds,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** The risk limits' columns; a `limits` object replaces all of them (unset fields clear). */
function riskLimits(limits: CreateRouteDto['limits']) {
  return {
    maxSignalAgeSeconds: limits?.maxSignalAgeSeconds ?? null,
    duplicateWindowSeconds: limits?.duplicateWindowSeconds ?? null,
    tradingWindows: limits?.tradingWindows ?? Prisma.DbNull,
    blockExitsOutsideWindows: limits?.blockExitsOutsideWindows ?? false,
    maxPosition: limits?.maxPosition ?? null,
    maxOpenPositions: limits?.maxOpenPositions ?? null,
  };
}

@Injectable()
export class RoutesService {
  constructor(
    private readonly db: TenantDb,
    private readonly routes: RoutesRepository,
    private readonly audit: AuditWriter,
  ) {}

  create(auth: AuthContext, dto: CreateRouteDto): Promise<RouteView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      // RLS hides other workspaces' rows, so their ids look exactly like missing ones.
      if (!(await this.routes.sourceExists(tx, dto.sourceId))) throw Problem.unprocessable('source_not_found', 'No such source in this workspace.');
      if (!(await this.routes.activeConnectionExists(tx, dto.connectionId))) {
        throw Problem.unprocessable('connection_not_found', 'No such active connection in this workspace.');
      }
      const route = await this.routes.create(tx, {
        id: randomUUID(),
        workspaceId: auth.workspaceId,
        sourceId: dto.sourceId,
        connectionId: dto.connectionId,
        enabled: dto.enabled,
        sizingMode: dto.sizing.mode,
        sizingValue: dto.sizing.value,
        symbolMap: dto.symbolMap ?? {},
        allowedSymbols: dto.allowedSymbols ?? [],
        maxQuantity: dto.limits?.maxQuantity,
        maxNotional: dto.limits?.maxNotional,
        maxOrdersPerMinute: dto.limits?.maxOrdersPerMinute,
        ...riskLimits(dto.limits),
        positionMode: dto.positionMode,
        entryWhenOpen: dto.entryWhenOpen,
        approval: dto.approval ?? null,
        approvalExpirySeconds: dto.approvalExpirySeconds ?? null,
      });
      await this.audit.record(tx, this.event(auth, 'route.create', route.id, { sourceId: dto.sourceId, connectionId: dto.connectionId, enabled: dto.enabled }));
      return toView(route);
    });
  }

  async list(auth: AuthContext, page: PageRequest<TimeKey>): Promise<Page<RouteView>> {
    return toPage(await this.db.run(auth.workspaceId, (tx) => this.routes.list(tx, page)), page, byCreatedAt, toView);
  }

  update(auth: AuthContext, id: string, dto: UpdateRouteDto): Promise<RouteView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      if (!(await this.routes.find(tx, id))) throw Problem.notFound('Route');
      const route = await this.routes.update(tx, id, {
        ...(dto.enabled !== undefined && { enabled: dto.enabled }),
        ...(dto.sizing && { sizingMode: dto.sizing.mode, sizingValue: dto.sizing.value }),
        ...(dto.symbolMap && { symbolMap: dto.symbolMap }),
        ...(dto.allowedSymbols !== undefined && { allowedSymbols: dto.allowedSymbols ?? [] }),
        ...(dto.positionMode && { positionMode: dto.positionMode }),
        ...(dto.entryWhenOpen && { entryWhenOpen: dto.entryWhenOpen }),
        ...(dto.approval !== undefined && { approval: dto.approval }),
        ...(dto.approvalExpirySeconds !== undefined && { approvalExpirySeconds: dto.approvalExpirySeconds }),
        ...(dto.limits && {
          maxQuantity: dto.limits.maxQuantity ?? null,
          maxNotional: dto.limits.maxNotional ?? null,
          maxOrdersPerMinute: dto.limits.maxOrdersPerMinute ?? null,
          ...riskLimits(dto.limits),
        }),
      });
      await this.audit.record(tx, this.event(auth, 'route.update', id, { fields: Object.keys(dto).sort().join(',') }));
      return toView(route);
    });
  }

  remove(auth: AuthContext, id: string): Promise<void> {
    return this.db.run(auth.workspaceId, async (tx) => {
      if (!(await this.routes.find(tx, id))) throw Problem.notFound('Route');
      // Soft delete: orders keep pointing at the route they were made from.
      await this.routes.update(tx, id, { deletedAt: new Date(), enabled: false });
      await this.audit.record(tx, this.event(auth, 'route.delete', id, {}));
    });
  }

  private event(auth: AuthContext, action: 'route.create' | 'route.update' | 'route.delete', id: string, metadata: Record<string, string | boolean>) {
    return { action, actor: auth.actor, resource: { type: 'route', id }, ip: auth.ip, requestId: auth.requestId, metadata };
  }
}
