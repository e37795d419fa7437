// Response shapes of the api. Its OpenAPI document describes request bodies and queries (schema.d.ts) but not
// responses, so these mirror the services' view types (src/**/*.service.ts) and change with them.

export type Permissions = { inspection: string; canTrade: boolean; canWithdraw: boolean; canTransfer: boolean; note?: string };
export type ConnectionView = {
  id: string;
  broker: string;
  label: string;
  environment: 'paper' | 'live';
  status: string;
  keyHint: string;
  credentialVersion: number;
  permissions: Permissions;
  revokedAt: string | null;
  /** What revoking did at the broker: `revoked`, `not_supported_by_broker` or `not_applicable` (paper). */
  brokerRevocation: string | null;
  /** The connection's own kill switch: entries refused while engaged (exits and flattens go). */
  killSwitch: { engaged: boolean; reason: string | null; changedAt: string | null; changedBy: string | null };
  /** Daily loss / drawdown limits and the latest session as the worker last computed it; null when none set. */
  lossLimits: {
    dailyLossLimit: string | null;
    maxDrawdown: string | null;
    action: 'block' | 'flatten';
    sessionStart: string;
    sessionTimezone: string;
    session: { start: string; end: string; pnl: string; peak: string; breachedAt: string | null; breachLimit: string | null; breachReason: string | null; flattenId: string | null } | null;
  } | null;
};
export type SourceView = { id: string; name: string; auth: 'hmac' | 'token'; allowedIps: string[]; webhookUrl: string; secretVersion: number; createdAt: string };
export type IssuedSource = SourceView & { secret?: string; token?: string };
export type RouteView = {
  id: string;
  sourceId: string;
  connectionId: string;
  enabled: boolean;
  sizing: { mode: string; value: string };
  symbolMap: Record<string, string>;
  allowedSymbols: string[] | null;
  limits: { maxQuantity: string | null; maxNotional: string | null; maxOrdersPerMinute: number | null };
  positionMode: string;
  entryWhenOpen: string;
  createdAt: string;
};
export type SignalView = {
  id: string;
  sourceId: string;
  seq: string;
  status: string;
  payload: { ticker?: string; action?: string; quantity?: string; price?: string; [field: string]: unknown };
  ignoredFields: string[];
  error: string | null;
  receivedAt: string;
  enqueuedAt: string | null;
  routingStartedAt: string | null;
  completedAt: string | null;
};
export type OrderView = {
  id: string;
  signalId: string;
  routeId: string;
  connectionId: string;
  broker: string;
  leg: number;
  intent: string;
  symbol: string;
  side: string | null;
  type: string;
  quantity: string | null;
  status: string;
  reason: string | null;
  filledQuantity: string | null;
  averagePrice: string | null;
  attempts: number;
  timings: { routedAt: string; sentAt: string | null; acknowledgedAt: string | null };
};
export type SignalDetail = SignalView & { orders: OrderView[] };
export type TestSignalAccepted = { signalId: string; status: string; duplicate: boolean };
