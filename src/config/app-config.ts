import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

const optionalUrl = z.url().optional();
// An operator allowlist entry for outbound requests: a host name, an IP address or a CIDR range.
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const isOutboundAllowEntry = (entry: string) => ipaddr.isValid(entry) || ipaddr.isValidCIDR(entry) || HOST_NAME.test(entry);
const outboundAllowList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean),
  )
  .refine((entries) => entries.every(isOutboundAllowEntry), 'must be comma-separated host names, IP addresses or CIDR ranges');
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Every variable the service reads. Nothing outside src/config/ reads process.env. */
const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default('127.0.0.1'),
    PUBLIC_BASE_URL: optionalUrl,
    // /metrics has its own listener, loopback unless told otherwise; 0 picks a free port (tests, several apis on one host).
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    METRICS_HOST: z.string().default('127.0.0.1'),
    // The Swagger UI and OpenAPI document at /docs: public when on, so off by default in production.
    DOCS_ENABLED: bool.optional(),
    // Which proxies may set X-Forwarded-For: a hop count or comma-separated addresses/CIDRs; unset trusts none.
    TRUST_PROXY: z
      .string()
      .regex(/^(\d{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$/, 'must be a hop count or comma-separated IPs/CIDRs')
      .optional(),
    DATA_DIR: z.string().default('./.data'),
    // The built console (vite build web) the api serves at /.
    CONSOLE_DIR: z.string().default('./web/dist'),
    // A console session ends after this long without a request, and after the absolute lifetime whatever its use.
    CONSOLE_SESSION_IDLE_MINUTES: z.coerce.number().int().min(1).max(1440).default(30),
    CONSOLE_SESSION_MAX_HOURS: z.coerce.number().int().min(1).max(168).default(12),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // auto: human-readable lines on a terminal outside production, JSON lines otherwise.
    LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),

    DATABASE_URL: optionalUrl,
    DATABASE_API_URL: optionalUrl,
    DATABASE_WORKER_URL: optionalUrl,
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    // Hot-path statements are parsed and planned once per connection; off behind poolers that cannot keep them (PgBouncer < 1.21).
    DATABASE_PREPARED_STATEMENTS: bool.default(true),
    REDIS_URL: optionalUrl,
    QUEUE_PREFIX: z
      .string()
      .regex(/^[a-z0-9_{}:-]+$/)
      .default('{switchyard}'),
    // A crashed worker's job (and, through signal order, its connection) waits up to 1.5x this before another takes it.
    QUEUE_JOB_LOCK_MS: z.coerce.number().int().min(2_000).max(300_000).default(10_000),

    KMS_PROVIDER: z.enum(['local', 'aws']).optional(),
    KMS_KEY_ID: z.string().min(1).optional(),
    KMS_ENDPOINT: optionalUrl,
    AWS_REGION: z.string().default('us-east-1'),
    AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
    AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    AWS_SESSION_TOKEN: z.string().min(1).optional(),
    KMS_ALLOW_LOCAL_IN_PRODUCTION: bool.default(false),
    DATA_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
    DATA_KEY_CACHE_MAX_USES: z.coerce.number().int().min(0).max(1_000_000).default(1000),

    PLATFORM_ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
    // The `iss` of member JWTs: deployments that share a JWT_SECRET still refuse each other's tokens when they differ.
    JWT_ISSUER: z.string().min(1).max(200).default('switchyard'),
    // An API token's lifetime when none is asked for, and the longest one that may be (only an owner may ask for "never").
    API_TOKEN_MAX_LIFETIME_DAYS: z.coerce.number().int().min(1).max(3650).default(90),

    PAGER_PAGERDUTY_ROUTING_KEY: z.string().optional(),
    PAGER_PAGERDUTY_URL: z.url().default('https://events.pagerduty.com/v2/enqueue'),
    PAGER_SLACK_WEBHOOK_URL: optionalUrl,
    PAGER_WEBHOOK_URL: optionalUrl,
    PAGER_WEBHOOK_SECRET: z.string().optional(),

    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
    WEBHOOK_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
    // GET /v1/audit/verify scans a chain: per workspace, within RATE_LIMIT_WINDOW_SECONDS.
    AUDIT_VERIFY_PER_MINUTE: z.coerce.number().int().min(1).max(1000).default(10),
    // Per sender IP across all sources: TradingView delivers every customer's alerts from four addresses.
    WEBHOOK_IP_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(6000),
    // The window the per-minute limits above count in (tests shorten it).
    RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    // Where limits are counted for every api replica: auto is Redis when REDIS_URL is set, else PostgreSQL.
    RATE_LIMIT_STORE: z.enum(['auto', 'postgres', 'redis']).default('auto'),
    // Sign-in lockouts: failures per account (e-mail) and per IP across accounts within the window lock for
    // LOGIN_LOCKOUT_SECONDS, doubled on each repeated lockout up to LOGIN_LOCKOUT_MAX_SECONDS.
    LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
    LOGIN_IP_MAX_FAILURES: z.coerce.number().int().min(1).max(100_000).default(20),
    LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    LOGIN_LOCKOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    LOGIN_LOCKOUT_MAX_SECONDS: z.coerce.number().int().min(1).max(604_800).default(3600),
    // Unknown bearer tokens (guesses at the platform token among them) per IP, same window and lockouts.
    TOKEN_IP_MAX_FAILURES: z.coerce.number().int().min(1).max(100_000).default(20),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(65_536),

    BROKER_ALPACA_BASE_URL: z.url().default('https://paper-api.alpaca.markets'),
    BROKER_ALPACA_LIVE_BASE_URL: z.url().default('https://api.alpaca.markets'),
    BROKER_BINANCE_BASE_URL: z.url().default('https://api.binance.com'),
    // Binance's WebSocket API (user data stream subscriptions) lives on a host of its own.
    BROKER_BINANCE_WS_API_URL: z.url().default('wss://ws-api.binance.com:443/ws-api/v3'),
    // Paper connections at Binance trade on the Spot Testnet (test funds), never on the exchange.
    BROKER_BINANCE_TESTNET_BASE_URL: z.url().default('https://testnet.binance.vision'),
    BROKER_BINANCE_TESTNET_WS_API_URL: z.url().default('wss://ws-api.testnet.binance.vision/ws-api/v3'),
    BROKER_COINBASE_BASE_URL: z.url().default('https://api.coinbase.com'),
    BROKER_COINBASE_WS_USER_URL: z.url().default('wss://advanced-trade-ws-user.coinbase.com'),
    BROKER_OANDA_BASE_URL: z.url().default('https://api-fxpractice.oanda.com'),
    BROKER_OANDA_LIVE_BASE_URL: z.url().default('https://api-fxtrade.oanda.com'),
    // OANDA serves its transaction stream from a host of its own.
    BROKER_OANDA_STREAM_URL: z.url().default('https://stream-fxpractice.oanda.com'),
    BROKER_OANDA_LIVE_STREAM_URL: z.url().default('https://stream-fxtrade.oanda.com'),
    BROKER_TRADOVATE_BASE_URL: z.url().default('https://demo.tradovateapi.com/v1'),
    BROKER_TRADOVATE_LIVE_BASE_URL: z.url().default('https://live.tradovateapi.com/v1'),
    // Continuous futures (ES1!) move to the next contract this many days before the front month expires.
    BROKER_FUTURES_ROLL_DAYS: z.coerce.number().int().min(0).max(60).optional(),
    // The earlier, Tradovate-only name of BROKER_FUTURES_ROLL_DAYS, still honoured.
    BROKER_TRADOVATE_ROLL_DAYS: z.coerce.number().int().min(0).max(60).optional(),
    // IBKR's own Web API host for OAuth connections (gateway connections go to the user's gateway instead).
    BROKER_IBKR_OAUTH_BASE_URL: z.url().default('https://api.ibkr.com/v1/api'),
    BROKER_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
    // Order lifecycle poller: how often a working order is asked for at its broker, how many asks at once, the backoff cap.
    ORDER_SYNC_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(5_000),
    ORDER_SYNC_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    ORDER_SYNC_MAX_BACKOFF_MS: z.coerce.number().int().min(100).max(3_600_000).default(300_000),
    SNAPSHOT_MAX_AGE_MS: z.coerce.number().int().min(0).max(86_400_000).default(15_000),
    SNAPSHOT_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(2_000),

    // Requests to user-given URLs (order webhooks): private, loopback, link-local and metadata addresses are
    // refused unless an entry here names the host or covers the address (e.g. "hooks.internal,10.20.0.0/16").
    OUTBOUND_ALLOW_HOSTS: outboundAllowList.default([]),
    // A PEM bundle trusted besides the system CAs for those requests (a private CA; tests use a self-signed one).
    OUTBOUND_CA_FILE: z.string().min(1).optional(),
    OUTBOUND_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
    OUTBOUND_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    OUTBOUND_MAX_RESPONSE_BYTES: z.coerce.number().int().min(0).max(10_485_760).default(65_536),
    // Order webhooks out: how often the worker looks for due deliveries, attempts per event, the first retry's delay (doubling).
    WEBHOOK_DELIVERY_INTERVAL_MS: z.coerce.number().int().min(20).max(60_000).default(1_000),
    WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
    WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
    // Broker event streams: at most this many per worker (0: none, polling only); how often the worker looks for
    // connections to stream; the reconnect backoff cap; how long a streamed order may go unpolled (a safety poll).
    ORDER_STREAMS_MAX: z.coerce.number().int().min(0).max(10_000).default(200),
    ORDER_STREAM_REFRESH_MS: z.coerce.number().int().min(50).max(600_000).default(2_000),
    ORDER_STREAM_RECONNECT_MAX_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    ORDER_STREAM_SAFETY_POLL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),

    // Notifications to members by e-mail: smtp://user:password@host:587 (STARTTLS when offered) or smtps://…:465. The
    // password is a secret: the worker alone gets it (see processEnvironment). Unset: notifications are recorded, not mailed.
    SMTP_URL: z
      .url()
      .refine((v) => /^smtps?:$/.test(new URL(v).protocol), 'must be an smtp:// or smtps:// URL')
      .optional(),
    SMTP_FROM: z.string().trim().min(3).max(320).regex(/@/, 'must be an e-mail address, optionally with a name: Switchyard <alerts@example.com>').optional(),
    SMTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    // How often the mail loop looks for due mail; how long a member's first event waits for others to share its mail;
    // the least time between two mails to one member (the digest); the first retry's delay after an SMTP failure (doubling) and its cap.
    NOTIFICATION_INTERVAL_MS: z.coerce.number().int().min(20).max(60_000).default(1_000),
    NOTIFICATION_GATHER_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
    NOTIFICATION_DIGEST_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
    NOTIFICATION_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
    NOTIFICATION_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(900_000),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && !env.KMS_PROVIDER) {
      ctx.addIssue({ code: 'custom', path: ['KMS_PROVIDER'], message: 'must be set explicitly when NODE_ENV=production' });
    }
    if ((env.AWS_ACCESS_KEY_ID === undefined) !== (env.AWS_SECRET_ACCESS_KEY === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['AWS_SECRET_ACCESS_KEY'], message: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set together or not at all' });
    }
    if (env.KMS_PROVIDER === 'aws' && !env.KMS_KEY_ID) {
      ctx.addIssue({ code: 'custom', path: ['KMS_KEY_ID'], message: 'is required when KMS_PROVIDER=aws' });
    }
    if (env.RATE_LIMIT_STORE === 'redis' && !env.REDIS_URL) {
      ctx.addIssue({ code: 'custom', path: ['RATE_LIMIT_STORE'], message: 'redis needs REDIS_URL' });
    }
    if (env.LOGIN_LOCKOUT_MAX_SECONDS < env.LOGIN_LOCKOUT_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['LOGIN_LOCKOUT_MAX_SECONDS'], message: 'must be at least LOGIN_LOCKOUT_SECONDS' });
    }
    if (env.SMTP_URL && !env.SMTP_FROM) {
      ctx.addIssue({ code: 'custom', path: ['SMTP_FROM'], message: 'is required when SMTP_URL is set' });
    }
    if (env.NOTIFICATION_RETRY_MAX_MS < env.NOTIFICATION_RETRY_BASE_MS) {
      ctx.addIssue({ code: 'custom', path: ['NOTIFICATION_RETRY_MAX_MS'], message: 'must be at least NOTIFICATION_RETRY_BASE_MS' });
    }
    if (
      env.BROKER_FUTURES_ROLL_DAYS !== undefined &&
      env.BROKER_TRADOVATE_ROLL_DAYS !== undefined &&
      env.BROKER_FUTURES_ROLL_DAYS !== env.BROKER_TRADOVATE_ROLL_DAYS
    ) {
      ctx.addIssue({ code: 'custom', path: ['BROKER_TRADOVATE_ROLL_DAYS'], message: 'is the old name of BROKER_FUTURES_ROLL_DAYS: set one, or both alike' });
    }
    if (env.NODE_ENV === 'production' && env.KMS_PROVIDER === 'local' && !env.KMS_ALLOW_LOCAL_IN_PRODUCTION) {
      ctx.addIssue({ code: 'custom', path: ['KMS_PROVIDER'], message: 'local is refused in production unless KMS_ALLOW_LOCAL_IN_PRODUCTION=true' });
    }
  });

