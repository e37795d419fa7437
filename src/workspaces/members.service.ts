import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { byCreatedAt, Page, PageRequest, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import { AuthContext, Role, roleAtLeast } from '../common/auth/auth-context';
import { hashPassword } from './auth/passwords';
import type { CreateMemberDto, MemberView } from './dto/workspace.dto';
import { MemberRecord, MembersRepository } from './members.repository';
import { TokensRepository } from './tokens.repository';

const toView = (m: MemberRecord): MemberView => ({ id: m.id, email: m.email, role: m.role, createdAt: m.createdAt.toISOString() });

@Injectable()
export class MembersService {
  constructor(
    private readonly db: TenantDb,
    private readonly members: MembersRepository,
    private readonly tokens: TokensRepository,
    private readonly audit: AuditWriter,
  ) {}

  async create(auth: AuthContext, dto: CreateMemberDto): Promise<MemberView> {
    if (!roleAtLeast(auth.role, dto.role)) throw Problem.forbidden('You cannot grant a role higher than your own.');
    const passwordHash = dto.password ? await hashPassword(dto.password) : undefined;
    return this.db.run(auth.workspaceId, async (tx) => {
      if (await this.members.existsActiveEmail(tx, dto.email)) throw Problem.conflict('member_exists', 'A member with this email already exists.');
      const member = await this.members.create(tx, { id: randomUUID(), workspaceId: auth.workspaceId, email: dto.email, role: dto.role, passwordHash });
      await this.audit.record(tx, memberEvent(auth, 'member.create', member.id, member.role));
      return toView(member);
    });
  }

  async list(auth: AuthContext, page: PageRequest<TimeKey>): Promise<Page<MemberView>> {
    return toPage(await this.db.run(auth.workspaceId, (tx) => this.members.list(tx, page)), page, byCreatedAt, toView);
  }

  /** Her sessions, JWTs and tokens act with the new role from their next request: all three re-read it per request. */
  async changeRole(auth: AuthContext, id: string, role: Role): Promise<MemberView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      const member = await this.members.findActive(tx, id);
      if (!member) throw Problem.notFound('Member');
      if (!roleAtLeast(auth.role, member.role) || !roleAtLeast(auth.role, role)) {
        throw Problem.forbidden('You cannot change the role of a member above you, nor grant a role higher than your own.', 'higher_role');
      }
      if (member.role === role) return toView(member);
      if (member.role === 'owner' && (await this.members.countActiveOwners(tx)) <= 1) {
        throw Problem.conflict('last_owner', 'A workspace keeps at least one owner.');
      }
      const changed = await this.members.updateRole(tx, id, role);
      await this.audit.record(tx, { ...memberEvent(auth, 'member.role_change', id, role), metadata: { from: member.role, to: role } });
      return toView(changed);
    });
  }

  async remove(auth: AuthContext, id: string): Promise<void> {
    await this.db.run(auth.workspaceId, async (tx) => {
      const member = await this.members.findActive(tx, id);
      if (!member) throw Problem.notFound('Member');
      if (!roleAtLeast(auth.role, member.role)) throw Problem.forbidden('You cannot remove a member with a higher role.');
      if (member.role === 'owner' && (await this.members.countActiveOwners(tx)) <= 1) {
        throw Problem.conflict('last_owner', 'A workspace keeps at least one owner.');
      }
      await this.members.remove(tx, id);
      // Her API tokens (and those they minted) end with her, in this transaction; her JWTs fail on her removed_at.
      const revokedTokens = await this.tokens.revokeForMember(tx, id);
      await this.audit.record(tx, { ...memberEvent(auth, 'member.remove', id, member.role), metadata: { role: member.role, revokedTokens } });
    });
  }
}

function memberEvent(auth: AuthContext, action: 'member.create' | 'member.remove' | 'member.role_change', memberId: string, role: string) {
  return { action, actor: auth.actor, ip: auth.ip, requestId: auth.requestId, resource: { type: 'member', id: memberId }, metadata: { role } };
}
