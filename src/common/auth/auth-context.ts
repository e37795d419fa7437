export const ROLES = ['owner', 'admin', 'trader', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, trader: 1, admin: 2, owner: 3 };

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return RANK[role] >= RANK[minimum];
}

export function lowerRole(a: Role, b: Role): Role {
  return RANK[a] <= RANK[b] ? a : b;
}

export function higherRole(a: Role, b: Role): Role {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The authenticated caller of a workspace route, passed explicitly into services. */
export interface AuthContext {
  workspaceId: string;
  actor: { type: 'user' | 'token'; id: string };
  /** The member who answers for the request: the JWT's subject, or the member behind the API token. */
  memberId: string;
  role: Role;
  ip: string;
  requestId: string;
  /** Set when the caller signed in with a member JWT: what sign-out revokes. */
  jwt?: MemberJwtId;
}

/** A member JWT's id (`jti`) and expiry. */
export interface MemberJwtId {
  jti: string;
  expiresAt: Date;
}

/** The caller of a platform route (PLATFORM_ADMIN_TOKEN). */
export interface PlatformContext {
  actor: { type: 'platform'; id: 'platform-admin' };
  ip: string;
  requestId: string;
}

/** What the bearer strategy resolves a token to, before the route's requirements are checked. */
export type Principal =
  { kind: 'workspace'; workspaceId: string; actor: AuthContext['actor']; memberId: string; role: Role; jwt?: MemberJwtId } | { kind: 'platform' };