export type BrokerBaseUrls = {
  alpaca: { paper: string; live: string };
  binance: { paper: string; live: string };
  coinbase: string;
  oanda: { paper: string; live: string };
  tradovate: { paper: string; live: string };
  ibkrOAuth: string;
};

/** Failed sign-ins and unknown bearer tokens: how many per window, and how long a lockout lasts. */
export interface LockoutSettings {
  accountFailures: number;
  ipFailures: number;
  tokenIpFailures: number;
  windowMs: number;
  lockoutMs: number;
  maxLockoutMs: number;
}

/** The one typed configuration object; built once at boot from the environment. */
export interface AppConfig {
  env: 'development' | 'production' | 'test';
  http: { port: number; host: string; publicBaseUrl: string; bodyLimitBytes: number; trustProxy: false | number | string[]; docsEnabled: boolean };
  metrics: { port: number; host: string };
  dataDir: string;
  console: { distDir: string; session: { idleMs: number; maxMs: number } };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logFormat: 'auto' | 'pretty' | 'json';
  database: { url?: string; apiUrl?: string; workerUrl?: string; poolSize: number; preparedStatements: boolean };
  queue: { redisUrl?: string; prefix: string; jobLockMs: number };
  kms: {
    provider: 'local' | 'aws';
    keyId?: string;
    endpoint?: string;
    region: string;
    /** Static keys for the aws provider (sensitive); when unset, the SDK's default chain supplies the process's IAM identity. */
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    dataKeyCache: { ttlMs: number; maxUses: number };
  };
  auth: { platformAdminToken?: string; jwtSecret?: string; jwtTtlSeconds: number; jwtIssuer: string; tokenMaxLifetimeDays: number; lockout: LockoutSettings };
  pager: {
    pagerDutyRoutingKey?: string;
    pagerDutyUrl: string;
    slackWebhookUrl?: string;
    webhookUrl?: string;
    webhookSecret?: string;
  };
  rateLimit: {
    perMinute: number;
    webhookPerMinute: number;
    webhookPerIpPerMinute: number;
    auditVerifyPerMinute: number;
    windowMs: number;
    store: 'postgres' | 'redis';
  };
  brokers: {
    baseUrls: BrokerBaseUrls;
    streamUrls: { oanda: { paper: string; live: string }; binance: { paper: string; live: string }; coinbase: string };
    timeoutMs: number;
    /** Days before a futures contract's expiry when continuous symbols (`ES1!`) move to the next one, at every futures broker. */
    futuresRollDays: number;
  };
  orderSync: { intervalMs: number; concurrency: number; maxBackoffMs: number };
  /** Positions/account snapshots: older than maxAgeMs the api asks the worker again and waits up to waitMs. */
  snapshot: { maxAgeMs: number; waitMs: number };
  outbound: OutboundSettings;
  webhooksOut: { intervalMs: number; maxAttempts: number; retryBaseMs: number };
  orderStreams: { max: number; refreshMs: number; reconnectMaxMs: number; safetyPollMs: number };
  notifications: NotificationSettings;
}

