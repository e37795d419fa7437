import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { sha256 } from '../../src/common/bearer-secrets';
import { verifyStandardWebhook, verifyToken } from '../../src/signals/webhook-verifier';

const key = randomBytes(32);
const otherKey = randomBytes(32);
const sender = new Webhook(key.toString('base64'));
const body = JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: '10' });
const now = Math.floor(Date.now() / 1000);

function headers(at = now, payload = body, id = 'msg_1', signer = sender) {
  return { id, timestamp: String(at), signature: signer.sign(id, new Date(at * 1000), payload) };
}

describe('verifyStandardWebhook', () => {
  const keys = [{ version: 1, key }];

  it('accepts a delivery signed by a Standard Webhooks sender', () => {
    expect(verifyStandardWebhook(headers(), body, keys, now)).toEqual({ ok: true, version: 1 });
  });

  it('accepts timestamps up to five minutes off in either direction', () => {
    expect(verifyStandardWebhook(headers(now - 300), body, keys, now).ok).toBe(true);
    expect(verifyStandardWebhook(headers(now + 300), body, keys, now).ok).toBe(true);
  });

  it('refuses stale and future-dated deliveries', () => {
    expect(verifyStandardWebhook(headers(now - 301), body, keys, now)).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
    expect(verifyStandardWebhook(headers(now + 301), body, keys, now)).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
  });

  it('refuses a tampered or re-serialised body', () => {
    const h = headers();
    expect(verifyStandardWebhook(h, body.replace('10', '100'), keys, now).ok).toBe(false);
    expect(verifyStandardWebhook(h, JSON.stringify(JSON.parse(body), null, 2), keys, now).ok).toBe(false);
  });

  it('refuses a wrong secret, a changed id and a changed timestamp', () => {
    expect(verifyStandardWebhook(headers(), body, [{ version: 1, key: otherKey }], now)).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(verifyStandardWebhook({ ...headers(), id: 'msg_2' }, body, keys, now).ok).toBe(false);
    expect(verifyStandardWebhook({ ...headers(), timestamp: String(now - 1) }, body, keys, now).ok).toBe(false);
  });

  it('refuses missing and malformed headers', () => {
    const h = headers();
    expect(verifyStandardWebhook({ ...h, id: undefined }, body, keys, now)).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifyStandardWebhook({ ...h, timestamp: undefined }, body, keys, now)).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifyStandardWebhook({ ...h, signature: undefined }, body, keys, now)).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifyStandardWebhook({ ...h, timestamp: '12e9' }, body, keys, now)).toEqual({ ok: false, reason: 'malformed_headers' });
    expect(verifyStandardWebhook({ ...h, signature: 'v2,abc' }, body, keys, now)).toEqual({ ok: false, reason: 'malformed_headers' });
    expect(verifyStandardWebhook({ ...h, signature: h.signature.slice(0, -4) }, body, keys, now).ok).toBe(false);
  });

  it('accepts any of several v1 signatures against any active version (rotation)', () => {
    const oldSender = new Webhook(otherKey.toString('base64'));
    const both = `${headers(now, body, 'msg_1', oldSender).signature} ${headers().signature}`;
    const h = { ...headers(), signature: both };
    expect(verifyStandardWebhook(h, body, [{ version: 2, key }], now)).toEqual({ ok: true, version: 2 });
    expect(verifyStandardWebhook(h, body, [{ version: 1, key: otherKey }], now)).toEqual({ ok: true, version: 1 });
    expect(
      verifyStandardWebhook(
        headers(now, body, 'msg_1', oldSender),
        body,
        [
          { version: 2, key },
          { version: 1, key: otherKey },
        ],
        now,
      ),
    ).toEqual({ ok: true, version: 1 });
  });

  it('ignores non-v1 entries next to a valid one', () => {
    const h = headers();
    expect(verifyStandardWebhook({ ...h, signature: `v1a,${randomBytes(64).toString('base64')} ${h.signature}` }, body, keys, now).ok).toBe(true);
  });
});

describe('verifyToken', () => {
  it('matches the SHA-256 of any active token version', () => {
    const hashes = [
      { version: 2, key: sha256('syw_new') },
      { version: 1, key: sha256('syw_old') },
    ];
    expect(verifyToken('syw_old', hashes)).toEqual({ ok: true, version: 1 });
    expect(verifyToken('syw_new', hashes)).toEqual({ ok: true, version: 2 });
    expect(verifyToken('syw_other', hashes)).toEqual({ ok: false, reason: 'no_matching_token' });
  });
});
