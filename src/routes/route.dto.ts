import { z } from 'zod';
import { HH_MM, isTimeZone, WEEKDAYS } from '../common/trading-windows';

const decimal = z.union([z.number().positive().finite(), z.string().regex(/^\d+(\.\d+)?$/, 'must be a positive decimal')]).transform(String);
const symbol = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .regex(/^[A-Za-z0-9._:/-]+$/, 'must be a plain symbol');

const sizing = z
  .strictObject({
    mode: z.enum(['fixed', 'multiplier', 'notional', 'percent_equity']),
    value: decimal,
  })
  .refine((s) => s.mode !== 'percent_equity' || Number(s.value) <= 100, { message: 'percent_equity is at most 100', path: ['value'] });

const seconds = z.number().int().min(1).max(86_400);
const clockTime = z.string().regex(HH_MM, 'must be a wall-clock time HH:MM (00:00-23:59)');

/** Entries are blocked outside every window; `end` before `start` runs overnight into the next day. */
export const tradingWindowSchema = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` }))
      .min(1)
      .max(7)
      .refine((d) => new Set(d).size === d.length, 'must not repeat a day'),
    start: clockTime,
    end: clockTime,
    timezone: z.string().max(64).refine(isTimeZone, 'must be an IANA time zone such as America/New_York'),
    flattenAtEnd: z.boolean().optional().describe("At the window's end the worker flattens the route's positions on its connection (once per end)."),
  })
  .refine((w) => w.start !== w.end, { path: ['end'], message: 'must differ from start (a window cannot be empty or the whole day)' });

/** A route's limits; its workspace sets the same fields as defaults and ceilings (PUT /v1/workspace/risk-limits). */
export const routeLimitsSchema = z.strictObject({
  maxQuantity: decimal.optional(),
  maxNotional: decimal.optional(),
  maxOrdersPerMinute: z.number().int().min(1).max(10_000).optional(),
  maxSignalAgeSeconds: seconds
    .optional()
    .describe(
      "Signals whose time (else receive time) is further than this from now, past or future, are blocked as stale. Default: the workspace's, else 60 on live connections.",
    ),
  duplicateWindowSeconds: seconds
    .optional()
    .describe('A signal with the ticker, action and sentiment of an earlier one from the source within this many seconds is blocked as a duplicate.'),
  tradingWindows: z.array(tradingWindowSchema).min(1).max(20).optional(),
  blockExitsOutsideWindows: z.boolean().optional().describe('Block exits outside the trading windows too (default: only entries).'),
  maxPosition: decimal
    .refine((v) => /[1-9]/.test(v), 'must be above 0')
    .optional()
    .describe("Largest position (either direction) an entry may build per symbol on the route's connection."),
  maxOpenPositions: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe('Entries that would open another symbol are blocked while this many are open on the connection.'),
});

/** Which directions the route opens positions in; the other direction's signals only close. */
const positionMode = z.enum(['both', 'long_only', 'short_only']);
/** An entry while a position in its direction is already open: add to it, or ignore the signal (blocked, with the reason). */
const entryWhenOpen = z.enum(['add', 'ignore']);
/** `manual`: the route's orders wait as `awaiting_approval` until a trader approves or rejects them, or they expire. */
const approval = z
  .enum(['auto', 'manual'])
  .describe(
    "`manual`: orders wait for POST /v1/orders/:id/approve. Unset: the workspace's setting (default auto); a workspace set to manual holds every route's orders.",
  );
const approvalExpirySeconds = z
  .number()
  .int()
  .min(10)
  .max(86_400)
  .describe("How long an order waits for approval before it expires (default: the workspace's, else 300; at most the workspace's).");

export const createRouteSchema = z.strictObject({
  sourceId: z.uuid(),
  connectionId: z.uuid(),
  sizing,
  symbolMap: z
    .record(symbol, symbol)
    .refine((m) => Object.keys(m).length <= 500, 'at most 500 entries')
    .optional(),
  allowedSymbols: z.array(symbol).max(500).optional(),
  limits: routeLimitsSchema.optional(),
  positionMode: positionMode.default('both'),
  entryWhenOpen: entryWhenOpen.default('add'),
  approval: approval.optional(),
  approvalExpirySeconds: approvalExpirySeconds.optional(),
  enabled: z.boolean().default(true),
});
export type CreateRouteDto = z.infer<typeof createRouteSchema>;

export const updateRouteSchema = z
  .strictObject({
    sizing: sizing.optional(),
    symbolMap: z.record(symbol, symbol).optional(),
    allowedSymbols: z.array(symbol).max(500).nullable().optional(),
    limits: routeLimitsSchema.optional(),
    positionMode: positionMode.optional(),
    entryWhenOpen: entryWhenOpen.optional(),
    approval: approval.nullable().optional(),
    approvalExpirySeconds: approvalExpirySeconds.nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'nothing to update');
export type UpdateRouteDto = z.infer<typeof updateRouteSchema>;

const decimalView = z.string().describe('A decimal, as a string.');

const tradingWindowView = z.object({ days: z.array(z.enum(WEEKDAYS)), start: z.string(), end: z.string(), timezone: z.string(), flattenAtEnd: z.boolean() });

/** The limits as a route or its workspace holds them (null: unset). */
export const limitsViewSchema = z.object({
  maxQuantity: decimalView.nullable(),
  maxNotional: decimalView.nullable(),
  maxOrdersPerMinute: z.int().nullable(),
  maxSignalAgeSeconds: z.int().nullable(),
  duplicateWindowSeconds: z.int().nullable(),
  tradingWindows: z.array(tradingWindowView).nullable(),
  blockExitsOutsideWindows: z.boolean(),
  maxPosition: decimalView.nullable(),
  maxOpenPositions: z.int().nullable(),
});
export type LimitsView = z.infer<typeof limitsViewSchema>;

export const routeViewSchema = z.object({
  id: z.uuid(),
  sourceId: z.uuid(),
  connectionId: z.uuid(),
  enabled: z.boolean(),
  sizing: z.object({ mode: z.string(), value: decimalView }),
  symbolMap: z.record(z.string(), z.string()),
  allowedSymbols: z.array(z.string()).nullable(),
  limits: limitsViewSchema.describe("The route's own limits (null: the workspace's apply; a workspace ceiling stricter than a route's value wins)."),
  positionMode: z.string(),
  entryWhenOpen: z.string(),
  approval: z.string().nullable().describe("The route's own approval setting, auto or manual (null: the workspace's)."),
  approvalExpirySeconds: z.int().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type RouteView = z.infer<typeof routeViewSchema>;
