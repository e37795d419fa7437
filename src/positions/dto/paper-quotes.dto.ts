import { z } from 'zod';

const price = z
  .union([
    z.number().positive().finite(),
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'must be a positive decimal')
      .refine((v) => /[1-9]/.test(v), 'must be above 0'),
  ])
  .transform(String);

export const paperQuotesSchema = z.strictObject({
  quotes: z
    .array(
      z.strictObject({
        symbol: z
          .string()
          .trim()
          .min(1)
          .max(64)
          .regex(/^[A-Za-z0-9._:/-]+$/, 'must be a plain symbol, as the broker spells it (e.g. AAPL)'),
        price,
      }),
    )
    .min(1)
    .max(100)
    .describe('Prices in order: each may fill the paper orders resting on its symbol that it crosses.'),
});
export type PaperQuotesDto = z.infer<typeof paperQuotesSchema>;
