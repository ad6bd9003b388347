import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { readOpenApiYaml } from '../../../src/api/app.js';
import { ContractViolation, OpenApiValidator } from '../../support/openapi.js';
import { SAMPLE_SUMMARIES } from '../../support/seed.js';

type Json = Record<string, unknown>;

/**
 * openapi.yaml minus everything marked as an extension: objects with `x-extension: true`, fields
 * listed in `x-extension-fields`, and every other `x-` key.
 */
function withoutExtensions(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node
      .filter((item) => !(item && typeof item === 'object' && (item as Json)['x-extension']))
      .map(withoutExtensions);
  }
  if (!node || typeof node !== 'object') return node;
  const obj = node as Json;
  const added = new Set(((obj['x-extension-fields'] as unknown[]) ?? []).map(String));
  const out: Json = {};
  for (const [key, value] of Object.entries(obj)) {
    if (key.startsWith('x-') || added.has(key)) continue;
    if (value && typeof value === 'object' && (value as Json)['x-extension'] === true) continue;
    out[key] = withoutExtensions(value);
  }
  return out;
}

const upstream = parse(
  readFileSync(new URL('./fixtures/openapi-upstream.yaml', import.meta.url), 'utf8'),
);

describe('openapi.yaml', () => {
  const text = readOpenApiYaml();
  const doc = parse(text) as Json;

  it('is the upstream contract plus marked extensions only (nothing changed or removed)', () => {
    expect(withoutExtensions(doc)).toEqual(upstream);
  });

  it('documents the extensions the API relies on', () => {
    const search = (doc.paths as Json)['/search'] as { get: { responses: Json } };
    expect(Object.keys(search.get.responses)).toEqual(
      expect.arrayContaining(['200', '304', '400', '429', '500', '503']),
    );
    expect(Object.keys(doc.paths as Json)).toEqual(
      expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/docs']),
    );
    const servers = doc.servers as { url: string }[];
    expect(servers.map((s) => s.url)).toContain('http://localhost:3000');
  });

  it('has a 200 example that satisfies its own schema', () => {
    const validator = new OpenApiValidator(text);
    const media = (
      ((doc.paths as Json)['/search'] as Json).get as {
        responses: { 200: { content: Json } };
      }
    ).responses[200].content['application/json'] as { example: unknown };
    expect(media.example).toEqual({ data: { events: SAMPLE_SUMMARIES }, error: null });
    const validate = validator.schemaAt(
      '#/paths/~1search/get/responses/200/content/application~1json/schema',
    );
    expect(validate(media.example)).toBe(true);
  });
});

describe('the contract validator (test/support/openapi.ts)', () => {
  const validator = new OpenApiValidator();
  const json = { 'content-type': 'application/json; charset=utf-8' };
  const ok = { data: { events: SAMPLE_SUMMARIES }, error: null };

  it('accepts a conforming 200, 400, 304 and 503', () => {
    expect(() =>
      validator.assertResponse('get', '/search', { status: 200, headers: json, body: ok }),
    ).not.toThrow();
    expect(() =>
      validator.assertResponse('get', '/search', {
        status: 400,
        headers: json,
        body: { error: { code: 'invalid_range', message: 'm' }, data: null },
      }),
    ).not.toThrow();
    expect(() =>
      validator.assertResponse('get', '/search', { status: 304, headers: {}, body: {}, text: '' }),
    ).not.toThrow();
    expect(() =>
      validator.assertResponse('get', '/search', {
        status: 503,
        headers: { ...json, 'retry-after': '5' },
        body: { error: { code: 'service_unavailable', message: 'm' }, data: null },
      }),
    ).not.toThrow();
  });

  it.each([
    ['an undocumented status', { status: 418, headers: json, body: ok }, /418 is not documented/],
    [
      'a missing field',
      {
        status: 200,
        headers: json,
        body: { data: { events: [{ ...SAMPLE_SUMMARIES[0], min_price: undefined }] }, error: null },
      },
      /must have required property 'min_price'/,
    ],
    [
      'a time without seconds',
      {
        status: 200,
        headers: json,
        body: { data: { events: [{ ...SAMPLE_SUMMARIES[0], start_time: '20:00' }] }, error: null },
      },
      /start_time must match format "time"/,
    ],
    [
      'a non-UUID id',
      {
        status: 200,
        headers: json,
        body: { data: { events: [{ ...SAMPLE_SUMMARIES[0], id: '291' }] }, error: null },
      },
      /must match format "uuid"/,
    ],
    [
      'a 503 without Retry-After',
      {
        status: 503,
        headers: json,
        body: { error: { code: 'service_unavailable', message: 'm' }, data: null },
      },
      /required header Retry-After is missing/,
    ],
    [
      'an error without the envelope',
      { status: 500, headers: json, body: { message: 'boom' } },
      /must have required property 'error'/,
    ],
    [
      'a body on a 304',
      { status: 304, headers: {}, body: {}, text: '{}' },
      /a body was sent where none is documented/,
    ],
    [
      'a wrong content type',
      { status: 200, headers: { 'content-type': 'text/html' }, body: ok },
      /content type "text\/html"/,
    ],
  ])('rejects %s', (_label, res, message) => {
    let error: unknown;
    try {
      validator.assertResponse('get', '/search', res);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ContractViolation);
    expect((error as Error).message).toMatch(message);
  });
});
