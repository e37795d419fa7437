import { z } from 'zod';
import { Problem } from '../common/problem';
import { toFieldErrors } from '../common/validation';
import { looseEnum, positiveDecimal } from './payload-values';
import { stopLossField, takeProfitField } from './signal-brackets';
import { OPTION_FIELDS, optionFieldSchemas, optionProblems, UNSUPPORTED_OPTION_FIELDS } from './signal-options';

/** Actions after aliases are resolved: `close` is `exit`, `long` is `buy` and `short` is `sell` with that sentiment. */
export const SIGNAL_ACTIONS = ['buy', 'sell', 'exit', 'cancel', 'add'] as const;
/** What the sender may write as the action: the actions plus the aliases other routers document. */
export const ACTION_INPUTS = [...SIGNAL_ACTIONS, 'close', 'long', 'short'] as const;
/** The position the sender wants after the signal (TradingView's {{strategy.market_position}}). */
export const SENTIMENTS = ['long', 'short', 'flat'] as const;
export const SENTIMENT_INPUTS = [...SENTIMENTS, 'bullish', 'bearish'] as const;
export const ORDER_TYPES = ['market', 'limit', 'stop', 'stop_limit'] as const;
export const TIMES_IN_FORCE = ['day', 'gtc', 'ioc', 'fok'] as const;

export const TICKER = /^[A-Za-z0-9][A-Za-z0-9._:/!^&+=-]{0,63}$/;
// Printable text without control, format or unpaired surrogate code points.
const TEXT = /^[^\p{C}]+$/u;
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(2100, 0, 1);

const signalId = z.unknown().transform((value, ctx): string => {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (text.length < 1 || text.length > 200 || !TEXT.test(text)) {
    ctx.addIssue({ code: 'custom', message: 'must be 1-200 printable characters or an integer' });
    return z.NEVER;
  }
  return text;
});

/** ISO 8601 with an offset (TradingView's {{timenow}}), or epoch seconds/milliseconds; stored as ISO. */
const signalTime = z.unknown().transform((value, ctx): string => {
  let ms = Number.NaN;
  if (typeof value === 'number' && Number.isFinite(value)) ms = value < 1e11 ? value * 1000 : value;
  else if (typeof value === 'string' && z.iso.datetime({ offset: true }).safeParse(value.trim()).success) ms = Date.parse(value.trim());
  if (!(ms >= EARLIEST && ms < LATEST)) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date-time with offset (e.g. 2026-01-02T15:04:05Z) or epoch seconds/milliseconds' });
    return z.NEVER;
  }
  return new Date(ms).toISOString();
});

/** Field names this schema reads; anything else is kept in the raw payload and listed as ignored. */
export const KNOWN_FIELDS = new Set([
  'ticker',
  'action',
  'sentiment',
  'marketPosition',
  'quantity',
  'orderType',
  'limitPrice',
  'stopPrice',
  'price',
  'signalPrice',
  'timeInForce',
  'takeProfit',
  'stopLoss',
  'id',
  'time',
  ...OPTION_FIELDS,
  ...UNSUPPORTED_OPTION_FIELDS,
]);
/** Bounds on the ignored-field list: it is shown back to users and must not grow with the body. */
const MAX_IGNORED_FIELDS = 50;
const MAX_FIELD_NAME = 64;

/**
 * The TradingView-compatible signal body. Unknown fields do not reach routing; they stay in the stored
 * raw payload (untrusted) and their names are listed in `ignoredFields`, so nothing is dropped unseen.
 * Aliases other routers document are folded into one form: `close` → `exit`, `long`/`short` actions →
 * `buy`/`sell` with that sentiment, `marketPosition` → `sentiment`, `bullish`/`bearish` → `long`/`short`,
 * `signalPrice` → `price`.
 */
