import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QueueBackend } from './fault-world';
import type { AlertVerdicts, BrokerVerdicts, SignalVerdicts } from './invariants';
import type { ScanResult } from './leak-scan';
import type { FaultMode } from './scenarios';
import { REPO } from './services';

export interface PhaseRun {
  name: string;
  what: string;
  faultMs: number;
  settleMs: number;
  pendingAfterSettle: number;
  notes: string[];
}

export interface BackendRun {
  backend: QueueBackend;
  /** The api or worker exiting by itself (restarted like a supervisor would). */
  crashes: string[];
  phases: PhaseRun[];
  perPhase: Record<string, SignalVerdicts>;
  signals: SignalVerdicts;
  brokers: BrokerVerdicts;
  audit: Array<{ workspace: string; ok: boolean; events: number; detail?: string }>;
  alerts: AlertVerdicts;
  leaks: ScanResult[];
  finalSettleMs: number;
  durationMs: number;
  canaryUses: number;
  kills: { api: number; worker: number };
  build: string;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const statuses = (v: SignalVerdicts) => ['routed', 'partially_routed', 'blocked', 'failed'].map((k) => `${v.byStatus[k] ?? 0}`).join(' / ');
const pass = (ok: boolean) => (ok ? 'pass' : '**FAIL**');
const answers = (v: SignalVerdicts) =>
  Object.entries(v.answers)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');

function phaseOk(v: SignalVerdicts | undefined, p?: PhaseRun): boolean {
  if (!v) return true;
  return (
    v.nonTerminal === 0 &&
    v.serverErrors === 0 &&
    v.withoutReason === 0 &&
    v.doubled === 0 &&
    v.refused === 0 &&
    v.gaveUp === 0 &&
    (p?.pendingAfterSettle ?? 0) === 0
  );
}

function runTables(run: BackendRun): string[] {
  const lines = [
    `### Queue on ${run.backend === 'redis' ? 'Redis' : 'PostgreSQL'}`,
    '',
    '| fault | what was done | signals sent / accepted | answers to the senders (per attempt) | routed / partially / blocked / failed | fault lasted | all terminal after | result |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const warm = run.perPhase['warm-up'];
  if (warm)
    lines.push(
      `| (none: warm-up) | steady stream before any fault | ${warm.sent} / ${warm.accepted} | ${answers(warm)} | ${statuses(warm)} | – | – | ${pass(phaseOk(warm))} |`,
    );
  for (const p of run.phases) {
    const v = run.perPhase[p.name];
    const notes = p.notes.length ? ` (${p.notes.join('; ')})` : '';
    lines.push(
      `| ${p.name} | ${p.what}${notes} | ${v?.sent ?? 0} / ${v?.accepted ?? 0} | ${v ? answers(v) : '–'} | ${v ? statuses(v) : '–'} | ${s(p.faultMs)} | ${s(p.settleMs)} | ${pass(phaseOk(v, p))} |`,
    );
  }
  const tail = run.perPhase['steady (after all faults)'];
  if (tail)
    lines.push(
      `| (none: after the faults) | steady stream, then the stream stops | ${tail.sent} / ${tail.accepted} | ${answers(tail)} | ${statuses(tail)} | – | ${s(run.finalSettleMs)} | ${pass(phaseOk(tail))} |`,
    );
  const v = run.signals;
  const b = run.brokers;
  const alertsOk = run.alerts.missing.length === 0 && run.alerts.undelivered.length === 0 && run.alerts.notReceived.length === 0;
  lines.push(
    '',
    '| invariant (whole run) | checked | result |',
    '|---|---|---|',
    `| no process crashes by itself | api and worker watched all run${run.crashes.length ? `: ${run.crashes.join('; ')}` : ''} | ${pass(run.crashes.length === 0)} |`,
    `| every accepted signal terminal (routed, or blocked/failed with a reason) | ${v.accepted} accepted: ${statuses(v)}; ${v.nonTerminal} not terminal, ${v.withoutReason} without a reason | ${pass(v.nonTerminal === 0 && v.withoutReason === 0)} |`,
    `| no signal doubled (one webhook-id, one signal) | ${v.sent} deliveries, ${v.retriedBySender} retried by the sender | ${pass(v.doubled === 0)} |`,
    `| outages answered 503 with Retry-After, never 500 | ${v.serverErrors} answers of 500 or above other than 503 | ${pass(v.serverErrors === 0)} |`,
    `| every delivery eventually accepted | ${v.gaveUp} given up, ${v.refused} refused with a 4xx | ${pass(v.gaveUp === 0 && v.refused === 0)} |`,
    `| zero duplicate orders at the brokers (by client order id) | ${b.ordersAtBrokers} orders at Alpaca, Binance and paper; ${b.resubmissions} resubmissions after 5xx/timeouts; orders by worker attempts: ${Object.entries(
      b.ordersByAttempts,
    )
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ')} | ${pass(b.duplicates.length === 0)} |`,
    `| brokers and database agree | ${b.placedButNotRecorded.length} placed but not recorded, ${b.recordedButNotPlaced.length} recorded but not placed; orders ${Object.entries(
      b.ordersByStatus,
    )
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')} | ${pass(b.placedButNotRecorded.length === 0 && b.recordedButNotPlaced.length === 0)} |`,
    `| audit chain verifies (GET /v1/audit/verify from the checkpoint, and the full verifier from the first event) | ${run.audit.length} workspaces, ${run.audit.reduce((n, a) => n + a.events, 0)} events | ${pass(run.audit.every((a) => a.ok))} |`,
    `| no alert lost | ${run.alerts.raised} alerts raised (signature-failure bursts during faults, PagerDuty down during the Redis and PostgreSQL faults), ${run.alerts.deliveryAttempts} delivery attempts; ${run.alerts.missing.length} missing, ${run.alerts.undelivered.length} undelivered, ${run.alerts.notReceived.length} not received | ${pass(alertsOk)} |`,
  );
  const reasons = Object.entries(v.failureReasons).sort((a, b2) => b2[1] - a[1]);
  if (reasons.length) {
    lines.push('', 'Reasons recorded on signals that were not fully routed:', '');
    for (const [reason, n] of reasons) lines.push(`- ${n} × \`${reason.replace(/`/g, "'")}\``);
  }
  return lines;
}

