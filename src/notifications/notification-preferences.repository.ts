import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';

/** A member's notification choices, or the defaults (notification_default_kinds()) while she made none. */
export interface PreferencesRecord {
  email: string;
  kinds: string[];
  chosen: boolean;
}

@Injectable()
export class NotificationPreferencesRepository {
  /** Undefined when the member is not (or no longer) in the workspace. */
  async find(client: PoolClient, memberId: string): Promise<PreferencesRecord | undefined> {
    const { rows } = await client.query<PreferencesRecord>({
      name: 'notifications.preferences_find',
      text: `SELECT m.email, COALESCE(p.kinds, notification_default_kinds()) AS kinds, p.member_id IS NOT NULL AS chosen
               FROM members m LEFT JOIN notification_preferences p ON p.member_id = m.id
              WHERE m.id = $1 AND m.removed_at IS NULL`,
      values: [memberId],
    });
    return rows[0];
  }

  async save(client: PoolClient, memberId: string, kinds: string[]): Promise<void> {
    await client.query({
      name: 'notifications.preferences_save',
      text: `INSERT INTO notification_preferences (member_id, workspace_id, kinds) VALUES ($1, app_current_workspace(), $2)
             ON CONFLICT (member_id) DO UPDATE SET kinds = EXCLUDED.kinds, updated_at = now()`,
      values: [memberId, kinds],
    });
  }
}
