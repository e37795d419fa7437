import { z } from 'zod';
import { HH_MM, isTimeZone } from '../../common/trading-windows';

const reason = z.string().trim().min(1).max(500);
const amount = z
  .union([z.number().positive().finite(), z.string().regex(/^\d+(\.\d+)?$/, 'must be a positive decimal')])
  .transform(String)
  .refine((v) => /[1-9]/.test(v), 'must be above 0');

export const connectionKillSwitchSchema = z.strictObject({ engaged: z.boolean(), reason });
export type ConnectionKillSwitchDto = z.infer<typeof connectionKillSwitchSchema>;

export const lossLimitsSchema = z.strictObject({
  dailyLossLimit: amount.nullable().describe("Largest loss of the connection's session P&L (realised + unrealised, in the account currency); null: none."),
  maxDrawdown: amount.nullable().describe("Largest fall of the session P&L from the session's high; null: none."),
  action: z
    .enum(['block', 'flatten'])
    .default('block')
    .describe('On a breach: block new entries for the rest of the session, or flatten the connection and engage its kill switch.'),
  sessionStart: z.string().regex(HH_MM, 'must be a wall-clock time HH:MM (00:00-23:59)').default('00:00'),
  sessionTimezone: z.string().max(64).refine(isTimeZone, 'must be an IANA time zone such as America/New_York').default('UTC'),
  reason,
});
export type LossLimitsDto = z.infer<typeof lossLimitsSchema>;
