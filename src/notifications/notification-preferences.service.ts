import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { AuthContext } from '../common/auth/auth-context';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { NotificationPreferencesDto, NotificationPreferencesView } from './dto/notification-preferences.dto';
import { canonicalKinds } from './notification-kinds';
import { NotificationPreferencesRepository, PreferencesRecord } from './notification-preferences.repository';

const toView = (r: PreferencesRecord): NotificationPreferencesView => ({ email: r.email, kinds: canonicalKinds(r.kinds), chosen: r.chosen });

/** Each member reads and sets her own notification choices: the member is the caller, never a parameter. */
@Injectable()
export class NotificationPreferencesService {
  constructor(
    private readonly db: TenantDb,
    private readonly preferences: NotificationPreferencesRepository,
  ) {}

  async get(auth: AuthContext): Promise<NotificationPreferencesView> {
    return this.db.runRaw(auth.workspaceId, async (client) => toView(await this.member(client, auth)));
  }

  async set(auth: AuthContext, dto: NotificationPreferencesDto): Promise<NotificationPreferencesView> {
    return this.db.runRaw(auth.workspaceId, async (client) => {
      await this.member(client, auth);
      await this.preferences.save(client, auth.memberId, canonicalKinds(dto.kinds));
      return toView((await this.preferences.find(client, auth.memberId))!);
    });
  }

  private async member(client: PoolClient, auth: AuthContext): Promise<PreferencesRecord> {
    const found = await this.preferences.find(client, auth.memberId);
    if (!found) throw Problem.notFound('Member');
    return found;
  }
}
