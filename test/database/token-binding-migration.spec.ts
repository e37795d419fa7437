import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { MIGRATIONS_DIR } from '../../src/database/bootstrap';
import { DB_ROLES } from '../../src/database/database-roles';
import { applyMigrations } from '../../src/database/migrator';
import { ADMIN_URL, databaseUrl, dropDatabase } from '../support/database';

const BINDING = '20261207040000_token_binding';

/** The migration that binds API tokens to members, run over rows written before it. */
describe(`migration ${BINDING}`, () => {
  const name = `sy_mig_${randomBytes(6).toString('hex')}`;
  let db: Client;
  const ids = { ws: randomUUID(), owner: randomUUID(), admin: randomUUID(), removed: randomUUID() };
  const tok = Object.fromEntries(['bootstrap', 'admin', 'minted', 'mintedTwice', 'ofRemoved', 'orphan', 'ownerTrader'].map((k) => [k, randomUUID()])) as Record<
    string,
    string
  >;

  beforeAll(async () => {
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.query(`GRANT CONNECT, CREATE ON DATABASE ${name} TO ${DB_ROLES.owner}`);
    await admin.end();
    db = new Client({ connectionString: databaseUrl(name) });
    await db.connect();
    await db.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${DB_ROLES.owner}, ${DB_ROLES.resolver}`);
    await db.query(`GRANT USAGE ON SCHEMA public TO ${DB_ROLES.api}, ${DB_ROLES.worker}`);
    // Every migration before the binding, as the deployed schema had them.
    const before = mkdtempSync(join(tmpdir(), 'switchyard-migrations-'));
    for (const dir of readdirSync(MIGRATIONS_DIR).filter((d) => d < BINDING)) cpSync(join(MIGRATIONS_DIR, dir), join(before, dir), { recursive: true });
    await db.query(`SET ROLE ${DB_ROLES.owner}`);
    await applyMigrations(db, before);
    await db.query('RESET ROLE'); // the superuser writes the old rows past row security
    await db.query(`INSERT INTO workspaces (id, name) VALUES ($1, 'legacy')`, [ids.ws]);
    await db.query(
      `INSERT INTO members (id, workspace_id, email, role, removed_at) VALUES
         ($2, $1, 'owner@example.com', 'owner', NULL), ($3, $1, 'admin@example.com', 'admin', NULL), ($4, $1, 'gone@example.com', 'admin', now())`,
      [ids.ws, ids.owner, ids.admin, ids.removed],
    );
    const token = (id: string, tokenName: string, role: string, createdBy: string | null) =>
      db.query(`INSERT INTO api_tokens (id, workspace_id, name, token_hash, token_hint, role, created_by) VALUES ($1, $2, $3, $4, 'sy_…abcd', $5, $6)`, [
        id,
        ids.ws,
        tokenName,
        randomBytes(32),
        role,
        createdBy,
      ]);
    await token(tok.bootstrap, 'owner bootstrap token', 'owner', ids.owner);
    await token(tok.admin, 'ci', 'admin', ids.admin);
    await token(tok.minted, 'minted by ci', 'admin', tok.admin); // created_by used to name the minting token
    await token(tok.mintedTwice, 'minted by minted', 'trader', tok.minted);
    await token(tok.ofRemoved, 'of a removed admin', 'admin', ids.removed);
    await token(tok.orphan, 'nobody', 'admin', null);
    await token(tok.ownerTrader, 'owner ci', 'trader', ids.owner);
    await db.query(`SET ROLE ${DB_ROLES.owner}`);
    const ran = await applyMigrations(db, MIGRATIONS_DIR);
    expect(ran.map((m) => m.name)).toContain(BINDING);
    await db.query('RESET ROLE');
  }, 60_000);

  afterAll(async () => {
    await db?.end();
    await dropDatabase(name);
  });

  const row = async (id: string) =>
    (await db.query(`SELECT created_by::text, created_via::text, bootstrap, expires_at, revoked_at FROM api_tokens WHERE id = $1`, [id])).rows[0];
  const daysFromNow = (d: Date) => (d.getTime() - Date.now()) / 86_400_000;

  it('binds tokens minted through tokens to the member behind the chain, and keeps the chain', async () => {
    expect(await row(tok.minted)).toMatchObject({ created_by: ids.admin, created_via: tok.admin, revoked_at: null });
    expect(await row(tok.mintedTwice)).toMatchObject({ created_by: ids.admin, created_via: tok.minted, revoked_at: null });
    expect(await row(tok.admin)).toMatchObject({ created_by: ids.admin, created_via: null, revoked_at: null });
  });

  it('revokes the tokens of removed members and those nobody answers for', async () => {
    expect((await row(tok.ofRemoved)).revoked_at).toBeInstanceOf(Date);
    expect(await row(tok.orphan)).toMatchObject({ created_by: null, revoked_at: expect.any(Date) });
  });

  it('gives the bootstrap token a day, other non-owner tokens the 90-day default, and leaves owner tokens as they were', async () => {
    const bootstrap = await row(tok.bootstrap);
    expect(bootstrap.bootstrap).toBe(true);
    expect(daysFromNow(bootstrap.expires_at)).toBeGreaterThan(0.99);
    expect(daysFromNow(bootstrap.expires_at)).toBeLessThanOrEqual(1);
    for (const id of [tok.admin, tok.minted]) {
      const r = await row(id);
      expect(daysFromNow(r.expires_at)).toBeGreaterThan(89.99);
      expect(daysFromNow(r.expires_at)).toBeLessThanOrEqual(90);
    }
    expect((await row(tok.ownerTrader)).expires_at).toBeNull();
  });

  it('forces row security again on the tables it backfilled', async () => {
    const { rows } = await db.query(`SELECT relname, relforcerowsecurity FROM pg_class WHERE relname IN ('api_tokens', 'members') ORDER BY relname`);
    expect(rows).toEqual([
      { relname: 'api_tokens', relforcerowsecurity: true },
      { relname: 'members', relforcerowsecurity: true },
    ]);
  });
});