/** Member notifications (src/notifications): `smtp` is unset when SMTP_URL is, and then nothing is mailed. */
export interface NotificationSettings {
  /** `url` holds the SMTP password (sensitive): only the mail transport reads it. */
  smtp?: { url: string; from: string; timeoutMs: number };
  intervalMs: number;
  gatherMs: number;
  digestMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/** The SSRF guard's settings (src/common/outbound): the only way to reach a private address is `allowHosts`. */
export interface OutboundSettings {
  allowHosts: string[];
  caFile?: string;
  connectTimeoutMs: number;
  timeoutMs: number;
  maxResponseBytes: number;
}

export class ConfigError extends Error {}

/** Which entrypoint reads the configuration: only the api signs and verifies member JWTs. */
export type ConfigReader = 'api' | 'worker' | 'cli';

/** Parses an environment into AppConfig; throws ConfigError with one line per bad variable. */
export function parseConfig(source: NodeJS.ProcessEnv, reader: ConfigReader = 'api'): AppConfig {
  const parsed = envSchema.safeParse(source);
  const issues = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`);
  // The worker and the cli never hold the JWT key: a process that can mint member tokens is api-only.
  if (reader === 'api' && source.NODE_ENV === 'production' && !source.JWT_SECRET)
    issues.push('JWT_SECRET: must be set when NODE_ENV=production (all api replicas share it)');
  if (!parsed.success || issues.length) throw new ConfigError(`invalid configuration: ${issues.join('; ')}`);
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    http: {
      port: e.PORT,
      host: e.HOST,
      publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://${e.HOST}:${e.PORT}`).replace(/\/$/, ''),
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      trustProxy: !e.TRUST_PROXY ? false : /^\d+$/.test(e.TRUST_PROXY) ? Number(e.TRUST_PROXY) : e.TRUST_PROXY.split(','),
      docsEnabled: e.DOCS_ENABLED ?? e.NODE_ENV !== 'production',
    },
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
    dataDir: resolve(e.DATA_DIR),
    console: { distDir: resolve(e.CONSOLE_DIR), session: { idleMs: e.CONSOLE_SESSION_IDLE_MINUTES * 60_000, maxMs: e.CONSOLE_SESSION_MAX_HOURS * 3_600_000 } },
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    database: {
      url: e.DATABASE_URL,
      apiUrl: e.DATABASE_API_URL,
      workerUrl: e.DATABASE_WORKER_URL,
      poolSize: e.DATABASE_POOL_SIZE,
      preparedStatements: e.DATABASE_PREPARED_STATEMENTS,
    },
    queue: { redisUrl: e.REDIS_URL, prefix: e.QUEUE_PREFIX, jobLockMs: e.QUEUE_JOB_LOCK_MS },
    kms: {
      provider: e.KMS_PROVIDER ?? 'local',
      keyId: e.KMS_KEY_ID,
      endpoint: e.KMS_ENDPOINT,
      region: e.AWS_REGION,
      credentials:
        e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
          ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, sessionToken: e.AWS_SESSION_TOKEN }
          : undefined,
      dataKeyCache: { ttlMs: e.DATA_KEY_CACHE_TTL_MS, maxUses: e.DATA_KEY_CACHE_MAX_USES },
    },
    auth: {
      platformAdminToken: e.PLATFORM_ADMIN_TOKEN,
      jwtSecret: e.JWT_SECRET,
      jwtTtlSeconds: e.JWT_TTL_SECONDS,
      jwtIssuer: e.JWT_ISSUER,
      tokenMaxLifetimeDays: e.API_TOKEN_MAX_LIFETIME_DAYS,
      lockout: {
        accountFailures: e.LOGIN_MAX_FAILURES,
        ipFailures: e.LOGIN_IP_MAX_FAILURES,
        tokenIpFailures: e.TOKEN_IP_MAX_FAILURES,
        windowMs: e.LOGIN_WINDOW_SECONDS * 1000,
        lockoutMs: e.LOGIN_LOCKOUT_SECONDS * 1000,
        maxLockoutMs: e.LOGIN_LOCKOUT_MAX_SECONDS * 1000,
      },
    },
    pager: {
      pagerDutyRoutingKey: e.PAGER_PAGERDUTY_ROUTING_KEY,
      pagerDutyUrl: e.PAGER_PAGERDUTY_URL,
      slackWebhookUrl: e.PAGER_SLACK_WEBHOOK_URL,
      webhookUrl: e.PAGER_WEBHOOK_URL,
      webhookSecret: e.PAGER_WEBHOOK_SECRET,
    },
    rateLimit: {
      perMinute: e.RATE_LIMIT_PER_MINUTE,
      webhookPerMinute: e.WEBHOOK_RATE_LIMIT_PER_MINUTE,
      webhookPerIpPerMinute: e.WEBHOOK_IP_RATE_LIMIT_PER_MINUTE,
      auditVerifyPerMinute: e.AUDIT_VERIFY_PER_MINUTE,
      windowMs: e.RATE_LIMIT_WINDOW_SECONDS * 1000,
      store: e.RATE_LIMIT_STORE === 'auto' ? (e.REDIS_URL ? 'redis' : 'postgres') : e.RATE_LIMIT_STORE,
    },
    brokers: {
      baseUrls: {
        alpaca: { paper: e.BROKER_ALPACA_BASE_URL, live: e.BROKER_ALPACA_LIVE_BASE_URL },
        binance: { paper: e.BROKER_BINANCE_TESTNET_BASE_URL, live: e.BROKER_BINANCE_BASE_URL },
        coinbase: e.BROKER_COINBASE_BASE_URL,
        oanda: { paper: e.BROKER_OANDA_BASE_URL, live: e.BROKER_OANDA_LIVE_BASE_URL },
        tradovate: { paper: e.BROKER_TRADOVATE_BASE_URL, live: e.BROKER_TRADOVATE_LIVE_BASE_URL },
        ibkrOAuth: e.BROKER_IBKR_OAUTH_BASE_URL,
      },
      streamUrls: {
        oanda: { paper: e.BROKER_OANDA_STREAM_URL, live: e.BROKER_OANDA_LIVE_STREAM_URL },
        binance: { paper: e.BROKER_BINANCE_TESTNET_WS_API_URL, live: e.BROKER_BINANCE_WS_API_URL },
        coinbase: e.BROKER_COINBASE_WS_USER_URL,
      },
      timeoutMs: e.BROKER_TIMEOUT_MS,
      futuresRollDays: e.BROKER_FUTURES_ROLL_DAYS ?? e.BROKER_TRADOVATE_ROLL_DAYS ?? 8,
    },
    orderSync: { intervalMs: e.ORDER_SYNC_INTERVAL_MS, concurrency: e.ORDER_SYNC_CONCURRENCY, maxBackoffMs: e.ORDER_SYNC_MAX_BACKOFF_MS },
    snapshot: { maxAgeMs: e.SNAPSHOT_MAX_AGE_MS, waitMs: e.SNAPSHOT_WAIT_MS },
    outbound: {
      allowHosts: e.OUTBOUND_ALLOW_HOSTS,
      caFile: e.OUTBOUND_CA_FILE ? resolve(e.OUTBOUND_CA_FILE) : undefined,
      connectTimeoutMs: e.OUTBOUND_CONNECT_TIMEOUT_MS,
      timeoutMs: e.OUTBOUND_TIMEOUT_MS,
      maxResponseBytes: e.OUTBOUND_MAX_RESPONSE_BYTES,
    },
    webhooksOut: { intervalMs: e.WEBHOOK_DELIVERY_INTERVAL_MS, maxAttempts: e.WEBHOOK_MAX_ATTEMPTS, retryBaseMs: e.WEBHOOK_RETRY_BASE_MS },
    orderStreams: {
      max: e.ORDER_STREAMS_MAX,
      refreshMs: e.ORDER_STREAM_REFRESH_MS,
      reconnectMaxMs: e.ORDER_STREAM_RECONNECT_MAX_MS,
      safetyPollMs: e.ORDER_STREAM_SAFETY_POLL_MS,
    },
    notifications: {
      smtp: e.SMTP_URL && e.SMTP_FROM ? { url: e.SMTP_URL, from: e.SMTP_FROM, timeoutMs: e.SMTP_TIMEOUT_MS } : undefined,
      intervalMs: e.NOTIFICATION_INTERVAL_MS,
      gatherMs: e.NOTIFICATION_GATHER_MS,
      digestMs: e.NOTIFICATION_DIGEST_MS,
      retryBaseMs: e.NOTIFICATION_RETRY_BASE_MS,
      retryMaxMs: e.NOTIFICATION_RETRY_MAX_MS,
    },
  };
}

