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

/** A member's own notification choices as the api answers them. */
export const notificationPreferencesViewSchema = z.object({
  email: z.string().describe("Where the mail goes: the member's sign-in e-mail."),
  kinds: z.array(z.enum(NOTIFICATION_KINDS)),
  chosen: z.boolean().describe('False while the member runs on the defaults (every kind but fills).'),
});
export type NotificationPreferencesView = z.infer<typeof notificationPreferencesViewSchema>;
