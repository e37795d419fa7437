import { PipeTransform, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery } from '@nestjs/swagger';
import { z } from 'zod';
import { Problem } from './problem';
import { documentQuery, openApiSchema, ZodPipe } from './validation';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** One page of a list: `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The page a client asked for: rows strictly after `after` in the list's order. */
export interface PageRequest<K> {
  limit: number;
  after?: K;
}

/** A list request: its own filters and the page. */
export interface ListRequest<F, K> {
  filter: F;
  page: PageRequest<K>;
}

/** The order a list is read in and the key its cursor holds; every order ends in a unique column. */
export interface Keyset<K, R> {
  /** The order, for the OpenAPI document. */
  readonly order: string;
  keyOf(row: R): K;
  write(key: K): string[];
  read(parts: unknown[]): K | undefined;
}

export interface TimeKey {
  at: Date;
  id: string;
}

const isoTime = z.iso.datetime();
// Any stored uuid, not only RFC 9562 versions: a cursor must decode for every row a list can show.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Newest first by a time column, ties broken by id: (field, id) DESC. */
export class TimeKeyset<F extends string> implements Keyset<TimeKey, Record<F, Date> & { id: string }> {
  readonly order: string;

  constructor(readonly field: F) {
    this.order = `newest first: \`${field}\` descending, then \`id\` descending`;
  }

  keyOf(row: Record<F, Date> & { id: string }): TimeKey {
    return { at: row[this.field], id: row.id };
  }

  write(key: TimeKey): string[] {
    return [key.at.toISOString(), key.id];
  }

  read(parts: unknown[]): TimeKey | undefined {
    const [at, id] = parts;
    if (parts.length !== 2 || !isoTime.safeParse(at).success || typeof id !== 'string' || !UUID.test(id)) return undefined;
    return { at: new Date(at as string), id: (id as string).toLowerCase() };
  }

  /** Prisma `where` for rows after `key`, i.e. (field, id) < key: the `lte` bound is what lets the index seek, the OR breaks ties. */
  after(key: TimeKey | undefined): { [P in F]?: { lte: Date } } & { OR?: ({ [P in F]?: { lt: Date } } | { id: { lt: string } })[] } {
    if (!key) return {};
    return { [this.field]: { lte: key.at }, OR: [{ [this.field]: { lt: key.at } }, { id: { lt: key.id } }] } as never;
  }

  get orderBy(): ({ [P in F]?: 'desc' } | { id: 'desc' })[] {
    return [{ [this.field]: 'desc' } as { [P in F]?: 'desc' }, { id: 'desc' }];
  }
}

/** Newest first by a unique sequence (the audit chain): seq DESC. */
export class SeqKeyset implements Keyset<bigint, { seq: bigint | null }> {
  readonly order = 'newest first: chain order, `seq` descending';

  keyOf(row: { seq: bigint | null }): bigint {
    return row.seq!;
  }

  write(key: bigint): string[] {
    return [key.toString()];
  }

  read(parts: unknown[]): bigint | undefined {
    const [seq] = parts;
    return parts.length === 1 && typeof seq === 'string' && /^[1-9]\d{0,17}$/.test(seq) ? BigInt(seq) : undefined;
  }

  /** Prisma `where` for chained rows after `key` (unchained rows have no seq and are never listed). */
  after(key: bigint | undefined): { seq: { lt: bigint } | { not: null } } {
    return { seq: key === undefined ? { not: null } : { lt: key } };
  }

  readonly orderBy = { seq: 'desc' } as const;
}

export const byCreatedAt = new TimeKeyset('createdAt');

const CURSOR = /^[A-Za-z0-9_-]{1,256}$/;

export function encodeCursor<K>(keyset: Keyset<K, never>, key: K): string {
  return Buffer.from(JSON.stringify(keyset.write(key)), 'utf8').toString('base64url');
}

export function decodeCursor<K>(keyset: Keyset<K, never>, raw: unknown): K {
  const invalid = Problem.unprocessable('invalid_cursor', 'The cursor is not one this list returned; pass `nextCursor` back unchanged.');
  if (typeof raw !== 'string' || !CURSOR.test(raw)) throw invalid;
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  const key = Array.isArray(parts) ? keyset.read(parts) : undefined;
  if (key === undefined) throw invalid;
  return key;
}

export function parseLimit(raw: unknown): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw Problem.unprocessable('invalid_limit', `limit must be an integer from 1 to ${MAX_LIMIT}.`);
  return n;
}

/** `rows` as read with `take: limit + 1`: the extra row only says that another page exists. */
export function toPage<K, KR, R extends KR, V>(rows: R[], page: PageRequest<K>, keyset: Keyset<K, KR>, view: (row: R) => V): Page<V> {
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  return { items: shown.map(view), nextCursor: more ? encodeCursor(keyset, keyset.keyOf(shown[shown.length - 1])) : null };
}

class ListQueryPipe<F extends z.ZodObject, K> implements PipeTransform<unknown, ListRequest<z.infer<F>, K>> {
  private readonly filters: ZodPipe<F>;

  constructor(
    filters: F,
    private readonly keyset: Keyset<K, never>,
  ) {
    this.filters = new ZodPipe(filters);
  }

  transform(value: unknown): ListRequest<z.infer<F>, K> {
    const { cursor, limit, ...rest } = (value ?? {}) as Record<string, unknown>;
    const page: PageRequest<K> = { limit: parseLimit(limit) };
    if (cursor !== undefined) page.after = decodeCursor(this.keyset, cursor);
    return { filter: this.filters.transform(rest), page };
  }
}

const noFilters = z.strictObject({});

/**
 * The one list contract: `?cursor=…&limit=…` plus the list's own filters in, a `Page` out (keyset
 * pagination in the keyset's order). Documents the parameters, the order and the page shape in OpenAPI.
 */
export function ListQuery<K>(spec: { keyset: Keyset<K, never>; item: string; filters?: z.ZodObject; view?: z.ZodType }): ParameterDecorator {
  const filters = spec.filters ?? noFilters;
  return (target, key, index) => {
    Query(new ListQueryPipe(filters, spec.keyset))(target, key, index);
    if (!key) return;
    const descriptor = Object.getOwnPropertyDescriptor(target, key)!;
    ApiOperation({ description: `A page of ${spec.item}s, ${spec.keyset.order}. Filters combine with AND; a cursor is valid with any filters.` })(
      target,
      key,
      descriptor,
    );
    ApiQuery({
      name: 'cursor',
      required: false,
      description: "The previous page's `nextCursor`, unchanged (opaque). Malformed: 422 `invalid_cursor`.",
      schema: { type: 'string' },
    })(target, key, descriptor);
    ApiQuery({
      name: 'limit',
      required: false,
      description: `Items per page. Outside 1-${MAX_LIMIT}: 422 \`invalid_limit\`.`,
      schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
    })(target, key, descriptor);
    documentQuery(filters)(target, key, descriptor);
    ApiOkResponse({
      description: `A page of ${spec.item}s; \`nextCursor\` is null on the last page.`,
      schema: {
        type: 'object',
        required: ['items', 'nextCursor'],
        properties: {
          items: { type: 'array', items: spec.view ? openApiSchema(spec.view, 'output') : { type: 'object', description: `a ${spec.item}` } },
          nextCursor: { type: 'string', nullable: true },
        },
      },
    })(target, key, descriptor);
  };
}
