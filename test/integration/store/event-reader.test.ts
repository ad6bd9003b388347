/**
 * The reader over a live node: an error Elasticsearch answers (a missing index) reaches the API as
 * the classified error ADR 0012's outage semantics rest on.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { errors } from '@elastic/elasticsearch';
import { createEventReader } from '../../../src/api/search/event-reader.js';
import { parseSearchWindow } from '../../../src/domain/search-window.js';
import { errorType, isIndexNotFound, isUnavailable } from '../../../src/store/errors.js';
import { indexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';

const env = testStoreEnv('reader');
const client = testClient(env);

afterAll(async () => {
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

describe('event reader (live node)', () => {
  it('hands an Elasticsearch error over classified: a missing index is unavailable', async () => {
    const reader = createEventReader(client, indexNames(env.ES_INDEX_PREFIX));
    const window = parseSearchWindow({ starts_at: '2021-01-01T00:00:00Z' });
    const failure = await reader
      .pages(window)
      .next()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(errors.ResponseError);
    expect(errorType(failure)).toBe('index_not_found_exception');
    expect(isIndexNotFound(failure)).toBe(true);
    expect(isUnavailable(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/^index_not_found_exception/);
    expect((failure as errors.ResponseError).statusCode).toBe(404);
  });
});
