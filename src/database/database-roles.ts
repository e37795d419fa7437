import { randomBytes } from 'node:crypto';
import { readOrCreateSecretFile } from '../config/secret-file';
import { join } from 'node:path';

export const DB_ROLES = {
  owner: 'switchyard_owner',
  api: 'switchyard_api',
  worker: 'switchyard_worker',
  resolver: 'switchyard_resolver',
} as const;

export type RuntimeRole = 'api' | 'worker';
export type LoginRole = 'owner' | RuntimeRole;
export type RolePasswords = Record<LoginRole, string>;

const FILE = 'db-roles.json';

/** Login passwords of the Switchyard roles, generated once per DATA_DIR and kept 0600. */
export async function loadOrCreateRolePasswords(dataDir: string): Promise<RolePasswords> {
  const generate = () =>
    Buffer.from(
      JSON.stringify({
        owner: randomBytes(24).toString('base64url'),
        api: randomBytes(24).toString('base64url'),
        worker: randomBytes(24).toString('base64url'),
      }),
    );
  return JSON.parse((await readOrCreateSecretFile(join(dataDir, FILE), generate)).toString('utf8')) as RolePasswords;
}

/** The privileged URL with the user and password of one Switchyard role. */
export function urlForRole(privilegedUrl: string, role: LoginRole, passwords: RolePasswords): string {
  const url = new URL(privilegedUrl);
  url.username = DB_ROLES[role];
  url.password = passwords[role];
  return url.toString();
}
