import { z } from 'zod';
import { BROKER_NAMES } from '../../brokers/broker-adapter';

/** The shape only; each broker's adapter validates its own fields before anything leaves the process. */
const credentials = z.record(z.string().min(1).max(64), z.string().max(8192));

export const createConnectionSchema = z.strictObject({
  broker: z.enum(BROKER_NAMES),
  label: z.string().trim().min(1).max(200),
  environment: z.enum(['paper', 'live']).default('paper'),
  credentials: credentials.default({}),
});
export type CreateConnectionDto = z.infer<typeof createConnectionSchema>;

export const rotateConnectionSchema = z.strictObject({ credentials });
export type RotateConnectionDto = z.infer<typeof rotateConnectionSchema>;
