import type { SafeDetails } from './audit-event';

const MAX_STRING = 500;
const KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
// Normalised (lower case, no separators) fragments of key names that hold secrets.
const SECRET_FRAGMENTS = ['secret', 'password', 'passphrase', 'privatekey', 'apikey', 'plaintext', 'authorization', 'cookie', 'datakey'];
const SECRET_NAMES = new Set(['credential', 'credentials', 'signature', 'key']);

/**
 * Audit metadata and alert details are stored and shipped to third parties (PagerDuty, Slack):
 * only flat primitives, bounded, under keys that do not name a secret. Errors name the key, never the value.
 */
export function assertSafeDetails(details: SafeDetails, what: string, maxKeys: number): void {
  const keys = Object.keys(details);
  if (keys.length > maxKeys) throw new TypeError(`${what}: at most ${maxKeys} keys`);
  for (const key of keys) {
    if (!KEY.test(key)) throw new TypeError(`${what}: key "${key.slice(0, 64)}" is not a plain identifier`);
    const normalised = key.toLowerCase().replace(/[_.-]/g, '');
    if (SECRET_NAMES.has(normalised) || normalised.endsWith('token') || SECRET_FRAGMENTS.some((f) => normalised.includes(f))) {
      throw new TypeError(`${what}: key "${key}" names a secret; audit and alerts carry ids and flags only`);
    }
    const value: unknown = details[key];
    if (value === null || typeof value === 'boolean') continue;
    if (typeof value === 'number' && Number.isFinite(value)) continue;
    if (typeof value === 'string' && value.length <= MAX_STRING && !value.includes('\u0000')) continue;
    throw new TypeError(`${what}: value of "${key}" must be null, a boolean, a finite number or a string of at most ${MAX_STRING} characters`);
  }
}
