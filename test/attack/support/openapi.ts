import { randomBytes, randomUUID } from 'node:crypto';

/** A JSON Schema node as zod's toJSONSchema writes it into the OpenAPI document. */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  method: string;
  /** OpenAPI path template, e.g. /v1/connections/{id}. */
  path: string;
  key: string;
  parameters: Parameter[];
  body?: Schema;
  /** Declares bearer auth (everything but login and the webhooks). */
  bearer: boolean;
  mutation: boolean;
}

export function operations(doc: { paths: Record<string, Record<string, any>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const M = method.toUpperCase();
      ops.push({
        method: M,
        path,
        key: `${M} ${path}`,
        parameters: (op.parameters ?? []) as Parameter[],
        body: op.requestBody?.content?.['application/json']?.schema,
        bearer: Array.isArray(op.security) && op.security.some((s: Record<string, unknown>) => 'bearer' in s),
        mutation: M !== 'GET',
      });
    }
  }
  return ops;
}

/** Picks the concrete schema of an anyOf/oneOf: the first alternative that is a string, else the first. */
function concrete(schema: Schema): Schema {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (!alternatives) return schema;
  // Nested alternatives (a nullable union) are resolved down to one concrete schema.
  return concrete(alternatives.find((a) => a.type === 'string') ?? alternatives.find((a) => a.type !== 'null') ?? alternatives[0]);
}

function typeOf(schema: Schema): string | undefined {
  const s = concrete(schema);
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null');
  if (s.type) return s.type;
  if (s.properties) return 'object';
  if (s.enum) return typeof s.enum[0];
  return undefined; // unconstrained ({}): the webhook's numeric-or-string fields
}

/**
 * Every string-carrying leaf of a body schema, as a path: strings, enums, unconstrained values,
 * record values (`*`) and record keys (`*key*`), array items (`[]`).
 */
export function stringFields(schema: Schema | undefined, prefix: string[] = []): string[][] {
  if (!schema) return [];
  const s = concrete(schema);
  const type = typeOf(s);
  if (type === 'object' || s.properties || (typeof s.additionalProperties === 'object' && s.additionalProperties)) {
    const out: string[][] = [];
    for (const [name, prop] of Object.entries(s.properties ?? {})) out.push(...stringFields(prop, [...prefix, name]));
    if (typeof s.additionalProperties === 'object') out.push([...prefix, '*'], [...prefix, '*key*']);
    return out;
  }
  if (type === 'array') return [[...prefix, '[]']];
  if (type === 'string' || type === undefined) return [prefix];
  return [];
}

/** Body fields that carry an id (uuid format): where IDOR-in-body puts another workspace's ids. */
export function idFields(schema: Schema | undefined, prefix: string[] = []): string[][] {
  if (!schema) return [];
  const s = concrete(schema);
  if (s.properties) return Object.entries(s.properties).flatMap(([name, prop]) => idFields(prop, [...prefix, name]));
  return s.format === 'uuid' || (prefix.length > 0 && /Id$/.test(prefix[prefix.length - 1]) && typeOf(s) === 'string') ? [prefix] : [];
}

export interface SampleContext {
  /** A uuid for a field of this name (sourceId, connectionId, workspaceId...); undefined: a random one. */
  idFor(field: string): string | undefined;
  /** Field-specific values the schema cannot express (an existing login, say). */
  override?(field: string): unknown;
}

const CANDIDATES = ['AAPL', 'abc', 'x', 'sample', '1', 'a1'];

/** A value that satisfies the schema (required properties only; an object with none gets its first simple one). */
export function sample(schema: Schema | undefined, ctx: SampleContext, field = ''): unknown {
  if (!schema) return undefined;
  const override = ctx.override?.(field);
  if (override !== undefined) return override;
  const s = concrete(schema);
  if (s.default !== undefined && typeof s.default !== 'object') return s.default;
  if (s.enum) return field === 'role' && s.enum.includes('viewer') ? 'viewer' : s.enum[0];
  switch (typeOf(s)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = Object.entries(s.properties ?? {});
      const required = new Set(s.required ?? []);
      for (const [name, prop] of props) if (required.has(name)) out[name] = sample(prop, ctx, name);
      if (required.size === 0 && props.length > 0) {
        const simple = props.find(([, p]) => ['boolean', 'integer', 'number'].includes(typeOf(p) ?? '') || concrete(p).enum) ?? props[0];
        out[simple[0]] = sample(simple[1], ctx, simple[0]);
      }
      return out;
    }
    case 'array':
      return [];
    case 'boolean':
      // false is the harmless choice: kill switches off, live trading off, a route disabled.
      return false;
    case 'integer':
    case 'number':
      return Math.max(s.minimum ?? 1, 1);
    default:
      return sampleString(s, ctx, field);
  }
}

function sampleString(s: Schema, ctx: SampleContext, field: string): string {
  if (s.format === 'uuid') return ctx.idFor(field) ?? randomUUID();
  if (s.format === 'email' || /email/i.test(field)) return `atk-${randomBytes(4).toString('hex')}@example.com`;
  if (s.format === 'date-time') return new Date().toISOString();
  if (/password/i.test(field)) return `atk-password-${randomBytes(6).toString('hex')}`;
  const fits = (v: string) => (!s.pattern || new RegExp(s.pattern, 'u').test(v)) && v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity);
  const plain = `atk-${field || 'value'}-${randomBytes(3).toString('hex')}`;
  return [plain, ...CANDIDATES].find(fits) ?? (s.type === undefined ? '1' : plain);
}

/** A copy of `body` with the leaf at `path` set to `value` (records and arrays are created on the way). */
export function withField(body: unknown, path: string[], value: unknown): unknown {
  const root = structuredClone(body ?? {}) as Record<string, unknown>;
  let node: Record<string, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const part = path[i];
    if (i === path.length - 2 && path[path.length - 1] === '[]') break;
    if (typeof node[part] !== 'object' || node[part] === null || Array.isArray(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last === '*') node.atk = value;
  else if (last === '*key*') node[String(value)] = 'v';
  else if (last === '[]') node[path[path.length - 2]] = [value];
  else node[last] = value;
  return root;
}

/** The path template filled with the given values (each URI-encoded). */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeSegment(values[name] ?? 'missing'));
}

/** encodeURIComponent, except that a lone surrogate is sent as its raw (invalid UTF-8) bytes instead of throwing. */
function encodeSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    let out = '';
    for (const ch of value) {
      const cu = ch.charCodeAt(0);
      if (ch.length === 1 && cu >= 0xd800 && cu <= 0xdfff) {
        out += [0xe0 | (cu >> 12), 0x80 | ((cu >> 6) & 0x3f), 0x80 | (cu & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
      } else out += encodeURIComponent(ch);
    }
    return out;
  }
}

export function pathParams(template: string): string[] {
  return [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
}
