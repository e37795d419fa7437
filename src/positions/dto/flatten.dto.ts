import { z } from 'zod';

export const flattenSchema = z.strictObject({
  reason: z.string().trim().min(1).max(500).describe('Why positions are being closed; recorded in the audit trail.'),
});
export type FlattenDto = z.infer<typeof flattenSchema>;
