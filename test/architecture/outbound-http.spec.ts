import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * Product rule: user-given URLs are fetched only through ONE SSRF guard (src/common/outbound/). So an HTTP
 * client may appear only in the guard and in the two clients whose URLs come from the operator's configuration.
 */
const HTTP_CLIENTS: Record<string, string> = {
  'src/common/outbound/outbound-guard.ts': 'the SSRF guard itself',
  'src/brokers/broker-http.ts': 'broker APIs at the operator-configured BROKER_*_BASE_URL',
  'src/audit/pager/http-delivery.ts': 'pager channels at the operator-configured PAGER_* URLs',
};

const CLIENT_USE = [
  /from ['"]undici['"]/,
  /require\(['"]undici['"]\)/,
  /from ['"](node:)?https?['"]/,
  // The global fetch (a method named fetch, like the guard's own, is not it).
  /(?<![.\w])fetch\s*\(/,
  /globalThis\.fetch\b/,
  /\bXMLHttpRequest\b/,
  /from ['"](axios|got|node-fetch|superagent|needle)['"]/,
];

function sourceFiles(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [{ path: relative(ROOT, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }] : [];
  });
}

/** Files using an HTTP client; a server-only import of node:http (createServer) does not count. */
function httpClientFiles(files: { path: string; text: string }[]): string[] {
  return files
    .filter(({ text }) => CLIENT_USE.some((re) => re.test(text.replace(/import \{ createServer(, Server)? \} from 'node:http';/g, ''))))
    .map((f) => f.path);
}

describe('one SSRF guard for user-given URLs', () => {
  const src = sourceFiles(join(ROOT, 'src'));

  it('no file under src/ uses an HTTP client except the guard and the operator-configured clients', () => {
    expect(httpClientFiles(src).filter((p) => !(p in HTTP_CLIENTS))).toEqual([]);
  });

  it('really reads the tree (each listed client is found)', () => {
    expect(httpClientFiles(src).sort()).toEqual(Object.keys(HTTP_CLIENTS).sort());
  });

  it.each([
    ['undici', `import { request } from 'undici';\nexport const f = (u: string) => request(u);`],
    ['global fetch', `export const f = (u: string) => fetch(u);`],
    ['globalThis.fetch', `export const f = (u: string) => globalThis.fetch(u);`],
    ['node:https', `import { get } from 'node:https';\nexport const f = (u: string) => get(u);`],
    ['node:http request', `import { request } from 'node:http';\nexport const f = (u: string) => request(u);`],
  ])('flags a new file calling %s directly', (_how, text) => {
    expect(httpClientFiles([{ path: 'src/brokers/ibkr/gateway.ts', text }])).toEqual(['src/brokers/ibkr/gateway.ts']);
  });
});
