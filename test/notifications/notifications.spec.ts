import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { NotificationDispatcher } from '../../src/notifications/notification-dispatcher';
import { http } from '../support/api-app';
import { SmtpReceiver } from '../support/smtp-receiver';
import { startWorker } from '../support/worker-app';
import { canaryForms, scanDatabase, scanRedis, scanTexts } from '../faults/support/leak-scan';
import { REDIS_URL, RoutingWorld } from '../routing/routing-harness';

const GATHER_MS = 1_500;
const DIGEST_MS = 4_000;
const CONSOLE = 'https://console.switchyard.test';

/**
 * Member notifications end to end on real PostgreSQL + Redis and a real SMTP server (smtp-server, AUTH required):
 * order transitions, plan-time blocks and loss-limit audit events write the outbox in their own transaction, the
 * worker mails each member a digest of what she chose, and retries while the SMTP server is down.
 */
describe('notifications by e-mail', () => {
  let world: RoutingWorld;
  let smtp: SmtpReceiver;
  const smtpPassword = `smtp-canary-${randomBytes(12).toString('hex')}`;
  /** Every API answer after setup, for the canary scan. */
  const responses: string[] = [];

  beforeAll(async () => {
    smtp = await SmtpReceiver.start('switchyard', smtpPassword);
    world = await RoutingWorld.start('redis', {
      SMTP_URL: smtp.url,
      SMTP_FROM: 'Switchyard <alerts@switchyard.test>',
      SMTP_TIMEOUT_MS: '1000',
      PUBLIC_BASE_URL: CONSOLE,
      NOTIFICATION_INTERVAL_MS: '50',
      NOTIFICATION_GATHER_MS: String(GATHER_MS),
      NOTIFICATION_DIGEST_MS: String(DIGEST_MS),
      NOTIFICATION_RETRY_BASE_MS: '100',
      NOTIFICATION_RETRY_MAX_MS: '400',
      ORDER_SYNC_INTERVAL_MS: '100',
    });
  });
  afterAll(async () => {
    await world?.stop();
    await smtp?.stop();
  });

  async function call(method: 'GET' | 'PUT' | 'POST', path: string, token: string, body?: unknown) {
    const res = await http(world.api.url, method, path, { token, body });
    responses.push(res.text);
    return res;
  }

  async function setKinds(token: string, kinds: string[]) {
    const res = await call('PUT', '/v1/members/me/notifications', token, { kinds });
    expect(res.status).toBe(200);
    return res.body;
  }

  /** A member with a password, signed in: her own JWT. Her invite mail has arrived, so what she is mailed next is its own mail. */
  async function member(ownerToken: string, role: 'viewer' | 'trader' | 'admin') {
    const email = `${role}-${randomBytes(4).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const created = await call('POST', '/v1/members', ownerToken, { email, role, password });
    expect(created.status).toBe(201);
    const login = await http(world.api.url, 'POST', '/v1/auth/login', { body: { email, password } });
    expect(login.status).toBe(200);
    const [invite] = await smtp.waitFor(email, 1);
    expect(invite.subject).toMatch(/^Switchyard: You were added to the workspace as /);
    return { email, password, id: created.body.id as string, token: login.body.accessToken as string };
  }

  /**
   * A workspace with an owner token that outlives the bootstrap one (which ends when any member signs in), a paper
   * connection, an HMAC source, and a route of 2 that allows only AAPL (anything else is blocked at the plan).
   */
  async function desk() {
    const ws = await kept(await world.workspace());
    const connection = await world.connect(ws.token, 'paper');
    const source = await world.source(ws.token);
    await world.route(ws.token, { sourceId: source.id, connectionId: connection, sizing: { mode: 'fixed', value: '2' }, allowedSymbols: ['AAPL'] });
    return { ws, connection, source };
  }

  async function kept<W extends { token: string }>(ws: W): Promise<W> {
    const minted = await call('POST', '/v1/tokens', ws.token, { name: 'kept', role: 'owner' });
    expect(minted.status).toBe(201);
    return { ...ws, token: minted.body.token };
  }

  async function mailbox(memberId: string) {
    return (await world.sql('SELECT failures, last_error, last_mailed_at FROM notification_mailboxes WHERE member_id = $1', [memberId]))[0];
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`never: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  describe('preferences', () => {
    it('a member starts on the defaults (everything but fills) and sets her own kinds; the answer is canonical', async () => {
      const ws = await world.workspace();
      const first = await call('GET', '/v1/members/me/notifications', ws.token);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ email: ws.ownerEmail, kinds: ['rejections', 'blocks', 'limit_breaches', 'approvals_waiting'], chosen: false });

      expect(await setKinds(ws.token, ['approvals_waiting', 'fills'])).toEqual({ email: ws.ownerEmail, kinds: ['fills', 'approvals_waiting'], chosen: true });
      expect((await call('GET', '/v1/members/me/notifications', ws.token)).body.kinds).toEqual(['fills', 'approvals_waiting']);
      expect(await setKinds(ws.token, [])).toMatchObject({ kinds: [], chosen: true });
    });

    it("each member for herself: a viewer sets hers, the owner's stay as they were", async () => {
      const ws = await kept(await world.workspace());
      const viewer = await member(ws.token, 'viewer');
      expect(await setKinds(viewer.token, ['fills'])).toEqual({ email: viewer.email, kinds: ['fills'], chosen: true });
      expect((await call('GET', '/v1/members/me/notifications', ws.token)).body).toMatchObject({ email: ws.ownerEmail, chosen: false });
    });

    it.each([
      [{ kinds: ['explosions'] }, 'kinds.0'],
      [{ kinds: ['fills', 'fills'] }, 'kinds'],
      [{ kinds: 'fills' }, 'kinds'],
      [{}, 'kinds'],
      [{ kinds: ['fills'], email: 'someone@else.test' }, '(body)'],
    ])('refuses %j with a 422 problem naming %s', async (body, path) => {
      const ws = await world.workspace();
      const res = await call('PUT', '/v1/members/me/notifications', ws.token, body);
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 422, code: 'validation_failed' });
      expect(JSON.stringify(res.body.errors)).toContain(path);
      expect((await call('GET', '/v1/members/me/notifications', ws.token)).body.chosen).toBe(false);
    });

    it('needs a signed-in member: no token is 401', async () => {
      expect((await http(world.api.url, 'GET', '/v1/members/me/notifications')).status).toBe(401);
    });
  });

  it('a paper fill reaches the SMTP server as one mail in words, with a console link and nothing secret; an Alpaca rejection too', async () => {
    const { ws, connection, source } = await desk();
    await setKinds(ws.token, ['fills', 'rejections']);
    // An Alpaca connection whose key is a canary: its order (far beyond the account's cash) is rejected by the broker.
    const alpaca = await world.connect(ws.token, 'alpaca');
    const alpacaSource = await world.source(ws.token);
    await world.route(ws.token, { sourceId: alpacaSource.id, connectionId: alpaca, sizing: { mode: 'fixed', value: '100000' } });

    const filled = await world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '101.5' }));
    expect(filled.orders[0]).toMatchObject({ status: 'filled' });
    const rejected = await world.settled(ws.token, await world.send(alpacaSource, { ticker: 'MSFT', action: 'buy', orderType: 'limit', limitPrice: '400' }));
    expect(rejected.orders[0]).toMatchObject({ status: 'rejected' });

    const [mail] = await smtp.waitFor(ws.ownerEmail, 1);
    expect(mail.from).toBe('alerts@switchyard.test');
    expect(mail.subject).toBe(`Switchyard: 2 notifications, 1 fill, 1 rejection (${(await call('GET', '/v1/workspace', ws.token)).body.name})`);
    expect(mail.text).toContain('Filled: buy 2 AAPL at 101.5');
    expect(mail.text).toContain('Connection: "paper" (paper, paper)');
    expect(mail.text).toContain(`Order: ${filled.orders[0].id}`);
    expect(mail.text).toContain(`Open: ${CONSOLE}/activity`);
    expect(mail.text).toContain('Rejected by the broker: buy 100000 MSFT limit 400');
    expect(mail.text).toContain('Reason: ');
    expect(mail.text).toMatch(/insufficient buying power/);
    expect(mail.text).toContain('Connection: "alpaca" (alpaca, paper)');
    expect(mail.text.indexOf('Filled:')).toBeLessThan(mail.text.indexOf('Rejected')); // oldest first
    expect(mail.messageId).toMatch(/^<[0-9a-f-]{36}@switchyard>$/);
    expect(smtp.authFailures).toBe(0);

    const rows = await world.sql('SELECT kind, status, mail_id::text AS mail_id FROM notifications WHERE workspace_id = $1 ORDER BY seq', [ws.id]);
    expect(rows.map((r) => [r.kind, r.status])).toEqual([
      ['fills', 'mailed'],
      ['rejections', 'mailed'],
    ]);
    expect(mail.messageId).toBe(`<${rows[0].mail_id}@switchyard>`);

    // Canary: the SMTP password and the Alpaca key never reach a mail, a log, a response, the database or Redis.
    const { apiKey, apiSecret } = world.keys.get(alpaca)!;
    const forms = [...canaryForms(smtpPassword, apiKey, apiSecret), smtp.url];
    const results = [
      scanTexts(
        'mails',
        smtp.mails.flatMap((m) => [m.raw, m.text, m.subject]),
        forms,
      ),
      scanTexts('api log lines', world.api.logs.lines, forms),
      scanTexts('worker log lines', world.worker.logs.lines, forms),
      scanTexts('responses', responses, forms),
      await scanDatabase(world.db.adminUrl, forms),
      await scanRedis(REDIS_URL, forms),
    ];
    expect(results.flatMap((r) => r.hits)).toEqual([]);
    expect(results.every((r) => r.searched > 0)).toBe(true);
    expect(world.worker.logs.text).toContain('notification mail sent');
    void connection;
  });

  it('an added member is mailed an invite notice with the console link and her role, nothing secret; the founding owner is not', async () => {
    const ws = await kept(await world.workspace());
    const viewer = await member(ws.token, 'viewer');
    const [invite] = smtp.to(viewer.email);
    expect(invite.subject).toMatch(/^Switchyard: You were added to the workspace as viewer \(/);
    expect(invite.text).toContain(`Sign in with this e-mail address and the password the admin gave you: ${CONSOLE}/`);
    // The first password is the admin's to hand over, never the mail's; nor a token of any kind.
    expect(invite.text).not.toContain(viewer.password);
    expect(invite.text).not.toContain(viewer.token);
    expect(invite.text).not.toContain(ws.token);
    const kinds = await world.sql('SELECT member_id::text AS member, kind FROM notifications WHERE workspace_id = $1', [ws.id]);
    expect(kinds).toEqual([{ member: viewer.id, kind: 'invite' }]);
    expect(smtp.to(ws.ownerEmail)).toEqual([]);
  });

  it('five events inside the digest interval become one mail; the next event waits for the interval', async () => {
    const { ws, source } = await desk();
    for (const ticker of ['TSLA', 'NVDA', 'AMZN', 'META', 'GOOG']) await world.send(source, { ticker, action: 'buy', price: '10' });
    const [digest] = await smtp.waitFor(ws.ownerEmail, 1);
    expect(digest.subject).toMatch(/^Switchyard: 5 notifications, 5 blocks /);
    for (const ticker of ['TSLA', 'NVDA', 'AMZN', 'META', 'GOOG']) expect(digest.text).toContain(`Blocked: buy ${ticker} (signal price 10)`);
    expect(digest.text).toContain("Reason: symbol_not_allowed: TSLA is not in this route's allowed symbols");

    // A sixth event right after the mail: batched into the next one, which leaves a digest interval after the first.
    // The worker records the send after the server took the mail: wait for that record.
    const sentAt = (await until('the mail recorded as sent', async () => (await mailbox(ws.ownerId)).last_mailed_at ?? undefined)).getTime();
    await world.settled(ws.token, await world.send(source, { ticker: 'NFLX', action: 'buy', price: '10' }));
    const [, next] = await smtp.waitFor(ws.ownerEmail, 2, DIGEST_MS + 10_000);
    expect(next.subject).toMatch(/^Switchyard: Blocked: buy NFLX \(signal price 10\) /);
    const nextSentAt = await until('the second mail recorded as sent', async () => {
      const at = (await mailbox(ws.ownerId)).last_mailed_at?.getTime();
      return at !== undefined && at > sentAt ? at : undefined;
    });
    expect(nextSentAt - sentAt).toBeGreaterThanOrEqual(DIGEST_MS);
    expect(smtp.to(ws.ownerEmail)).toHaveLength(2);
  });

  it('preferences are respected: a member with fills off gets no fill mail, one with fills on does', async () => {
    const { ws, source } = await desk();
    const trader = await member(ws.token, 'trader');
    await setKinds(trader.token, ['fills']);
    // The owner runs on the defaults: fills off.
    const fill = await world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100' }));
    expect(fill.orders[0].status).toBe('filled');
    await world.settled(ws.token, await world.send(source, { ticker: 'ORCL', action: 'buy', price: '100' }));

    const [, traderMail] = await smtp.waitFor(trader.email, 2, DIGEST_MS + 15_000);
    expect(traderMail.subject).toMatch(/^Switchyard: Filled: buy 2 AAPL at 100 /);
    expect(traderMail.text).not.toContain('ORCL');
    const [ownerMail] = await smtp.waitFor(ws.ownerEmail, 1);
    expect(ownerMail.subject).toMatch(/^Switchyard: Blocked: buy ORCL /);
    expect(ownerMail.text).not.toContain('AAPL');
    const kinds = await world.sql('SELECT member_id::text AS member, kind FROM notifications WHERE workspace_id = $1 ORDER BY seq', [ws.id]);
    expect(kinds).toEqual([
      { member: trader.id, kind: 'invite' },
      { member: trader.id, kind: 'fills' },
      { member: ws.ownerId, kind: 'blocks' },
    ]);
  });

  it('awaiting_approval and rejected transitions and a loss-limit audit event (written by either runtime role) are notified', async () => {
    const { ws, connection, source } = await desk();
    const [order] = (await world.settled(ws.token, await world.send(source, { ticker: 'AAPL', action: 'buy', price: '100' }))).orders;
    const asRole = async (url: string, text: string, values: unknown[]) => {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        await c.query('BEGIN');
        await c.query(`SELECT set_config('app.workspace_id', $1, true)`, [ws.id]);
        await c.query(text, values);
        await c.query('COMMIT');
      } finally {
        await c.end();
      }
    };
    // The approval queue's status (another module adds it) and a broker rejection, as the worker role records transitions.
    await asRole(
      world.db.workerUrl,
      `INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) VALUES ($1, $2, 'pending', 'awaiting_approval'), ($1, $2, 'awaiting_approval', 'rejected')`,
      [ws.id, order.id],
    );
    // A breach as the risk checks audit it; by the worker, and once by the api role.
    const breach = `INSERT INTO audit_events (workspace_id, actor_type, actor_id, action, resource_type, resource_id, reason, metadata)
                    VALUES ($1, 'worker', 'risk', 'connection.loss_limit_breached', 'connection', $2, $3, $4)`;
    await asRole(world.db.workerUrl, breach, [
      ws.id,
      connection,
      'daily loss 512.40 passed the limit 500',
      { dailyLoss: '-512.4', dailyLossLimit: '500', action: 'flatten' },
    ]);
    await asRole(world.db.apiUrl, breach, [ws.id, 'not-a-uuid', 'drawdown passed the limit', { maxDrawdown: '10' }]);

    const [mail] = await smtp.waitFor(ws.ownerEmail, 1);
    expect(mail.subject).toMatch(/^Switchyard: 4 notifications, 1 approval waiting, 1 rejection, 2 loss limit breaches /);
    expect(mail.text).toContain('Waiting for approval: buy 2 AAPL');
    expect(mail.text).toContain('Status: rejected (was awaiting_approval)');
    expect(mail.text).toContain('Loss limit breached on "paper"');
    expect(mail.text).toContain('Reason: daily loss 512.40 passed the limit 500');
    // jsonb keeps its own key order: each figure, in whatever order.
    const figures = mail.text.split('\n').find((l) => l.includes('Figures: ') && l.includes('dailyLoss'))!;
    expect(figures.replace('  Figures: ', '').split(', ').sort()).toEqual(['action: flatten', 'dailyLoss: -512.4', 'dailyLossLimit: 500']);
    expect(mail.text).toContain(`Open: ${CONSOLE}/connections`);
    expect(mail.text).toContain('Figures: maxDrawdown: 10');
  });

  it('the SMTP server down: nothing is lost, the member is retried with backoff and gets every event once it is back', async () => {
    const { ws, source } = await desk();
    await smtp.stop();
    try {
      await world.settled(ws.token, await world.send(source, { ticker: 'IBM', action: 'buy', price: '10' }));
      const failing = await until('two failed attempts', async () => {
        const box = await mailbox(ws.ownerId);
        return box?.failures >= 2 && box;
      });
      expect(failing.last_error).toMatch(/^(ESOCKET|ECONNECTION) \(CONN\)$/);
      await world.settled(ws.token, await world.send(source, { ticker: 'INTC', action: 'buy', price: '10' }));
      expect(await world.sql('SELECT status FROM notifications WHERE member_id = $1', [ws.ownerId])).toEqual([{ status: 'pending' }, { status: 'pending' }]);
      expect(world.worker.logs.text).toContain('notification mail not sent; retrying later');
    } finally {
      await smtp.start();
    }
    const [mail] = await smtp.waitFor(ws.ownerEmail, 1);
    expect(mail.subject).toMatch(/^Switchyard: 2 notifications, 2 blocks /);
    expect(mail.text).toContain('IBM');
    expect(mail.text).toContain('INTC');
    expect(await mailbox(ws.ownerId)).toMatchObject({ failures: 0, last_error: null });
  });

  it('a recipient the SMTP server refuses for good (550) is not retried for ever: her pending notifications are dropped', async () => {
    const { ws, source } = await desk();
    smtp.refused.add(ws.ownerEmail);
    await world.settled(ws.token, await world.send(source, { ticker: 'UBER', action: 'buy', price: '10' }));
    const box = await until('the refusal recorded', async () => {
      const b = await mailbox(ws.ownerId);
      return b?.last_error && b;
    });
    expect(box.last_error).toMatch(/^EENVELOPE 550/);
    expect(await world.sql('SELECT status FROM notifications WHERE member_id = $1', [ws.ownerId])).toEqual([{ status: 'dropped' }]);
    expect(smtp.to(ws.ownerEmail)).toEqual([]);
  });

  it('without SMTP_URL the worker says so once at start and mails nothing', async () => {
    const env = { ...world.env };
    delete env.SMTP_URL;
    delete env.SMTP_FROM;
    const quiet = await startWorker(world.db, env, { loops: false });
    try {
      const dispatcher = quiet.app.get(NotificationDispatcher);
      dispatcher.start();
      const said = quiet.logs.lines.filter((l) => l.includes('SMTP_URL is not set, so notifications are recorded but not mailed'));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/"level":30/); // info, not an error
    } finally {
      await quiet.close();
    }
  });
});
