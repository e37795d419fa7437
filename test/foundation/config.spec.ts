import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, parseConfig } from '../../src/config/app-config';

const run = promisify(execFile);

describe('configuration', () => {
  it('parses defaults into one typed object', () => {
    const config = parseConfig({});
    expect(config.http.port).toBe(3000);
    expect(config.kms.provider).toBe('local');
    expect(config.dataDir).toMatch(/\.data$/);
  });

  it('one futures roll for every futures broker: BROKER_FUTURES_ROLL_DAYS, its old Tradovate-only name still honoured, never two values', () => {
    expect(parseConfig({}).brokers.futuresRollDays).toBe(8);
    expect(parseConfig({ BROKER_FUTURES_ROLL_DAYS: '5' }).brokers.futuresRollDays).toBe(5);
    expect(parseConfig({ BROKER_TRADOVATE_ROLL_DAYS: '3' }).brokers.futuresRollDays).toBe(3);
    expect(parseConfig({ BROKER_FUTURES_ROLL_DAYS: '3', BROKER_TRADOVATE_ROLL_DAYS: '3' }).brokers.futuresRollDays).toBe(3);
    expect(() => parseConfig({ BROKER_FUTURES_ROLL_DAYS: '5', BROKER_TRADOVATE_ROLL_DAYS: '3' })).toThrow(
      /BROKER_TRADOVATE_ROLL_DAYS.*old name of BROKER_FUTURES_ROLL_DAYS/,
    );
  });

  it('trusts no proxy unless told which', () => {
    expect(parseConfig({}).http.trustProxy).toBe(false);
    expect(parseConfig({ TRUST_PROXY: '1' }).http.trustProxy).toBe(1);
    expect(parseConfig({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).http.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });

  it.each([
    [{ TRUST_PROXY: 'everyone' }, 'TRUST_PROXY'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }, 'KMS_PROVIDER'],
    [{ NODE_ENV: 'production', KMS_PROVIDER: 'aws', KMS_KEY_ID: 'k' }, 'JWT_SECRET'],
    [{ KMS_PROVIDER: 'aws' }, 'KMS_KEY_ID'],
    [{ PLATFORM_ADMIN_TOKEN: 'short' }, 'PLATFORM_ADMIN_TOKEN'],
  ])('refuses %j naming %s', (env, variable) => {
    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(() => parseConfig(env)).toThrow(new RegExp(`^invalid configuration: .*${variable}`));
  });

  it('asks only the api for JWT_SECRET in production: the worker and the cli never hold the key that mints member tokens', () => {
    const production = { NODE_ENV: 'production', KMS_PROVIDER: 'aws', KMS_KEY_ID: 'k' };
    expect(() => parseConfig(production, 'api')).toThrow(/^invalid configuration: JWT_SECRET: must be set when NODE_ENV=production/);
    for (const reader of ['worker', 'cli'] as const) expect(parseConfig(production, reader).auth.jwtSecret).toBeUndefined();
  });

  it('stops the real entrypoint with one clear line and no stack trace', async () => {
    const main = join(__dirname, '..', '..', 'dist', 'main.js');
    const failure = await run(process.execPath, [main], { env: { ...process.env, PORT: 'eighty' } }).catch((e) => e);
    expect(failure.code).toBe(78);
    expect(failure.stderr.trim()).toBe('switchyard: invalid configuration: PORT: Invalid input: expected number, received NaN');
  });
});
