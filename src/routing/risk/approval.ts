/** How long an order waits for approval when neither the route nor the workspace says. */
export const DEFAULT_APPROVAL_EXPIRY_SECONDS = 300;

/** A route's or a workspace's approval setting; null fields are unset. */
export interface ApprovalSettings {
  mode: 'auto' | 'manual' | null;
  expirySeconds: number | null;
}

/**
 * Whether a route's orders wait for a person, and for how long. The route's mode wins when set, except that a
 * workspace set to `manual` holds every route's orders (the stricter setting is the ceiling). The expiry is the
 * route's, else the workspace's, else 5 minutes; the workspace's is also the longest a route may ask for.
 */
export function effectiveApproval(route: ApprovalSettings, workspace: ApprovalSettings): { expirySeconds: number } | undefined {
  const manual = workspace.mode === 'manual' || (route.mode ?? workspace.mode) === 'manual';
  if (!manual) return undefined;
  const wanted = route.expirySeconds ?? workspace.expirySeconds ?? DEFAULT_APPROVAL_EXPIRY_SECONDS;
  return { expirySeconds: workspace.expirySeconds !== null ? Math.min(wanted, workspace.expirySeconds) : wanted };
}

/** The reason an order that waited in vain ends with. */
export function approvalExpiredReason(expiresAt: Date): string {
  return `approval_expired: nobody approved the order before ${expiresAt.toISOString()}; it was not sent`;
}
