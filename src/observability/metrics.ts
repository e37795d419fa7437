import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** One registry per process; modules register their own metrics on it. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

export const httpRequestDuration = new Histogram({
  name: 'switchyard_http_request_duration_seconds',
  help: 'HTTP request duration by route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [metricsRegistry],
});

export const httpErrors = new Counter({
  name: 'switchyard_http_problems_total',
  help: 'Problem responses by status and code',
  labelNames: ['status', 'code'] as const,
  registers: [metricsRegistry],
});
