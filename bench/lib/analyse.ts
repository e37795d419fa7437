import type { Arrival } from './broker';
import type { LoadResult } from './load';
import { LatencySummary, median, percentile, round, summarize } from './stats';

/** What one load phase showed, seen from outside: webhooks sent, orders arrived at the broker. */
export interface PhaseOutcome {
  sent: number;
  accepted: number;
  /** Webhooks answered with anything but 202 (or not answered). */
  errors: number;
  errorSamples: string[];
  /** Orders expected from accepted signals that never reached the broker. */
  lost: number;
  /** Order requests beyond the first for the same client order id. */
  duplicates: number;
  /** Order requests at the broker that no signal of this phase explains. */
  unexpected: number;
  /** Webhook sent → order request at the broker, per order (ms). */
  latency: LatencySummary;
  /** Per signal, until its last order arrived (fan-out). */
  latencyLastOrder: LatencySummary;
  /** Webhook round trip (sent → 202 received), ms. */
  ack: LatencySummary;
  /** Per second of sending: the slowest order's latency (ms; 0 before the measured window), so a stall shows apart from steady queueing. */
  slowestPerSecond: number[];
  /** Orders arriving per second in the measured window. */
  throughput: number;
  /** Webhooks answered 202 per second while sending. */
  acceptRate: number;
}

export interface AnalyseOptions {
  /** Client order ids the broker should see for an accepted signal sent to target `target`. */
  expectedOrderIds: (signalId: string, target: number) => string[];
  /** Only arrivals and sends after startedAt + warmupMs count towards throughput and latency (closed loop). */
  warmupMs?: number;
}

export function analysePhase(load: LoadResult, arrivals: Arrival[], options: AnalyseOptions): PhaseOutcome {
  const byOrder = new Map<string, Arrival[]>();
  for (const a of arrivals) {
    const list = byOrder.get(a.clientOrderId);
    if (list) list.push(a);
    else byOrder.set(a.clientOrderId, [a]);
  }
  const windowStart = load.startedAt + (options.warmupMs ?? 0);
  const accepted = load.sends.filter((s) => s.status === 202 && s.signalId);
  const errors = load.sends.filter((s) => !(s.status === 202 && s.signalId));
  const expected = new Set<string>();
  const latencies: number[] = [];
  const lastOrder: number[] = [];
  const slowestPerSecond: number[] = [];
  let lost = 0;
  for (const send of accepted) {
    let last = -Infinity;
    let complete = true;
    for (const id of options.expectedOrderIds(send.signalId!, send.target)) {
      expected.add(id);
      const arrived = byOrder.get(id);
      if (!arrived) {
        lost++;
        complete = false;
        continue;
      }
      const first = Math.min(...arrived.map((a) => a.at));
      last = Math.max(last, first);
      if (send.sentAt < windowStart) continue;
      latencies.push(first - send.sentAt);
      const second = Math.floor((send.sentAt - load.startedAt) / 1000);
      slowestPerSecond[second] = round(Math.max(slowestPerSecond[second] ?? 0, first - send.sentAt), 1);
    }
    if (complete && send.sentAt >= windowStart) lastOrder.push(last - send.sentAt);
  }
  let duplicates = 0;
  let unexpected = 0;
  for (const [id, list] of byOrder) {
    if (!expected.has(id)) unexpected += list.length;
    else duplicates += list.length - 1;
  }
  const inWindow = arrivals.filter((a) => a.at >= windowStart && a.at <= load.endedAt && expected.has(a.clientOrderId)).length;
  const windowSeconds = (load.endedAt - windowStart) / 1000;
  const sendSeconds = (load.endedAt - load.startedAt) / 1000;
  return {
    sent: load.sends.length,
    accepted: accepted.length,
    errors: errors.length,
    errorSamples: [...new Set(errors.map((e) => `${e.status} ${e.error ?? ''}`.trim()))].slice(0, 5),
    lost,
    duplicates,
    unexpected,
    latency: summarize(latencies),
    latencyLastOrder: summarize(lastOrder),
    ack: summarize(accepted.filter((s) => s.sentAt >= windowStart).map((s) => s.doneAt - s.sentAt)),
    slowestPerSecond: Array.from(slowestPerSecond, (v) => v ?? 0),
    throughput: round(windowSeconds > 0 ? inWindow / windowSeconds : 0, 1),
    acceptRate: round(sendSeconds > 0 ? accepted.length / sendSeconds : 0, 1),
  };
}

/** A named span between two marks of one signal's timeline. */
export interface StageDef {
  stage: string;
  from: string;
  to: string;
}

/** Median and mean of each stage over the signals that have both marks. */
export function stageTable(timelines: Record<string, number>[], stages: StageDef[]): { stage: string; median: number; mean: number; p99: number; n: number }[] {
  return stages.map(({ stage, from, to }) => {
    const values = timelines.filter((t) => Number.isFinite(t[from]) && Number.isFinite(t[to])).map((t) => t[to] - t[from]);
    const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
    // The tail shows which stage the p99 latency comes from, which the median hides.
    const p99 = values.length
      ? percentile(
          [...values].sort((a, b) => a - b),
          99,
        )
      : NaN;
    return { stage, median: round(median(values), 3), mean: round(mean, 3), p99: round(p99, 3), n: values.length };
  });
}