export const signalPayloadSchema = z
  .object(
    {
      ticker: z
        .string({ error: 'is required (a string such as "NASDAQ:AAPL")' })
        .trim()
        .regex(TICKER, 'must be 1-64 characters of letters, digits and . _ : / ! ^ & + = -'),
      action: looseEnum(ACTION_INPUTS),
      sentiment: looseEnum(SENTIMENT_INPUTS).optional(),
      marketPosition: looseEnum(SENTIMENT_INPUTS).optional(),
      quantity: positiveDecimal.optional(),
      orderType: looseEnum(ORDER_TYPES).default('market'),
      limitPrice: positiveDecimal.optional(),
      stopPrice: positiveDecimal.optional(),
      price: positiveDecimal.optional(),
      signalPrice: positiveDecimal.optional(),
      timeInForce: looseEnum(TIMES_IN_FORCE).optional(),
      takeProfit: takeProfitField.optional(),
      stopLoss: stopLossField.optional(),
      id: signalId.optional(),
      time: signalTime.optional(),
      ...optionFieldSchemas,
      delta: unsupported('nearest-delta selection is not supported yet: choose the strike by strikePrice or strikesAway'),
    },
    { error: 'must be a JSON object' },
  )
  .refine((s) => !(s.orderType === 'limit' || s.orderType === 'stop_limit') || s.limitPrice !== undefined, {
    path: ['limitPrice'],
    message: 'is required when orderType is limit or stop_limit',
    when: isObjectPayload,
  })
  .refine((s) => !(s.orderType === 'stop' || s.orderType === 'stop_limit') || s.stopPrice !== undefined, {
    path: ['stopPrice'],
    message: 'is required when orderType is stop or stop_limit',
    when: isObjectPayload,
  })
  .refine((s) => !s.sentiment || !s.marketPosition || sentimentOf(s.sentiment) === sentimentOf(s.marketPosition), {
    path: ['marketPosition'],
    message: 'disagrees with sentiment (send one of them)',
    when: isObjectPayload,
  })
  .refine((s) => s.price === undefined || s.signalPrice === undefined || s.price === s.signalPrice, {
    path: ['signalPrice'],
    message: 'disagrees with price (send one of them)',
    when: isObjectPayload,
  })
  .transform((body, ctx) => {
    const { sentiment: given, marketPosition, signalPrice, action: input, delta: _delta, ...rest } = body;
    const implied = input === 'long' || input === 'short' ? input : undefined;
    const stated = given ?? marketPosition;
    const sentiment = stated ? sentimentOf(stated) : implied;
    const action = input === 'close' ? 'exit' : input === 'long' ? 'buy' : input === 'short' ? 'sell' : input;
    const problem = combinationProblem(action, sentiment, implied);
    if (problem) {
      ctx.addIssue({ code: 'custom', path: [stated ? (given ? 'sentiment' : 'marketPosition') : 'action'], message: problem });
      return z.NEVER;
    }
    const price = rest.price ?? signalPrice;
    const optionIssues = optionProblems({ ...rest, action: input, sentiment, price });
    for (const [field, message] of optionIssues) ctx.addIssue({ code: 'custom', path: [field], message });
    if (optionIssues.length) return z.NEVER;
    return { ...rest, action, ...(sentiment && { sentiment }), ...(price !== undefined && { price }) };
  });

export type SignalPayload = z.infer<typeof signalPayloadSchema> & { ignoredFields?: string[] };

/** A field other routers send that would change the order's meaning here: refused rather than ignored. */
function unsupported(message: string) {
  return z
    .unknown()
    .superRefine((_value, ctx) => ctx.addIssue({ code: 'custom', message }))
    .optional();
}

function sentimentOf(value: (typeof SENTIMENT_INPUTS)[number]): (typeof SENTIMENTS)[number] {
  return value === 'bullish' ? 'long' : value === 'bearish' ? 'short' : value;
}

/** Sentiments that cannot mean anything with the action (a 422 rather than a guess). */
function combinationProblem(
  action: (typeof SIGNAL_ACTIONS)[number],
  sentiment: (typeof SENTIMENTS)[number] | undefined,
  implied: string | undefined,
): string | undefined {
  if (implied && sentiment !== implied) return `contradicts the action ${implied}`;
  if (!sentiment) return undefined;
  if (action === 'cancel') return 'cannot be combined with action cancel';
  if (action === 'exit' && sentiment !== 'flat') return 'must be flat (or absent) with action exit';
  if (action === 'add' && sentiment === 'flat') return 'cannot be flat with action add';
  return undefined;
}

// Cross-field rules also run when other fields are invalid, so one 422 lists every problem.
function isObjectPayload(payload: { value: unknown }): boolean {
  return typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value);
}

/**
 * The parsed body (application/json) or the text (text/plain, which TradingView sends when the
 * message is not strict JSON) to a validated payload. 400 for text that is not JSON, 422 listing
 * every bad field otherwise; values are never echoed.
 */
export function parseSignalPayload(body: unknown): SignalPayload {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      throw new Problem(400, 'malformed_json', 'Bad request', 'The request body is not valid JSON.');
    }
  }
  const parsed = signalPayloadSchema.safeParse(value);
  if (!parsed.success) throw Problem.validation(toFieldErrors(parsed.error));
  const ignored = ignoredFields(value as Record<string, unknown>);
  return ignored.length ? { ...parsed.data, ignoredFields: ignored } : parsed.data;
}

/** Names of the body's fields that routing does not read, bounded (names are shown back to the sender's workspace). */
function ignoredFields(body: Record<string, unknown>): string[] {
  const names = Object.keys(body).filter((k) => !KNOWN_FIELDS.has(k));
  const shown = names.slice(0, MAX_IGNORED_FIELDS).map((k) => (k.length > MAX_FIELD_NAME ? `${k.slice(0, MAX_FIELD_NAME)}…` : k).replace(/[\p{C}]/gu, '?'));
  return names.length > MAX_IGNORED_FIELDS ? [...shown, `… and ${names.length - MAX_IGNORED_FIELDS} more`] : shown;
}
