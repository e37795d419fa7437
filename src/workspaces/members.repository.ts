import { Injectable } from '@nestjs/common';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { Role } from '../common/auth/auth-context';

export interface MemberRecord {
  id: string;
  email: string;
  role: Role;
  createdAt: Date;
}

const MEMBER_FIELDS = { id: true, email: true, role: true, createdAt: true } as const;

@Injectable()
export class MembersRepository {
  async create(tx: TenantTx, data: { id: string; workspaceId: string; email: string; role: Role; passwordHash?: string }): Promise<MemberRecord> {
    return (await tx.member.create({ data, select: MEMBER_FIELDS })) as MemberRecord;
  }

  async list(tx: TenantTx, page: PageRequest<TimeKey>): Promise<MemberRecord[]> {
    return (await tx.member.findMany({
      where: { removedAt: null, ...byCreatedAt.after(page.after) },
      select: MEMBER_FIELDS,
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    })) as MemberRecord[];
  }

  async findActive(tx: TenantTx, id: string): Promise<MemberRecord | null> {
    return (await tx.member.findFirst({ where: { id, removedAt: null }, select: MEMBER_FIELDS })) as MemberRecord | null;
  }

  async existsActiveEmail(tx: TenantTx, email: string): Promise<boolean> {
    return (await tx.member.count({ where: { email, removedAt: null } })) > 0;
  }

  /** Locks the owners' rows: two concurrent demotions or removals of the last two owners cannot both pass. */
  async countActiveOwners(tx: TenantTx): Promise<number> {
    const owners = await tx.$queryRawUnsafe<Array<{ id: string }>>(`SELECT id FROM members WHERE role = 'owner' AND removed_at IS NULL ORDER BY id FOR UPDATE`);
    return owners.length;
  }

  async updateRole(tx: TenantTx, id: string, role: Role): Promise<MemberRecord> {
    return (await tx.member.update({ where: { id }, data: { role }, select: MEMBER_FIELDS })) as MemberRecord;
  }

  async remove(tx: TenantTx, id: string): Promise<void> {
    await tx.member.update({ where: { id }, data: { removedAt: new Date() } });
  }
}