function leakTable(run: BackendRun): string[] {
  return [
    '| searched | items | hits |',
    '|---|---|---|',
    ...run.leaks.map((l) => `| ${l.place} | ${l.searched} | ${l.hits.length === 0 ? '0' : `**${l.hits.length}**`} |`),
  ];
}

export function printSummary(runs: BackendRun[], full: boolean, totalMs: number): void {
  const out = [`\n=== fault suite (${full ? 'full' : 'reduced'}), ${s(totalMs)} ===`];
  for (const run of runs) out.push(...runTables(run), '', ...leakTable(run), '');
  process.stdout.write(`${out.join('\n')}\n`);
}

/** docs/resilience.md: regenerated by `WRITE_REPORTS=1 npm run test:faults`. */
export function writeResilienceReport(runs: BackendRun[], mode: FaultMode, totalMs: number): void {
  const lines = [
    '# Resilience: faults injected and what survived them',
    '',
    '<!-- Generated by test/faults (WRITE_REPORTS=1 npm run test:faults); do not edit by hand. -->',
    '',
    'The fault suite (`test/faults/resilience.faults.ts`) runs the api and the worker as real processes',
    '(`node dist/main.js`, `node dist/worker.js`), a private PostgreSQL and Redis, the AWS KMS wire stub',
    '(one principal per process), signature-verifying Alpaca and Binance stubs and a PagerDuty receiver.',
    `A steady stream (${mode.rate} signals/s over ${'3'} workspaces, 6 sources and 12 routes: Alpaca, Binance and paper)`,
    'flows while one fault after another hits; senders retry like TradingView (same webhook-id, on 5xx,',
    '429, timeouts and refused connections). After each fault the suite waits until every accepted',
    'signal is terminal; at the end it checks the brokers, the audit chains, the alerts and scans for a canary.',
    '',
    `Run: ${new Date().toISOString().slice(0, 10)}, ${s(totalMs)} in all, build: ${runs[0]?.build ?? '?'}.`,
    'CI runs a reduced version (Redis backend, lighter stream) on every push; `npm run test:faults` runs this full one.',
    '',
    'Found by this suite and fixed (each a separate commit): a Redis that restarted empty lost every queued signal for',
    'good (the recovery sweep now enqueues again unfinished signals whose job is gone); a PostgreSQL outage over a backlog',
    'spent all six attempts of each queued job in ~8 s and left its signal unfinished (an unreachable database now delays',
    'the job without spending an attempt); the worker crashed on a PostgreSQL restart (a checked-out connection emitted',
    "'error' with no listener); webhooks sent while PostgreSQL was down were answered 500 (now 503 `database_unavailable`",
    'with Retry-After, which senders retry); on the PostgreSQL queue backend, after a PostgreSQL restart, jobs waiting for',
    "an earlier signal cycled through 20 ms delays ahead of that signal's re-queued job and starved it (waits now back off).",
    '',
    '## Faults',
    '',
  ];
  for (const run of runs)
    lines.push(...runTables(run), '', `Kills: api ${run.kills.api}, worker ${run.kills.worker}; the canary connection was opened ${run.canaryUses} times.`, '');
  lines.push(
    '## Leak scan',
    '',
    'A canary Alpaca secret and a canary Binance secret were onboarded first and routed all run long.',
    'Each was searched for as plain text, base64, base64url and hex (both cases), with the key ids, in:',
    '',
  );
  for (const run of runs) lines.push(`### Queue on ${run.backend === 'redis' ? 'Redis' : 'PostgreSQL'}`, '', ...leakTable(run), '');
  writeFileSync(join(REPO, 'docs', 'resilience.md'), `${lines.join('\n')}\n`);
}
