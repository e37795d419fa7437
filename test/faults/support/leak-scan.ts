import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';

/** A secret in every form a careless encoder could write it: plain, base64, base64url, hex (both cases). */
export function canaryForms(...secrets: string[]): string[] {
  return secrets.flatMap((secret) => {
    const bytes = Buffer.from(secret, 'utf8');
    const hex = bytes.toString('hex');
    return [secret, bytes.toString('base64'), bytes.toString('base64url'), hex, hex.toUpperCase()];
  });
}

export interface ScanResult {
  /** What was searched (e.g. "log lines"), for the report. */
  place: string;
  /** How many items (lines, rows, keys, files, bodies) were searched. */
  searched: number;
  hits: string[];
}

function hitsIn(text: string, forms: string[]): string[] {
  return forms.filter((f) => text.includes(f));
}

export function scanTexts(place: string, texts: Iterable<string>, forms: string[]): ScanResult {
  let searched = 0;
  const hits: string[] = [];
  for (const text of texts) {
    searched += 1;
    for (const form of hitsIn(text, forms)) hits.push(`${place} #${searched}: contains ${describe(form, forms)}`);
  }
  return { place, searched, hits };
}

/** Every line of every log file. */
export function scanLogFiles(files: string[], forms: string[]): ScanResult {
  const lines: string[] = [];
  for (const file of files) {
    try {
      lines.push(...readFileSync(file, 'utf8').split('\n').filter(Boolean));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return scanTexts('log lines', lines, forms);
}

/** Every row of every table in every non-system schema as text (bytea renders as hex), so every column. */
export async function scanDatabase(url: string, forms: string[]): Promise<ScanResult & { tables: string[] }> {
  const needles = [...forms, ...forms.map((f) => Buffer.from(f, 'utf8').toString('hex'))];
  const client = new Client({ connectionString: url });
  await client.connect();
  const hits: string[] = [];
  let searched = 0;
  const tables: string[] = [];
  try {
    const { rows } = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        ORDER BY 1, 2`,
    );
    for (const t of rows) {
      const table = `${t.schema}.${t.name}`;
      tables.push(table);
      const found = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)} t`);
      for (const r of found.rows) {
        searched += 1;
        for (const n of needles) if (r.row.includes(n)) hits.push(`${table}: a row contains ${describe(n, needles)}`);
      }
    }
  } finally {
    await client.end();
  }
  return { place: 'database rows (every column of every table)', searched, hits, tables };
}

/** Every key under the queue prefix (or all keys), read by type: strings, hashes, lists, sets, sorted sets, streams. */
export async function scanRedis(url: string, forms: string[]): Promise<ScanResult> {
  const redis = new IORedis(url, { maxRetriesPerRequest: 3 });
  const hits: string[] = [];
  let searched = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', '1000');
      cursor = next;
      for (const key of keys) {
        searched += 1;
        const type = await redis.type(key);
        const parts: string[] = [key];
        if (type === 'string') parts.push((await redis.getBuffer(key))?.toString('latin1') ?? '');
        else if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
        else if (type === 'list') parts.push(...(await redis.lrange(key, 0, -1)));
        else if (type === 'set') parts.push(...(await redis.smembers(key)));
        else if (type === 'zset') parts.push(...(await redis.zrange(key, '0', '-1')));
        else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        const text = parts.join('\n');
        for (const form of hitsIn(text, forms)) hits.push(`redis key ${key}: contains ${describe(form, forms)}`);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return { place: 'Redis keys (every value)', searched, hits };
}

/** Every file under a directory, as raw bytes (latin1, so any byte sequence matches itself). */
export function scanDirectory(place: string, dir: string, forms: string[], exclude: (path: string) => boolean = () => false): ScanResult {
  const hits: string[] = [];
  let searched = 0;
  const needles = forms.map((f) => Buffer.from(f, 'utf8'));
  const walk = (path: string) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) walk(join(path, entry));
      return;
    }
    if (!stat.isFile() || exclude(path)) return;
    searched += 1;
    const bytes = readFileSync(path);
    needles.forEach((needle, i) => {
      if (bytes.includes(needle)) hits.push(`${relative(dir, path)}: contains ${describe(forms[i], forms)}`);
    });
  };
  walk(dir);
  return { place, searched, hits };
}

/** Names which form matched without printing the secret itself. */
function describe(form: string, forms: string[]): string {
  return `canary form #${forms.indexOf(form) + 1} (${form.length} chars)`;
}
