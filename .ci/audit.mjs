// Checks every installed package version (package-lock.json) against the advisories the npm registry
// serves (bulk endpoint, as `npm audit` uses). High/critical fails the run. When the registry cannot
// answer, it says loudly that nothing was checked; AUDIT_REQUIRED=1 turns that into a failure too.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

const require = createRequire(import.meta.url);
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
const installed = {};
for (const [path, meta] of Object.entries(lock.packages ?? {})) {
  if (!path || !meta.version || meta.link) continue;
  const name = meta.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  (installed[name] ??= new Set()).add(meta.version);
}
const body = Object.fromEntries(Object.entries(installed).map(([n, v]) => [n, [...v]]));
const registry = (process.env.npm_config_registry || execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()).replace(/\/$/, '');
const endpoint = `${registry}/-/npm/v1/security/advisories/bulk`;

function notChecked(reason) {
  console.log(`\n!!! npm advisories NOT CHECKED: ${reason}`);
  console.log(`!!! ${Object.keys(body).length} packages were not compared with any advisory database (${endpoint}).\n`);
  process.exit(process.env.AUDIT_REQUIRED === '1' ? 1 : 0);
}

let advisories;
try {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) notChecked(`the registry answered HTTP ${res.status}`);
  advisories = await res.json();
} catch (err) {
  notChecked(`the registry could not be reached (${err.cause?.code ?? err.message})`);
}
if (!advisories || typeof advisories !== 'object') notChecked('the registry answered something that is not an advisory list');

const semver = require('semver');
const findings = [];
for (const [name, list] of Object.entries(advisories)) {
  for (const advisory of list) {
    for (const version of installed[name] ?? []) {
      if (semver.satisfies(version, advisory.vulnerable_versions ?? '*', { includePrerelease: true })) findings.push({ name, version, ...advisory });
    }
  }
}
const blocking = findings.filter((f) => f.severity === 'high' || f.severity === 'critical');
for (const f of findings) console.log(`${f.severity.padEnd(8)} ${f.name}@${f.version}: ${f.title} (${f.url})`);
console.log(`npm advisories checked: ${Object.keys(body).length} packages, ${findings.length} advisories apply, ${blocking.length} high/critical`);
process.exit(blocking.length ? 1 : 0);
