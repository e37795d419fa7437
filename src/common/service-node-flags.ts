/**
 * Node flags the api and the worker run with. The launcher and the bench pass these; package.json's
 * start:api / start:worker, the k8s manifests and docker-compose repeat them (JSON and YAML cannot import).
 * Capping old space makes V8 collect before promoted garbage piles up: under saturation the api's RSS grew
 * to 309-361 MB between full collections without it (budget 300 MB), and peaked at 232 MB with it, while
 * the live heap after a full collection is ~45-60 MB (docs/performance.md, "Memory").
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-old-space-size=256'];
