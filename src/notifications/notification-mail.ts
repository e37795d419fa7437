import type { MailKind } from './notification-kinds';
import type { PendingNotification, TakenMailbox } from './notification-outbox.repository';

export interface DigestMail {
  subject: string;
  text: string;
}

type Details = Record<string, unknown>;

const KIND_NAMES: Record<MailKind, [string, string]> = {
  fills: ['fill', 'fills'],
  rejections: ['rejection', 'rejections'],
  blocks: ['block', 'blocks'],
  limit_breaches: ['loss limit breach', 'loss limit breaches'],
  approvals_waiting: ['approval waiting', 'approvals waiting'],
  invite: ['invitation', 'invitations'],
};

/**
 * One plain-text mail for a member's pending notifications, oldest first: what happened in words (symbol, side,
 * quantity, price, status, reason, connection label) and a console link. Built only from the outbox's details, which
 * hold order and breach fields, never a credential; user-given text is stripped of control characters.
 */
export function composeDigest(box: TakenMailbox, consoleUrl: string): DigestMail {
  const items = box.notifications.map((n) => describe(n, consoleUrl));
  const workspace = clean(box.workspaceName);
  const subject =
    items.length === 1
      ? `Switchyard: ${items[0].headline} (${workspace})`
      : `Switchyard: ${items.length} notifications, ${counts(box.notifications)} (${workspace})`;
  const text = [
    items.length === 1 ? `One event in workspace "${workspace}":` : `${items.length} events in workspace "${workspace}", oldest first:`,
    '',
    ...items.flatMap((item) => [item.headline, ...item.lines.map((l) => `  ${l}`), '']),
    '--',
    `You get these e-mails as a member of "${workspace}" (${box.email}).`,
    `Choose which events you are mailed about at ${consoleUrl}/notifications (or PUT /v1/members/me/notifications).`,
  ].join('\n');
  return { subject: subject.slice(0, 250), text };
}

function counts(notifications: PendingNotification[]): string {
  const byKind = new Map<MailKind, number>();
  for (const n of notifications) byKind.set(n.kind, (byKind.get(n.kind) ?? 0) + 1);
  return [...byKind].map(([kind, n]) => `${n} ${KIND_NAMES[kind][n === 1 ? 0 : 1]}`).join(', ');
}

function describe(n: PendingNotification, consoleUrl: string): { headline: string; lines: string[] } {
  const d = n.details;
  const at = `Time: ${str(d.at) ?? n.createdAt.toISOString()}`;
  const connection = str(d.connectionLabel)
    ? `Connection: "${str(d.connectionLabel)}" (${[str(d.broker), str(d.environment)].filter(Boolean).join(', ')})`
    : undefined;
  const reason = str(d.reason) ? `Reason: ${str(d.reason)}` : undefined;
  if (n.kind === 'invite') {
    // No secret to send: the admin gave her a first password (members have no invite token).
    return {
      headline: `You were added to the workspace as ${str(d.role) ?? 'a member'}`,
      lines: [`Sign in with this e-mail address and the password the admin gave you: ${consoleUrl}/`, at],
    };
  }
  if (n.kind === 'limit_breaches') {
    const numbers = Object.entries((d.metadata as Details | null) ?? {})
      .filter(([, v]) => v !== null && typeof v !== 'object')
      .map(([k, v]) => `${clean(k)}: ${clean(String(v))}`);
    return {
      headline: `Loss limit breached${str(d.connectionLabel) ? ` on "${str(d.connectionLabel)}"` : ''}`,
      lines: defined([connection, reason, numbers.length ? `Figures: ${numbers.join(', ')}` : undefined, at, `Open: ${consoleUrl}/connections`]),
    };
  }
  const order = orderWords(d);
  const status = str(d.status);
  const headline =
    n.kind === 'fills'
      ? status === 'partially_filled'
        ? `Partially filled: ${order}, ${str(d.filledQuantity) ?? '?'} so far at ${str(d.averagePrice) ?? '?'} average`
        : `Filled: ${order} at ${str(d.averagePrice) ?? '?'}`
      : n.kind === 'rejections'
        ? `Rejected by the broker: ${order}`
        : n.kind === 'blocks'
          ? `Blocked: ${order}`
          : `Waiting for approval: ${order}`;
  return {
    headline,
    lines: defined([
      connection,
      reason,
      `Status: ${status}${str(d.previousStatus) ? ` (was ${str(d.previousStatus)})` : ''}`,
      at,
      `Order: ${str(d.orderId)}`,
      `Open: ${consoleUrl}/activity`,
    ]),
  };
}

/**
 * "buy 2 AAPL limit 100": side, quantity, symbol and the order's own prices. An order blocked at the plan has no side
 * or quantity yet: the signal's action and price say what was asked ("buy TSLA (signal price 10)").
 */
function orderWords(d: Details): string {
  const type = str(d.orderType);
  const prices = [str(d.limitPrice) && `limit ${str(d.limitPrice)}`, str(d.stopPrice) && `stop ${str(d.stopPrice)}`].filter(Boolean);
  const asked = !str(d.side) && str(d.signalPrice) ? `(signal price ${str(d.signalPrice)})` : undefined;
  return [
    str(d.side) ?? str(d.signalAction),
    str(d.quantity),
    str(d.symbol),
    prices.length ? prices.join(' ') : type && type !== 'market' ? type : undefined,
    asked,
  ]
    .filter(Boolean)
    .join(' ');
}

function str(v: unknown): string | undefined {
  return v === null || v === undefined || v === '' ? undefined : clean(String(v));
}

/** No control characters (a label or a broker's reason cannot forge lines or headers), bounded length. */
function clean(v: string): string {
  return v.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 500);
}

function defined(lines: (string | undefined)[]): string[] {
  return lines.filter((l): l is string => l !== undefined);
}
