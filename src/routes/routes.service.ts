import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { byCreatedAt, Page, PageRequest, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { TenantDb, type TenantTx } from '../database/tenant-db';
import { looserThanWorkspace } from '../common/limit-ceilings';
import type { Route } from '../generated/prisma/client';
import type { AuthContext } from '../common/auth/auth-context';
import type { CreateRouteDto, RouteView, UpdateRouteDto } from './route.dto';
import { limitColumns, limitsView, numericLimits } from './route-limits';
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
    limits: limitsView(r),
    positionMode: r.positionMode,
    entryWhenOpen: r.entryWhenOpen,
    approval: r.approval,
    approvalExpirySeconds: r.approvalExpirySeconds,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
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
      await this.withinCeilings(tx, auth.workspaceId, dto.limits);
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
        ...limitColumns(dto.limits),
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
      await this.withinCeilings(tx, auth.workspaceId, dto.limits);
      const route = await this.routes.update(tx, id, {
        ...(dto.enabled !== undefined && { enabled: dto.enabled }),
        ...(dto.sizing && { sizingMode: dto.sizing.mode, sizingValue: dto.sizing.value }),
        ...(dto.symbolMap && { symbolMap: dto.symbolMap }),
        ...(dto.allowedSymbols !== undefined && { allowedSymbols: dto.allowedSymbols ?? [] }),
        ...(dto.positionMode && { positionMode: dto.positionMode }),
        ...(dto.entryWhenOpen && { entryWhenOpen: dto.entryWhenOpen }),
        ...(dto.approval !== undefined && { approval: dto.approval }),
        ...(dto.approvalExpirySeconds !== undefined && { approvalExpirySeconds: dto.approvalExpirySeconds }),
        ...(dto.limits && limitColumns(dto.limits)),
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

  /** A route may only be stricter than its workspace: a looser limit is refused naming the field and the workspace's value. */
  private async withinCeilings(tx: TenantTx, workspaceId: string, limits: CreateRouteDto['limits']): Promise<void> {
    if (!limits) return;
    const looser = looserThanWorkspace(limits, numericLimits(await this.routes.workspaceLimits(tx, workspaceId)));
    if (!looser) return;
    throw Problem.unprocessable(
      'limit_exceeds_workspace_ceiling',
      `limits.${looser.field}: ${looser.words}; a route may only be stricter than its workspace.`,
      {
        limit: looser.field,
        ceiling: looser.ceiling,
      },
    );
  }

  private event(auth: AuthContext, action: 'route.create' | 'route.update' | 'route.delete', id: string, metadata: Record<string, string | boolean>) {
    return { action, actor: auth.actor, resource: { type: 'route', id }, ip: auth.ip, requestId: auth.requestId, metadata };
  }
}
