import { z } from 'zod';
import { NOTIFICATION_KINDS } from '../notification-kinds';

export const notificationPreferencesSchema = z.strictObject({
  /** Every kind the member wants mail for (the whole set: an empty list turns every mail off). */
  kinds: z
    .array(z.enum(NOTIFICATION_KINDS))
    .max(NOTIFICATION_KINDS.length)
    .refine((kinds) => new Set(kinds).size === kinds.length, 'must not name a kind twice'),
});
export type NotificationPreferencesDto = z.infer<typeof notificationPreferencesSchema>;
