import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
  const path = join(dataDir, FILE);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RolePasswords;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fresh: RolePasswords = {
    owner: randomBytes(24).toString('base64url'),
    api: randomBytes(24).toString('base64url'),
    worker: randomBytes(24).toString('base64url'),
  };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, JSON.stringify(fresh), { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return JSON.parse(await readFile(path, 'utf8')) as RolePasswords;
    throw err;
  }
}

/** The privileged URL with the user and password of one Switchyard role. */
export function urlForRole(privilegedUrl: string, role: LoginRole, passwords: RolePasswords): string {
  const url = new URL(privilegedUrl);
  url.username = DB_ROLES[role];
  url.password = passwords[role];
  return url.toString();
}
