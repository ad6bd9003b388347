import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { normaliseEvent, type NormalisedEvent, type RawEvent } from '../../../src/domain/event.js';
import { createEsClient } from '../../../src/store/client.js';
import { writeOpOf, type WriteOp } from '../../../src/ingest/operations.js';
import { writeEvents, type BulkFailure } from '../../../src/ingest/writer.js';
import { bootstrapIndices, indexNames, type EventDocument } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents, bytesSource, fixture, ingest, searchableIds } from './support.js';

const env = testStoreEnv('event-writer');
const prefix = env.ES_INDEX_PREFIX;
const alias = indexNames(prefix).eventsAlias;
const client = testClient(env);

beforeAll(async () => {
  await bootstrapIndices(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

function raw(baseId: string, overrides: Partial<RawEvent> = {}): RawEvent {
  return {
    base_event_id: baseId,
    sell_mode: 'online',
    title: `Show ${baseId}`,
    event_id: '1',
    event_start_date: '2022-05-01T20:00:00',
    event_end_date: '2022-05-01T22:00:00',
    sold_out: 'false',
    zones: [{ zone_id: '1', capacity: '10', price: '12.50' }],
    ...overrides,
  };
}

function op(baseId: string, overrides: Partial<RawEvent> = {}, provider = 'primary'): WriteOp {
  const event = raw(baseId, overrides);
  const op = writeOpOf(event, normaliseEvent(provider, event));
  if (!op) throw new Error('no identity');
  return op;
}

async function* from(ops: WriteOp[]): AsyncGenerator<WriteOp> {
  yield* ops;
}

let run = 0;
async function write(
  ops: WriteOp[],
  onFailure?: (f: BulkFailure) => void,
  options: { provider?: string; day?: number } = {},
) {
  run++;
  return writeEvents(from(ops), {
    client,
    index: alias,
    context: {
      runId: `run-${run}`,
      seenAt: new Date(Date.UTC(2024, 0, options.day ?? run)).toISOString(),
      timeZone: 'UTC',
    },
    onFailure,
    provider: options.provider,
  });
}

async function doc(baseId: string, provider = 'primary'): Promise<EventDocument | undefined> {
  const id = (op(baseId, {}, provider) as { event: NormalisedEvent }).event.id;
  return (await allEvents(client, prefix)).get(id);
}

/** Counts the requests the client sends whose path ends with `endpoint` while `f` runs. */
async function requestsTo<T>(endpoint: string, f: () => Promise<T>): Promise<[T, number]> {
  let n = 0;
  const listener = (_err: unknown, event: { meta: { request: { params: { path: string } } } }) => {
    if (event.meta.request.params.path.endsWith(endpoint)) n++;
  };
  client.diagnostic.on('request', listener as never);
  try {
    return [await f(), n];
  } finally {
    client.diagnostic.off('request', listener as never);
  }
}

describe('writeEvents: the "ever online" rule without scripts', () => {
  it('an event first seen offline is stored, not online, and becomes online for good', async () => {
    expect((await write([op('a', { sell_mode: 'offline' })])).eventsWritten).toBe(1);
    expect(await doc('a')).toMatchObject({
      ever_online: false,
      sell_mode: 'offline',
      min_price: 12.5,
    });

    await write([op('a', { sell_mode: 'online', event_end_date: '2022-05-01T23:00:00' })]);
    expect(await doc('a')).toMatchObject({
      ever_online: true,
      sell_mode: 'online',
      ends_at: '2022-05-01T23:00:00',
    });

    await write([op('a', { sell_mode: 'offline', zones: [{ capacity: '3', price: '9.00' }] })]);
    const after = await doc('a');
    expect(after).toMatchObject({ ever_online: true, sell_mode: 'offline', min_price: 9 });
    expect(after?.first_seen_at).toBe('2024-01-01T00:00:00.000Z');
    expect(after?.last_seen_at).toBe('2024-01-03T00:00:00.000Z');
  });

  it('a rejected sighting of a stored event only updates its bookkeeping', async () => {
    await write([op('b')]);
    const good = await doc('b');
    const stats = await write([op('b', { event_start_date: '2022-02-30T20:00:00', title: 'New' })]);
    expect([stats.eventsWritten, stats.rejectedWritten, stats.failures]).toEqual([0, 1, 0]);
    const after = await doc('b');
    expect(after).toEqual({
      ...good,
      last_seen_at: expect.any(String),
      // The run that created the document (docs/adr/0013-change-driven-data.md).
      last_run_id: good?.last_run_id,
      content_hash: expect.any(String),
      last_rejection: {
        reason: 'invalid_date',
        detail: expect.stringContaining('2022-02-30T20:00:00'),
        at: after?.last_seen_at,
      },
    });
    // A later valid sighting clears the rejection.
    await write([op('b')]);
    expect((await doc('b'))?.last_rejection).toBeNull();
  });

  it('a rejected event never seen before is stored without dates, so never searchable', async () => {
    await write([op('c', { event_end_date: 'tomorrow' })]);
    const stored = await doc('c');
    expect(stored).toMatchObject({ ever_online: true, title: 'Show c' });
    expect(stored).not.toHaveProperty('period');
    expect(stored).not.toHaveProperty('summary');
    expect(await searchableIds(client, prefix)).not.toContain(stored?.id);
  });
});

describe('writeEvents: new documents are created whole, existing ones updated (ADR 0016)', () => {
  it("a provider's first run looks nothing up and creates every document", async () => {
    const ops = [op('n1', {}, 'newcomer'), op('n2', { sell_mode: 'offline' }, 'newcomer')];
    const rejected = op('n3', { event_end_date: 'tomorrow' }, 'newcomer');
    const [stats, lookups] = await requestsTo('/_mget', () =>
      write([...ops, rejected], undefined, { provider: 'newcomer', day: 10 }),
    );
    expect(lookups).toBe(0);
    expect(stats).toMatchObject({ items: 3, created: 3, changed: 3, unchanged: 0, failures: 0 });
    expect([stats.eventsWritten, stats.rejectedWritten]).toEqual([2, 1]);
    // The whole document, as the upsert of an update would have created it.
    expect(await doc('n1', 'newcomer')).toMatchObject({
      ever_online: true,
      first_seen_at: '2024-01-10T00:00:00.000Z',
      last_seen_at: '2024-01-10T00:00:00.000Z',
      last_run_id: `run-${run}`,
      last_rejection: null,
      content_hash: expect.any(String),
    });
    expect(await doc('n2', 'newcomer')).toMatchObject({ ever_online: false });
    expect(await doc('n3', 'newcomer')).toMatchObject({
      ever_online: true,
      last_rejection: { reason: 'invalid_date' },
    });

    // Its next run looks the documents up: the same day changes nothing, a new one updates.
    const [again, lookedUp] = await requestsTo('/_mget', () =>
      write([...ops, rejected], undefined, { provider: 'newcomer', day: 10 }),
    );
    expect(lookedUp).toBe(1);
    expect(again).toMatchObject({ created: 0, changed: 0, unchanged: 3 });
    const later = await write([...ops, op('n4', {}, 'newcomer')], undefined, {
      provider: 'newcomer',
      day: 11,
    });
    expect(later).toMatchObject({ items: 3, created: 1, changed: 3, unchanged: 0 });
    expect(await doc('n1', 'newcomer')).toMatchObject({
      first_seen_at: '2024-01-10T00:00:00.000Z',
      last_seen_at: '2024-01-11T00:00:00.000Z',
    });
  });

  it('a document created after the lookup (create refused, 409) gets the update instead', async () => {
    await write([op('d', { sell_mode: 'online' }), op('e', { sell_mode: 'offline' })]);
    const [firstD, firstE] = [await doc('d'), await doc('e')];
    // The writer is told the provider has no documents, so it creates without looking up: both
    // documents exist, as if another writer had created them in between.
    const stats = await write(
      [
        op('d', { sell_mode: 'offline', title: 'Renamed' }),
        op('e', { event_start_date: '2022-02-30T20:00:00' }),
      ],
      undefined,
      { provider: 'nobody-yet' },
    );
    expect(stats).toMatchObject({ items: 2, created: 2, changed: 2, failures: 0 });
    expect([stats.eventsWritten, stats.rejectedWritten]).toEqual([1, 1]);
    // The outcome of the update: ever online stays set (ADR 0002), the creation's bookkeeping stays.
    expect(await doc('d')).toMatchObject({
      title: 'Renamed',
      sell_mode: 'offline',
      ever_online: true,
      first_seen_at: firstD?.first_seen_at,
      last_run_id: firstD?.last_run_id,
    });
    expect(await doc('e')).toEqual({
      ...firstE,
      // An online sighting counts, valid or not.
      ever_online: true,
      last_seen_at: expect.any(String),
      content_hash: expect.any(String),
      last_rejection: expect.objectContaining({ reason: 'invalid_date' }),
    });
  });
});

describe('writeEvents: failures are counted, never dropped silently', () => {
  it('counts an item Elasticsearch refuses and keeps the others', async () => {
    const bad = op('d') as { kind: 'event'; event: NormalisedEvent };
    const broken: WriteOp = {
      kind: 'event',
      event: { ...bad.event, starts_at: 'not-a-date' as NormalisedEvent['starts_at'] },
    };
    const seen: BulkFailure[] = [];
    const stats = await write([op('e'), broken, op('f')], (f) => seen.push(f));
    expect(stats).toMatchObject({ items: 3, eventsWritten: 2, failures: 1, error: null });
    expect(seen).toEqual([
      {
        id: bad.event.id,
        status: 400,
        type: 'document_parsing_exception',
        reason: expect.any(String),
      },
    ]);
    expect(stats.sampleFailures).toEqual(seen);
    expect(await doc('e')).toBeDefined();
    expect(await doc('f')).toBeDefined();
  });

  it('reports a whole-request failure (Elasticsearch unreachable) with every item failed', async () => {
    const down = createEsClient(
      { ...env, ELASTICSEARCH_URL: 'http://127.0.0.1:1', ES_REQUEST_TIMEOUT_MS: 1_000 },
      { maxRetries: 0 },
    );
    const stats = await writeEvents(from([op('g'), op('h')]), {
      client: down,
      index: alias,
      context: { runId: 'run-down', seenAt: new Date().toISOString(), timeZone: 'UTC' },
      refresh: false,
    });
    await down.close();
    expect(stats.items).toBe(2);
    expect(stats.failures).toBe(2);
    expect(stats.error?.message).toMatch(/ECONNREFUSED|connect/i);
  });

  it('a run with a refused item fails, naming it, and keeps what was written', async () => {
    const prefixRun = `${prefix}-bulk`;
    await bootstrapIndices(client, prefixRun);
    const names = indexNames(prefixRun);
    const { runIngest } = await import('../../../src/ingest/run.js');
    const { createRunStore } = await import('../../../src/ingest/run-store.js');
    const { memoryLogger } = await import('./support.js');
    const bad = op('x') as { kind: 'event'; event: NormalisedEvent };
    const result = await runIngest({
      provider: 'primary',
      timeZone: 'UTC',
      providerUrl: 'http://provider.test/feed',
      source: bytesSource(fixture(1)),
      sink: (ops, context) => {
        async function* withBadItem() {
          yield* ops;
          yield {
            kind: 'event' as const,
            event: { ...bad.event, max_price: 'lots' as unknown as number },
          };
        }
        return writeEvents(withBadItem(), { client, index: names.eventsAlias, context });
      },
      runs: createRunStore(client, prefixRun),
      logger: memoryLogger().logger,
    });
    expect(result.ok).toBe(false);
    expect(result.run).toMatchObject({
      outcome: 'failed',
      counts: { events_upserted: 3, bulk_failures: 1 },
    });
    expect(result.run.error).toMatch(
      new RegExp(
        `^Elasticsearch refused 1 of 4 items \\(first: event ${bad.event.id}: 400 document_parsing_exception `,
      ),
    );
    expect((await allEvents(client, prefixRun)).size).toBe(3);
    await dropPrefix(client, prefixRun);
  });

  it('the samples still ingest in batches of one item, each a bulk request', async () => {
    const result = await ingest(client, prefix, bytesSource(fixture(2)), {
      flushBytes: 1,
      concurrency: 3,
    });
    expect(result.run.counts).toMatchObject({
      events_upserted: 2,
      events_rejected: 1,
      bulk_failures: 0,
    });
  });
});
