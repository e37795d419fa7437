import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A bearer secret: prefix says what it is, 32 random bytes make hashing with SHA-256 sufficient. */
export function generateToken(prefix: 'sy' | 'syw'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** What a user sees to recognise a token later: its prefix and last 4 characters. */
export function tokenHint(token: string): string {
  return `${token.slice(0, token.indexOf('_') + 1)}…${token.slice(-4)}`;
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
