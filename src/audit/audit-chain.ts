import { createHash } from 'node:crypto';
import type { SafeDetails } from './audit-event';

/** prev_hash of a chain's first event. */
export const GENESIS_HASH = Buffer.alloc(32);

const ENCODING_VERSION = 1;

/** An event as stored, with the chain position that its hash covers. */
export interface ChainEvent {
  workspaceId: string;
  seq: number;
  prevHash: Buffer;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  ip: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  reason: string | null;
  requestId: string | null;
  metadata: SafeDetails;
}

/**
 * Deterministic JSON: keys sorted at every level, no whitespace, nulls explicit, non-finite
 * numbers and undefined refused (JSON.stringify would silently turn them into null or drop them).
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON: non-finite number');
      return JSON.stringify(value);
    case 'object': {
      const record = value as Record<string, unknown>;
      const fields = Object.keys(record)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
      return `{${fields.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON: cannot encode ${typeof value}`);
  }
}

/** The bytes an event's hash is taken over: every stored field, its position and its predecessor. */
export function canonicalEvent(e: ChainEvent): string {
  return canonicalJson({
    v: ENCODING_VERSION,
    workspaceId: e.workspaceId,
    seq: e.seq,
    prevHash: e.prevHash.toString('hex'),
    occurredAt: e.occurredAt.toISOString(),
    actor: { type: e.actorType, id: e.actorId },
    ip: e.ip,
    action: e.action,
    resource: { type: e.resourceType, id: e.resourceId },
    reason: e.reason,
    requestId: e.requestId,
    metadata: e.metadata,
  });
}

/** SHA-256 over the canonical encoding. */
export function eventHash(e: ChainEvent): Buffer {
  return createHash('sha256').update(canonicalEvent(e), 'utf8').digest();
}

/** What a checkpoint signs: the chain head of one workspace at one moment. */
export function canonicalCheckpoint(c: { workspaceId: string; seq: number; headHash: Buffer; signedAt: Date }): string {
  return canonicalJson({
    v: ENCODING_VERSION,
    workspaceId: c.workspaceId,
    seq: c.seq,
    headHash: c.headHash.toString('hex'),
    signedAt: c.signedAt.toISOString(),
  });
}
