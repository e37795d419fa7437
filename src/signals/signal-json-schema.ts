import { STOP_LOSS_TYPES } from './signal-brackets';
import { INTRINSIC_VALUES, MAX_STRIKES_AWAY, OPTION_TYPES } from './signal-options';
import { ACTION_INPUTS, ORDER_TYPES, SENTIMENT_INPUTS, TICKER, TIMES_IN_FORCE } from './signal-payload';

/**
 * The signal body as a JSON Schema (draft 2020-12), served at GET /v1/schemas/signal and used as the
 * webhooks' OpenAPI body. Built from the parser's own constants; a test checks that it names the parser's
 * fields and accepts every body parseSignalPayload accepts (the parser stays the authority on ranges and
 * on which sentiments combine with which actions).
 */

/** Enum values are read case-insensitively with surrounding spaces, as the parser does. */
function anyCase(values: readonly string[], description: string) {
  const alternatives = values.map((v) => [...v].map((c) => (/[a-z]/.test(c) ? `[${c}${c.toUpperCase()}]` : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join(''));
  return { type: 'string', pattern: `^\\s*(?:${alternatives.join('|')})\\s*$`, examples: [...values], description };
}

const decimal = (description: string) => ({
  description: `${description} A positive decimal: a number, or a string such as "0.5" (at most 20 integer and 18 fraction digits).`,
  anyOf: [
    { type: 'number', exclusiveMinimum: 0 },
    { type: 'string', pattern: '^\\s*(?=[0.]*[1-9])\\d{1,20}(?:\\.\\d{1,18})?\\s*$' },
  ],
});

/** An object holding exactly one of `properties`. */
const oneOfKeys = (properties: Record<string, object>) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  oneOf: Object.keys(properties).map((key) => ({ required: [key] })),
});

const needs = (types: string[], field: string) => ({
  if: { required: ['orderType'], properties: { orderType: anyCase(types, '') } },
  then: { required: [field] },
});

export const SIGNAL_PROPERTIES = {
  ticker: {
    type: 'string',
    pattern: `^\\s*${TICKER.source.slice(1, -1)}\\s*$`,
    description: 'The instrument as TradingView sends it (NASDAQ:AAPL, BINANCE:BTCUSDT, OANDA:EURUSD, ES1!).',
  },
  action: anyCase(ACTION_INPUTS, 'buy, sell, exit (alias close), cancel, add; long and short mean buy and sell with that sentiment.'),
  sentiment: anyCase(SENTIMENT_INPUTS, 'The position wanted afterwards ({{strategy.market_position}}); bullish = long, bearish = short.'),
  marketPosition: anyCase(SENTIMENT_INPUTS, 'Alias of sentiment; when both are sent they must agree.'),
  quantity: decimal('The signal quantity ({{strategy.order.contracts}}).'),
  orderType: anyCase(ORDER_TYPES, 'Default market.'),
  limitPrice: decimal('Required for limit and stop_limit orders.'),
  stopPrice: decimal('Required for stop and stop_limit orders.'),
  price: decimal('The signal price ({{close}}): the reference for sizing, limits and paper fills.'),
  signalPrice: decimal('Alias of price; when both are sent they must be equal.'),
  timeInForce: anyCase(TIMES_IN_FORCE, "Default: the broker's default for the instrument."),
  takeProfit: {
    description:
      "Take-profit attached to an entry: its limit price, or {limitPrice} | {percent} | {amount} — a distance from the reference price (the order's limit price, else its stop price, else the signal price), above a buy and below a sell.",
    anyOf: [
      decimal('The limit price.'),
      oneOfKeys({
        limitPrice: decimal('The limit price.'),
        percent: decimal('Percent of the reference price.'),
        amount: decimal('Price distance from the reference price.'),
      }),
    ],
  },
  stopLoss: {
    description:
      'Stop-loss attached to an entry: its stop price, or an object: type stop (default) or stop_limit with stopPrice | percent | amount (a distance from the reference price, below a buy and above a sell) and, for stop_limit, limitPrice; type trailing_stop with trailPercent | trailAmount.',
    anyOf: [
      decimal('The stop price.'),
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          type: anyCase(STOP_LOSS_TYPES, 'Default stop.'),
          stopPrice: decimal('The stop price.'),
          percent: decimal('Percent of the reference price (below 100).'),
          amount: decimal('Price distance from the reference price.'),
          limitPrice: decimal('The limit price of a stop_limit stop-loss.'),
          trailPercent: decimal("A trailing stop's trail in percent (below 100)."),
          trailAmount: decimal("A trailing stop's trail as a price distance."),
        },
      },
    ],
  },
  optionType: anyCase(OPTION_TYPES, 'Option selection rule: trade a call or a put of the ticker (the underlying). Needs expiration and a strike rule.'),
  expiration: {
    type: 'string',
    description:
      'Option selection rule: the expiration, a date (YYYY-MM-DD, not past) or an offset such as "+30 days", "+2 weeks", "+6 months" (at most 1100 days): the first listed expiration on or after it.',
    pattern: '^\\s*(?:\\d{4}-\\d{2}-\\d{2}|\\+\\s*\\d{1,4}\\s*(?:[dD](?:[aA][yY][sS]?)?|[wW](?:[eE][eE][kK][sS]?)?|[mM](?:[oO][nN][tT][hH][sS]?)?))\\s*$',
  },
  strikePrice: decimal('Option selection rule: exactly this strike (at most 3 decimals); not with strikesAway or intrinsicValue.'),
  strikesAway: {
    description: `Option selection rule: 0 takes the strike nearest the price; n counts listed strikes from the price in the intrinsicValue direction. Needs price. 0-${MAX_STRIKES_AWAY}.`,
    anyOf: [
      { type: 'integer', minimum: 0, maximum: MAX_STRIKES_AWAY },
      { type: 'string', pattern: '^\\s*\\d{1,3}\\s*$' },
    ],
  },
  intrinsicValue: anyCase(INTRINSIC_VALUES, 'Option selection rule: count strikesAway in the money (itm) or out of the money (otm).'),
  delta: { description: 'Refused: nearest-delta selection is not supported yet.', not: {} },
  id: {
    description: 'Idempotency key (24 h) when the request has no webhook-id: 1-200 printable characters or an integer.',
    anyOf: [{ type: 'integer' }, { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\p{C}]+$' }],
  },
  time: {
    description: 'When the sender made the signal: ISO 8601 with an offset ({{timenow}}) or epoch seconds/milliseconds (2000-2100).',
    anyOf: [{ type: 'number' }, { type: 'string', pattern: '^\\s*\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})\\s*$' }],
  },
};

export const SIGNAL_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: '/v1/schemas/signal',
  title: 'Switchyard signal',
  description:
    "The body of POST /hooks/{sourceId} (JSON, or text/plain holding JSON). Other fields are accepted, kept in the raw body and listed in the signal's ignoredFields. See docs/signals.md.",
  type: 'object',
  required: ['ticker', 'action'],
  properties: SIGNAL_PROPERTIES,
  additionalProperties: true,
  allOf: [
    needs(['limit', 'stop_limit'], 'limitPrice'),
    needs(['stop', 'stop_limit'], 'stopPrice'),
    { if: { required: ['optionType'] }, then: { required: ['expiration'] } },
    { if: { required: ['strikesAway'] }, then: { required: ['price'] } },
    { if: { required: ['strikePrice'] }, then: { not: { anyOf: [{ required: ['strikesAway'] }, { required: ['intrinsicValue'] }] } } },
  ],
} as const;
