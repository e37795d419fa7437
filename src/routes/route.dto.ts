import { z } from 'zod';

const decimal = z.union([z.number().positive().finite(), z.string().regex(/^\d+(\.\d+)?$/, 'must be a positive decimal')]).transform(String);
const symbol = z.string().trim().min(1).max(40).regex(/^[A-Za-z0-9._:/-]+$/, 'must be a plain symbol');

const sizing = z.strictObject({
  mode: z.enum(['fixed', 'multiplier', 'notional', 'percent_equity']),
  value: decimal,
}).refine((s) => s.mode !== 'percent_equity' || Number(s.value) <= 100, { message: 'percent_equity is at most 100', path: ['value'] });

const limits = z.strictObject({
  maxQuantity: decimal.optional(),
  maxNotional: decimal.optional(),
  maxOrdersPerMinute: z.number().int().min(1).max(10_000).optional(),
});

/** Which directions the route opens positions in; the other direction's signals only close. */
const positionMode = z.enum(['both', 'long_only', 'short_only']);
/** An entry while a position in its direction is already open: add to it, or ignore the signal (blocked, with the reason). */
const entryWhenOpen = z.enum(['add', 'ignore']);

export const createRouteSchema = z.strictObject({
  sourceId: z.uuid(),
  connectionId: z.uuid(),
  sizing,
  symbolMap: z.record(symbol, symbol).refine((m) => Object.keys(m).length <= 500, 'at most 500 entries').optional(),
  allowedSymbols: z.array(symbol).max(500).optional(),
  limits: limits.optional(),
  positionMode: positionMode.default('both'),
  entryWhenOpen: entryWhenOpen.default('add'),
  enabled: z.boolean().default(true),
});
export type CreateRouteDto = z.infer<typeof createRouteSchema>;

export const updateRouteSchema = z
  .strictObject({
    sizing: sizing.optional(),
    symbolMap: z.record(symbol, symbol).optional(),
    allowedSymbols: z.array(symbol).max(500).nullable().optional(),
    limits: limits.optional(),
    positionMode: positionMode.optional(),
    entryWhenOpen: entryWhenOpen.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'nothing to update');
export type UpdateRouteDto = z.infer<typeof updateRouteSchema>;
