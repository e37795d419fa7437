// Build check: the JavaScript index.html loads first must stay under 300 kB gzip-compressed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const LIMIT = 300 * 1024;
const dist = join(import.meta.dirname, 'dist');
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const scripts = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)].map((m) => m[1]);
if (scripts.length === 0) throw new Error('check-size: index.html loads no script');
const total = scripts.reduce((sum, src) => sum + gzipSync(readFileSync(join(dist, src))).length, 0);
console.log(`console first load: ${(total / 1024).toFixed(1)} kB gzip in ${scripts.length} file(s) (limit 300 kB)`);
if (total > LIMIT) process.exit(1);
