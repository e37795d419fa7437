/**
 * Node flags the api and the worker run with: the launcher, the bench and the deploy manifests pass them.
 * Capping old space makes V8 collect before promoted garbage piles up: under saturation the api's RSS grew
 * to 309-361 MB between full collections without it (budget 300 MB), and peaked at 232 MB with it, while
 * the live heap after a full collection is ~45-60 MB (docs/performance.md, "Memory").
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-old-space-size=256'];
