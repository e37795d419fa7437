/** What a member may be mailed about. The defaults (all but fills) live in SQL: notification_default_kinds(). */
export const NOTIFICATION_KINDS = ['fills', 'rejections', 'blocks', 'limit_breaches', 'approvals_waiting'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
/** What the outbox may hold: the kinds a member chooses, and the invite notice every added member gets. */
export type MailKind = NotificationKind | 'invite';

/** Kinds in their canonical order, so an answer does not depend on the order they were sent in. */
export function canonicalKinds(kinds: readonly string[]): NotificationKind[] {
  return NOTIFICATION_KINDS.filter((k) => kinds.includes(k));
}
