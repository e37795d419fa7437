import { applyDecorators, Body, Param, PipeTransform } from '@nestjs/common';
import { ApiBody, ApiQuery, ApiResponse } from '@nestjs/swagger';
import { z } from 'zod';
import { FieldError, Problem } from './problem';

/** Validates with zod and answers 422 listing every bad field (never echoing values). */
export class ZodPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    // PostgreSQL refuses NUL in text and unpaired surrogates in jsonb: such input is the client's error (422), not a 500.
    const unstorable = unstorablePath(value);
    if (unstorable) throw Problem.validation([{ path: unstorable.join('.') || '(body)', message: 'must not contain NUL characters or unpaired surrogates' }]);
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    throw Problem.validation(toFieldErrors(result.error));
  }
}

const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

interface Visit {
  value: unknown;
  key?: string;
  parent?: Visit;
}

/** The path of the first string (value or key) the database cannot store, if any; iterative, so deep nesting costs no stack. */
function unstorablePath(root: unknown): string[] | undefined {
  const stack: Visit[] = [{ value: root }];
  const pathOf = (v: Visit | undefined, last?: string): string[] => {
    const path = last === undefined ? [] : [last];
    for (let at = v; at?.key !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  while (stack.length > 0) {
    const visit = stack.pop()!;
    if (typeof visit.value === 'string') {
      if (UNSTORABLE.test(visit.value)) return pathOf(visit);
    } else if (typeof visit.value === 'object' && visit.value !== null) {
      for (const [key, child] of Object.entries(visit.value)) {
        if (UNSTORABLE.test(key)) return pathOf(visit, '(key)');
        stack.push({ value: child, key, parent: visit });
      }
    }
  }
  return undefined;
}

export function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
}

/** JSON Schema of what a zod schema accepts (`input`: bodies, queries) or what a route answers (`output`: views). */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return json;
}

/** Documents a route's answer from the zod view schema its service's type is inferred from (the console's types come from it). */
export function ApiView(schema: z.ZodType, status = 200, description = 'OK'): MethodDecorator & ClassDecorator {
  return ApiResponse({ status, description, schema: openApiSchema(schema, 'output') });
}

/** A validated JSON body, documented in OpenAPI from the same schema. */
export function ValidBody(schema: z.ZodType): ParameterDecorator {
  return (target, key, index) => {
    Body(new ZodPipe(schema))(target, key, index);
    if (key) applyDecorators(ApiBody({ schema: openApiSchema(schema) }))(target, key, Object.getOwnPropertyDescriptor(target, key)!);
  };
}

/** Documents each field of a query schema as an OpenAPI query parameter (validation is the caller's pipe). */
export function documentQuery(schema: z.ZodObject): MethodDecorator {
  return (target, key, descriptor) => {
    for (const [name, field] of Object.entries(schema.shape)) {
      const f = field as z.ZodType;
      ApiQuery({ name, required: !f.safeParse(undefined).success, description: f.description, schema: openApiSchema(f) })(target, key, descriptor);
    }
  };
}

const uuid = z.uuid();

/** A path id: anything that is not a UUID is simply not found (404), like another workspace's id. */
export function IdParam(resource: string, name = 'id'): ParameterDecorator {
  return Param(name, {
    transform(value: unknown): string {
      if (typeof value !== 'string' || !uuid.safeParse(value).success) throw Problem.notFound(resource);
      return value.toLowerCase();
    },
  });
}
