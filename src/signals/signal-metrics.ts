import { Counter, Histogram } from 'prom-client';
import { metricsRegistry } from '../observability/metrics';

/** Where webhook time goes: verify (resolve, signature, payload), persist (one commit), enqueue. */
export const webhookStageDuration = new Histogram({
  name: 'switchyard_webhook_stage_duration_seconds',
  help: 'Webhook request path by stage',
  labelNames: ['stage'] as const,
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
  registers: [metricsRegistry],
});

export const webhookOutcomes = new Counter({
  name: 'switchyard_webhooks_total',
  help: 'Webhook deliveries by outcome',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});

/** Refused deliveries of existing sources by reason, and whether they counted toward the signature-failure page. */
export const webhookRefusals = new Counter({
  name: 'switchyard_webhook_refusals_total',
  help: 'Refused webhook deliveries of existing sources by reason; pages=true when they counted toward the signature-failure page',
  labelNames: ['reason', 'pages'] as const,
  registers: [metricsRegistry],
});

export const signalsRecovered = new Counter({
  name: 'switchyard_signals_recovered_total',
  help: 'Signals the recovery sweep found persisted but not marked enqueued, by what it did',
  labelNames: ['action'] as const,
  registers: [metricsRegistry],
});
