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

function op(baseId: string, overrides: Partial<RawEvent> = {}): WriteOp {
  const event = raw(baseId, overrides);
  const op = writeOpOf(event, normaliseEvent('primary', event));
  if (!op) throw new Error('no identity');
  return op;
}

async function* from(ops: WriteOp[]): AsyncGenerator<WriteOp> {
  yield* ops;
}

let run = 0;
async function write(ops: WriteOp[], onFailure?: (f: BulkFailure) => void) {
  run++;
  return writeEvents(from(ops), {
    client,
    index: alias,
    context: {
      runId: `run-${run}`,
      seenAt: new Date(Date.UTC(2024, 0, run)).toISOString(),
      timeZone: 'UTC',
    },
    onFailure,
  });
}

async function doc(baseId: string): Promise<EventDocument | undefined> {
  const id = (op(baseId) as { event: NormalisedEvent }).event.id;
  return (await allEvents(client, prefix)).get(id);
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
