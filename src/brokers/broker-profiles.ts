import { z } from 'zod';
import { BROKER_NAMES, type BrokerName, type OrderType } from './broker-adapter';

const credentialFieldSchema = z.object({
  name: z.string(),
  label: z.string(),
  /** A secret is write-only: a password input, never prefilled, never shown back. */
  secret: z.boolean(),
  /** A PEM or other multi-line value. */
  multiline: z.boolean().optional(),
});

/** What a broker offers and asks for, as `GET /v1/brokers` shows it and the console builds its forms from. */
export const brokerProfileSchema = z.object({
  broker: z.enum(BROKER_NAMES),
  title: z.string(),
  /** What each environment a connection may use is at this broker; an environment not listed is refused. */
  environments: z.object({ paper: z.string().optional(), live: z.string().optional() }),
  credentialFields: z.array(credentialFieldSchema),
  assetClasses: z.array(z.enum(['us_equities', 'crypto', 'forex', 'futures', 'simulated'])),
  orderTypes: z.array(z.enum(['market', 'limit', 'stop', 'stop_limit'])),
  /** Take-profit/stop-loss legs on an entry: both or either, both together only, or none. */
  brackets: z.enum(['both_or_one', 'both_only', 'none']),
  stopLimitStopLoss: z.boolean(),
  trailingStopLoss: z.array(z.enum(['percent', 'amount'])),
  options: z.boolean(),
  /** Where options are supported: what an option order may be there (whole contracts always). */
  optionOrders: z
    .object({
      orderTypes: z.array(z.enum(['market', 'limit', 'stop', 'stop_limit'])),
      timesInForce: z.array(z.enum(['day', 'gtc', 'ioc', 'fok'])),
      brackets: z.boolean(),
      note: z.string(),
    })
    .optional(),
  futures: z.boolean(),
  /** How Switchyard learns what a key may do (see PermissionReport.inspection). */
  permissionInspection: z.enum(['inspected', 'single_tier', 'not_exposed', 'trading_only']),
  /** Whether revoking a connection also revokes the key at the broker. */
  revokesKeyAtBroker: z.boolean(),
  /** Where a broker can be reached more than one way (IBKR: gateway or OAuth), which ways Switchyard offers. */
  connectionModes: z.array(z.object({ mode: z.string(), available: z.boolean(), note: z.string() })).optional(),
});
export type BrokerProfile = z.infer<typeof brokerProfileSchema>;

const ALL_ORDER_TYPES: OrderType[] = ['market', 'limit', 'stop', 'stop_limit'];

