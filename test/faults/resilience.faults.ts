import { FaultWorld, QueueBackend } from './support/fault-world';
import { alertVerdicts, AlertVerdicts, auditVerdicts, brokerVerdicts, BrokerVerdicts, settle, signalVerdicts, SignalVerdicts } from './support/invariants';
import { canaryForms, scanDatabase, scanDirectory, scanLogFiles, scanRedis, ScanResult, scanTexts } from './support/leak-scan';
import { sleep } from './support/os-processes';
import { BackendRun, PhaseRun, printSummary, writeResilienceReport } from './support/report';
import { FaultContext, FULL, REDUCED, SCENARIOS } from './support/scenarios';
import { SignalStream } from './support/signal-stream';

/**
 * Fault injection: a steady stream of signals over several workspaces, sources and routes while the
 * worker, the api, Redis, PostgreSQL, the KMS and the brokers fail one after another. After each fault
 * every accepted signal must reach a terminal state; at the end no order exists twice at a broker, every
 * audit chain verifies, every alert was delivered, and a canary secret appears nowhere but its ciphertext.
 *
 * FAULTS_MODE=full (npm run test:faults): both queue backends, a denser and longer stream.
 * Otherwise (CI): the Redis backend only (it has every fault), a lighter stream.
 * WRITE_REPORTS=1 with FAULTS_MODE=full regenerates docs/resilience.md.
 */
const full = process.env.FAULTS_MODE === 'full';
const mode = full ? FULL : REDUCED;
const backends: QueueBackend[] = full ? ['redis', 'postgres'] : ['redis'];
const runs: BackendRun[] = [];
const suiteStarted = Date.now();

afterAll(() => {
  printSummary(runs, full, Date.now() - suiteStarted);
  if (full && process.env.WRITE_REPORTS === '1' && runs.length === backends.length) writeResilienceReport(runs, mode, Date.now() - suiteStarted);
});

describe.each(backends)('faults on the %s queue backend', (backend) => {
  let world: FaultWorld | undefined;

  beforeAll(async () => {
    world = await FaultWorld.start({ backend, workspaces: 3, alarmSources: 4 });
  }, 300_000);

  afterAll(async () => {
    await world?.stop();
  }, 120_000);

  it(
    'loses and doubles nothing, keeps the audit chain and every alert, and leaks no secret',
    async () => {
      const w = world!;
      const started = Date.now();
      const stream = new SignalStream(() => w.apiUrl, w.targets, { ratePerSecond: mode.rate, maxInFlight: 200, retryForMs: 120_000, requestTimeoutMs: 5000 });
      const alarms: string[] = [];
      const phases: PhaseRun[] = [];
      stream.start();
      try {
        await sleep(mode.leadMs);
        for (const scenario of SCENARIOS.filter((s) => s.backends.includes(backend) && (full || !s.fullOnly))) {
          stream.phase = scenario.name;
          await sleep(mode.leadMs);
          const ctx: FaultContext = { world: w, stream, mode, alarms, notes: [] };
          const faultStarted = Date.now();
          await scenario.inject(ctx);
          const faultMs = Date.now() - faultStarted;
          await sleep(mode.tailMs);
          const settled = await settle(w, stream.sent, mode.settleTimeoutMs);
          phases.push({ name: scenario.name, what: scenario.what, faultMs, settleMs: settled.ms, pendingAfterSettle: settled.pending, notes: ctx.notes });
          process.stdout.write(
            `[faults:${backend}] ${scenario.name}: fault ${faultMs} ms, settled in ${settled.ms} ms (${settled.pending} pending) ${ctx.notes.join('; ')}\n`,
          );
        }
        stream.phase = 'steady (after all faults)';
        await sleep(mode.leadMs);
      } finally {
        await stream.stop();
      }
      const final = await settle(w, stream.sent, mode.settleTimeoutMs);

      const perPhase: Record<string, SignalVerdicts> = {};
      for (const phase of [...new Set(stream.sent.map((s) => s.phase))])
        perPhase[phase] = await signalVerdicts(
          w,
          stream.sent.filter((s) => s.phase === phase),
        );
      const signals = await signalVerdicts(w, stream.sent);
      const brokers: BrokerVerdicts = await brokerVerdicts(w);
      const audit = await auditVerdicts(w);
      const alerts: AlertVerdicts = await alertVerdicts(w, alarms, 60_000);

      const forms = [...canaryForms(w.canary.alpacaSecret, w.canary.binanceSecret), w.canary.alpacaKey, w.canary.binanceKey];
      const leaks: ScanResult[] = [
        scanTexts('HTTP response bodies', [...w.responses, ...stream.responses], forms),
        scanLogFiles([...w.api.logFiles, ...w.worker.logFiles, w.pg.logFile, ...(w.redis ? [w.redis.logFile] : [])], forms),
        await scanDatabase(w.pg.url('switchyard'), forms),
        ...(w.redis ? [await scanRedis(w.redis.url, forms)] : []),
        scanTexts(
          'alert payloads (PagerDuty requests)',
          w.pagerDuty.requests.map((r) => r.body),
          forms,
        ),
        scanDirectory('files under DATA_DIR', w.dataDir, forms),
        scanDirectory('PostgreSQL data files (heap, WAL)', w.pg.dataDir, forms),
        ...(w.redis ? [scanDirectory('Redis AOF files', w.redis.dir, forms)] : []),
      ];
      // The scan must have had something to find: the canary was routed all along.
      const canaryUses = await w.sql<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'credential.use' AND workspace_id = $1`, [
        w.workspaces[0].id,
      ]);

      await Promise.all([w.api.settled(), w.worker.settled()]);
      const crashes = [...w.api.crashes, ...w.worker.crashes];
      runs.push({
        backend,
        crashes,
        phases,
        perPhase,
        signals,
        brokers,
        audit,
        alerts,
        leaks,
        finalSettleMs: final.ms,
        durationMs: Date.now() - started,
        canaryUses: canaryUses[0].n,
        kills: { api: w.api.kills, worker: w.worker.kills },
        build: w.build.source,
      });

      expect(crashes).toEqual([]);
      expect(final.pending).toBe(0);
      expect(signals.accepted).toBeGreaterThan(0);
      expect({
        nonTerminal: signals.nonTerminal,
        withoutReason: signals.withoutReason,
        doubled: signals.doubled,
        refused: signals.refused,
        gaveUp: signals.gaveUp,
        serverErrors: signals.serverErrors,
      }).toEqual({
        serverErrors: 0,
        nonTerminal: 0,
        withoutReason: 0,
        doubled: 0,
        refused: 0,
        gaveUp: 0,
      });
      expect(brokers.duplicates).toEqual([]);
      expect(brokers.placedButNotRecorded).toEqual([]);
      expect(brokers.recordedButNotPlaced).toEqual([]);
      expect(audit.filter((a) => !a.ok)).toEqual([]);
      expect(alarms.length).toBeGreaterThan(0);
      expect({ missing: alerts.missing, undelivered: alerts.undelivered, notReceived: alerts.notReceived }).toEqual({
        missing: [],
        undelivered: [],
        notReceived: [],
      });
      expect(canaryUses[0].n).toBeGreaterThan(0);
      expect(leaks.flatMap((l) => l.hits)).toEqual([]);
      expect(leaks.every((l) => l.searched > 0)).toBe(true);
    },
    60 * 60_000,
  );
});