/** Reads the process environment once. The only place that touches process.env. */
export function loadConfig(reader: ConfigReader = 'api'): AppConfig {
  return parseConfig(process.env, reader);
}

/** For entrypoints: a bad configuration stops start-up with one clear line, no stack trace. */
export function loadConfigOrExit(reader: ConfigReader = 'api'): AppConfig {
  try {
    return loadConfig(reader);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`switchyard: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
}

/** Secrets that belong to one process only: the launcher strips them all, then hands each child its own. */
const PROCESS_BOUND = ['DATABASE_URL', 'DATABASE_API_URL', 'DATABASE_WORKER_URL', 'JWT_SECRET', 'PLATFORM_ADMIN_TOKEN', 'SMTP_URL'] as const;
export type ProcessSecrets = { databaseApiUrl: string; databaseWorkerUrl: string; jwtSecret?: string; platformAdminToken: string };

/** The environment the launcher gives one child: the shared settings plus only that process's own secrets. */
export function processEnvironment(role: 'api' | 'worker', secrets: ProcessSecrets): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of PROCESS_BOUND) delete env[key];
  // The SMTP password is the mail loop's, and the mail loop runs in the worker only.
  if (role === 'worker') return { ...env, DATABASE_WORKER_URL: secrets.databaseWorkerUrl, ...(process.env.SMTP_URL && { SMTP_URL: process.env.SMTP_URL }) };
  return {
    ...env,
    DATABASE_API_URL: secrets.databaseApiUrl,
    PLATFORM_ADMIN_TOKEN: secrets.platformAdminToken,
    ...(secrets.jwtSecret && { JWT_SECRET: secrets.jwtSecret }),
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