export const BROKER_PROFILES: Record<BrokerName, BrokerProfile> = {
  paper: {
    broker: 'paper',
    title: 'Paper broker (simulated fills)',
    environments: { paper: 'simulated fills inside Switchyard; no broker is called' },
    credentialFields: [],
    assetClasses: ['simulated'],
    orderTypes: ALL_ORDER_TYPES,
    brackets: 'both_or_one',
    stopLimitStopLoss: true,
    trailingStopLoss: ['percent', 'amount'],
    options: false,
    futures: false,
    permissionInspection: 'trading_only',
    revokesKeyAtBroker: false,
  },
  alpaca: {
    broker: 'alpaca',
    title: 'Alpaca',
    environments: { paper: 'Alpaca paper trading (paper-api.alpaca.markets)', live: 'Alpaca live trading (api.alpaca.markets)' },
    credentialFields: [
      { name: 'apiKey', label: 'API key ID', secret: false },
      { name: 'apiSecret', label: 'API secret key', secret: true },
    ],
    assetClasses: ['us_equities', 'crypto'],
    orderTypes: ALL_ORDER_TYPES,
    brackets: 'both_or_one',
    stopLimitStopLoss: true,
    trailingStopLoss: [],
    options: true,
    optionOrders: {
      orderTypes: ALL_ORDER_TYPES,
      timesInForce: ['day'],
      brackets: false,
      note: "US equity options by OCC symbol or a selection rule resolved against Alpaca's contract listing; the account's options trading level is checked before sending (level 2 to buy calls and puts, level 1 to sell covered calls and cash-secured puts).",
    },
    futures: false,
    permissionInspection: 'trading_only',
    revokesKeyAtBroker: false,
  },
  binance: {
    broker: 'binance',
    title: 'Binance (spot; a key without withdrawals)',
    environments: { paper: 'the Binance Spot Testnet (testnet.binance.vision, test funds)', live: 'the Binance exchange (api.binance.com)' },
    credentialFields: [
      { name: 'apiKey', label: 'API key', secret: false },
      { name: 'apiSecret', label: 'Secret key', secret: true },
    ],
    assetClasses: ['crypto'],
    orderTypes: ['market', 'limit', 'stop_limit'],
    brackets: 'none',
    stopLimitStopLoss: false,
    trailingStopLoss: [],
    options: false,
    futures: false,
    permissionInspection: 'inspected',
    revokesKeyAtBroker: false,
  },
  coinbase: {
    broker: 'coinbase',
    title: 'Coinbase Advanced Trade (a CDP key that cannot transfer)',
    environments: { live: 'Coinbase Advanced Trade (api.coinbase.com); Coinbase has no paper trading' },
    credentialFields: [
      { name: 'apiKeyName', label: 'API key name (organizations/…/apiKeys/…)', secret: false },
      { name: 'privateKey', label: 'Private key (PEM)', secret: true, multiline: true },
    ],
    assetClasses: ['crypto'],
    orderTypes: ['market', 'limit', 'stop_limit'],
    brackets: 'both_only',
    stopLimitStopLoss: false,
    trailingStopLoss: [],
    options: false,
    futures: false,
    permissionInspection: 'inspected',
    revokesKeyAtBroker: false,
  },
  oanda: {
    broker: 'oanda',
    title: 'OANDA (a single permission tier: the token can trade, not withdraw)',
    environments: { paper: 'an OANDA practice account (fxpractice)', live: 'an OANDA live account (fxtrade)' },
    credentialFields: [
      { name: 'accountId', label: 'Account ID', secret: false },
      { name: 'token', label: 'Personal access token', secret: true },
    ],
    assetClasses: ['forex'],
    orderTypes: ['market', 'limit', 'stop'],
    brackets: 'both_or_one',
    stopLimitStopLoss: false,
    trailingStopLoss: ['amount'],
    options: false,
    futures: false,
    permissionInspection: 'single_tier',
    revokesKeyAtBroker: false,
  },
  tradovate: {
    broker: 'tradovate',
    title: 'Tradovate (futures; the API cannot withdraw)',
    environments: { paper: 'a Tradovate demo account (demo.tradovateapi.com)', live: 'a Tradovate live account (live.tradovateapi.com)' },
    credentialFields: [
      { name: 'name', label: 'Tradovate username', secret: false },
      { name: 'password', label: 'Tradovate password', secret: true },
      { name: 'appId', label: 'App ID (the name given to the API key)', secret: false },
      { name: 'appVersion', label: 'App version (optional, 1.0 when empty)', secret: false },
      { name: 'cid', label: 'API key client ID (cid)', secret: false },
      { name: 'sec', label: 'API key secret (sec)', secret: true },
    ],
    assetClasses: ['futures'],
    orderTypes: ALL_ORDER_TYPES,
    brackets: 'both_or_one',
    stopLimitStopLoss: true,
    trailingStopLoss: [],
    options: false,
    futures: true,
    permissionInspection: 'single_tier',
    revokesKeyAtBroker: false,
  },
  ibkr: {
    broker: 'ibkr',
    title: 'Interactive Brokers (gateway mode: your own Client Portal Gateway or IBeam; OAuth mode is not offered yet; the Web API cannot withdraw)',
    environments: {
      paper: 'an IBKR paper account (DU…) logged in at your gateway',
      live: 'an IBKR live account logged in at your gateway',
    },
    credentialFields: [
      { name: 'gatewayUrl', label: 'Gateway base URL (https://…, your Client Portal Gateway or IBeam)', secret: true },
      { name: 'accountId', label: 'Account ID (U… or DU…)', secret: false },
    ],
    assetClasses: ['us_equities', 'futures'],
    orderTypes: ALL_ORDER_TYPES,
    brackets: 'both_or_one',
    stopLimitStopLoss: true,
    trailingStopLoss: [],
    options: false,
    futures: true,
    permissionInspection: 'single_tier',
    revokesKeyAtBroker: false,
    connectionModes: [
      { mode: 'gateway', available: true, note: 'your own Client Portal Gateway or IBeam, logged in, at an https URL Switchyard can reach' },
      { mode: 'oauth', available: false, note: "IBKR's OAuth 1.0a for the Web API is not offered yet" },
    ],
  },
};
