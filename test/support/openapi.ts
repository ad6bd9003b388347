/**
 * Validates real HTTP responses against openapi.yaml with a JSON Schema validator (Ajv), so tests
 * prove the API keeps the contract instead of checking fields by hand.
 *
 * - The response must be documented for its path, method and status.
 * - Its documented headers must be there when `required`, and match their schema when present.
 * - A response documented without content must have an empty body; one with JSON content must
 *   have a JSON content type and a body valid against the schema (OpenAPI 3.0 `nullable` is Ajv's
 *   native `nullable` keyword).
 *
 * One deviation from Ajv's defaults: `format: time`. JSON Schema's `time` is RFC 3339 `full-time`
 * (offset required), but the contract uses it for a local wall-clock time (its own example is
 * "22:38:19"), so `time` is checked as ajv-formats' `iso-time` (offset optional).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { parse } from 'yaml';

const addFormats = addFormatsModule.default;

export const OPENAPI_PATH = new URL('../../openapi.yaml', import.meta.url);

type Json = Record<string, unknown>;

/** The subset of a supertest response (or any HTTP response) the validator reads. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body (supertest's `body`). */
  body: unknown;
  /** Raw body text (supertest's `text`). */
  text?: string;
}

export class ContractViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractViolation';
  }
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export class OpenApiValidator {
  readonly document: Json;
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(yamlText: string = readFileSync(OPENAPI_PATH, 'utf8')) {
    this.document = parse(yamlText) as Json;
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addFormat('time', fullFormats['iso-time']);
    this.ajv.addSchema(this.document, 'openapi');
  }

  /** The object at a local `#/...` pointer. */
  private at(pointer: string): Json {
    let node: unknown = this.document;
    for (const raw of pointer.replace(/^#\//, '').split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      node = (node as Json | undefined)?.[key];
    }
    if (node === undefined || node === null) {
      throw new ContractViolation(`openapi.yaml has nothing at ${pointer}`);
    }
    return node as Json;
  }

  /** Follows `$ref`s; returns the object and the pointer it lives at. */
  private resolve(pointer: string): { node: Json; pointer: string } {
    let current = pointer;
    let node = this.at(current);
    for (let i = 0; typeof node.$ref === 'string' && i < 10; i++) {
      current = node.$ref;
      node = this.at(current);
    }
    return { node, pointer: current };
  }

  /** Ajv validator of the schema at `pointer` (compiled once). */
  schemaAt(pointer: string): ValidateFunction {
    let fn = this.compiled.get(pointer);
    if (!fn) {
      fn = this.ajv.compile({ $ref: `openapi${pointer}` });
      this.compiled.set(pointer, fn);
    }
    return fn;
  }

  /** Throws a ContractViolation describing every way `res` breaks the contract. */
  assertResponse(method: string, path: string, res: HttpResponse): void {
    const where = `${method.toUpperCase()} ${path} -> ${res.status}`;
    const opPointer = `#/paths/${escapePointer(path)}/${method.toLowerCase()}`;
    const operation = this.resolve(opPointer);
    const responses = operation.node.responses as Json | undefined;
    const statusKey = String(res.status);
    if (!responses || !(statusKey in responses)) {
      throw new ContractViolation(`${where}: status ${statusKey} is not documented`);
    }
    const { node: response, pointer } = this.resolve(
      `${opPointer}/responses/${escapePointer(statusKey)}`,
    );
    const problems: string[] = [];

    for (const [name, ref] of Object.entries((response.headers as Json | undefined) ?? {})) {
      const header = (ref as Json).$ref
        ? this.resolve((ref as Json).$ref as string)
        : { node: ref as Json, pointer: '' };
      const value = res.headers[name.toLowerCase()];
      if (value === undefined) {
        if (header.node.required === true) problems.push(`required header ${name} is missing`);
        continue;
      }
      const schema = header.node.schema as Json | undefined;
      if (!schema) continue;
      const raw = Array.isArray(value) ? value.join(', ') : value;
      const typed = schema.type === 'integer' || schema.type === 'number' ? Number(raw) : raw;
      const validate = this.ajv.compile(schema);
      if (!validate(typed)) {
        problems.push(
          `header ${name}=${JSON.stringify(raw)}: ${this.ajv.errorsText(validate.errors)}`,
        );
      }
    }

    const content = response.content as Json | undefined;
    if (!content) {
      if ((res.text ?? '') !== '') problems.push('a body was sent where none is documented');
    } else {
      const contentType = String(res.headers['content-type'] ?? '')
        .replace(/;.*$/, '')
        .trim();
      if (!(contentType in content)) {
        problems.push(
          `content type ${JSON.stringify(contentType)} is not one of ${Object.keys(content).join(', ')}`,
        );
      } else if (contentType === 'application/json') {
        const validate = this.schemaAt(`${pointer}/content/${escapePointer(contentType)}/schema`);
        if (!validate(res.body)) {
          problems.push(`body: ${this.ajv.errorsText(validate.errors, { dataVar: 'body' })}`);
        }
      }
    }

    if (problems.length > 0) {
      throw new ContractViolation(`${where} breaks openapi.yaml:\n  - ${problems.join('\n  - ')}`);
    }
  }
}

let shared: OpenApiValidator | undefined;

/** The validator of the repository's openapi.yaml (parsed and compiled once per test file). */
export function contract(): OpenApiValidator {
  shared ??= new OpenApiValidator();
  return shared;
}

/** Asserts that a response to `GET path` keeps the contract; returns it for chaining. */
export function expectContract<R extends HttpResponse>(path: string, res: R, method = 'get'): R {
  contract().assertResponse(method, path, res);
  return res;
}
