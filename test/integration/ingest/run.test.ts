import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate as isUuid } from 'uuid';
import { eventId } from '../../../src/domain/event.js';
import { FeedHttpError } from '../../../src/ingest/errors.js';
import { runIngest } from '../../../src/ingest/run.js';
import { isWriteItem, type WriteItem } from '../../../src/ingest/operations.js';
import { writeEvents } from '../../../src/ingest/writer.js';
import { bootstrapIndices, indexNames } from '../../../src/store/indices.js';
import { createRunStore } from '../../../src/ingest/run-store.js';
import { getRun, latestSuccessfulRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import {
  allEvents,
  bytesSource,
  failingSource,
  fixture,
  ingest,
  memoryLogger,
  rawSources,
  searchableIds,
} from './support.js';

const env = testStoreEnv('ingest-run');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);

const ID = {
  camela: eventId('primary', '291', '291'),
  pantomima: eventId('primary', '322', '1642'),
  morancos: eventId('primary', '1591', '1642'),
  tributo: eventId('primary', '444', '1642'),
};

beforeAll(async () => {
  await bootstrapIndices(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('ingesting responses 1, 2, 3 in order (real Elasticsearch)', () => {
  const runIds: string[] = [];

  beforeAll(async () => {
    for (const n of [1, 2, 3]) {
      const result = await ingest(client, prefix, bytesSource(fixture(n)));
      expect({ n, ok: result.ok, error: result.error?.message }).toEqual({
        n,
        ok: true,
        error: undefined,
      });
      runIds.push(result.run.run_id);
    }
  });

  it('keeps every event ever seen, each under a stable UUID', async () => {
    const events = await allEvents(client, prefix);
    expect([...events.keys()].sort()).toEqual(Object.values(ID).sort());
    for (const [id, doc] of events) {
      expect(isUuid(id)).toBe(true);
      expect(doc.id).toBe(id);
      expect(id).toBe(eventId(doc.provider, doc.base_event_id, doc.event_id));
    }
  });

  it('291 has its latest values: ends 21:30, prices 20..30 (Grada 2 has no capacity left)', async () => {
    const doc = (await allEvents(client, prefix)).get(ID.camela);
    expect(doc).toMatchObject({
      title: 'Camela en concierto',
      sell_mode: 'online',
      ever_online: true,
      organizer_company_id: null,
      starts_at: '2021-06-30T21:00:00',
      ends_at: '2021-06-30T21:30:00',
      period: { gte: '2021-06-30T21:00:00', lte: '2021-06-30T21:30:00' },
      min_price: 20,
      max_price: 30,
      available_capacity: 280,
      // The run that created it (docs/adr/0013-change-driven-data.md).
      last_run_id: runIds[0],
      last_rejection: null,
      // The API's response object, stored as ready-made JSON (docs/adr/0017-*.md).
      summary_json: JSON.stringify({
        id: ID.camela,
        title: 'Camela en concierto',
        start_date: '2021-06-30',
        start_time: '21:00:00',
        end_date: '2021-06-30',
        end_time: '21:30:00',
        min_price: 20,
        max_price: 30,
      }),
    });
  });

  it('322 is kept with its last known values although it vanished from the feed', async () => {
    const doc = (await allEvents(client, prefix)).get(ID.pantomima);
    expect(doc).toMatchObject({
      title: 'Pantomima Full',
      ever_online: true,
      starts_at: '2021-02-10T20:00:00',
      ends_at: '2021-02-10T21:30:00',
      min_price: 55,
      max_price: 55,
      last_run_id: runIds[0],
    });
  });

  it('1591 ends 21:00 with min = max = 65 (the 75 zone is sold out)', async () => {
    const doc = (await allEvents(client, prefix)).get(ID.morancos);
    expect(JSON.parse(doc?.summary_json ?? 'null')).toMatchObject({
      end_time: '21:00:00',
      min_price: 65,
      max_price: 65,
    });
    expect(doc).toMatchObject({
      ends_at: '2021-07-31T21:00:00',
      min_price: 65,
      max_price: 65,
      organizer_company_id: '1',
    });
  });

  it('444 is stored as seen but not online, without dates, and never searchable', async () => {
    const doc = (await allEvents(client, prefix)).get(ID.tributo);
    expect(doc).toEqual({
      id: ID.tributo,
      provider: 'primary',
      base_event_id: '444',
      event_id: '1642',
      title: 'Tributo a Juanito Valderrama',
      sell_mode: 'offline',
      ever_online: false,
      first_seen_at: expect.any(String),
      last_seen_at: expect.any(String),
      last_run_id: runIds[1],
      content_hash: expect.any(String),
      last_rejection: {
        reason: 'invalid_date',
        detail: expect.stringContaining('2021-09-31T20:00:00'),
        at: expect.any(String),
      },
    });
    expect(await searchableIds(client, prefix)).toEqual(
      [ID.camela, ID.pantomima, ID.morancos].sort(),
    );
  });

  it('records every run with its counts; the latest successful one is run 3', async () => {
    const run3 = await getRun(client, prefix, runIds[2] as string);
    expect(run3).toMatchObject({
      outcome: 'succeeded',
      provider: 'primary',
      error: null,
      counts: {
        base_events_read: 3,
        events_read: 3,
        events_upserted: 2,
        events_rejected: 1,
        bulk_failures: 0,
        rejected_by_reason: { invalid_date: 1 },
      },
    });
    expect(run3?.duration_ms).toBeGreaterThanOrEqual(0);
    expect((await latestSuccessfulRun(client, prefix))?.run_id).toBe(runIds[2]);
    expect((await getRun(client, prefix, runIds[0] as string))?.counts).toMatchObject({
      events_upserted: 3,
      events_rejected: 0,
    });
  });

  it('ingesting the same feed again (the same day) rewrites no document', async () => {
    const before = await rawSources(client, prefix);
    // Run 3's day (last_seen_at moves once a day), whatever the clock says now.
    const run3 = await getRun(client, prefix, runIds[2] as string);
    const sameDay = new Date(Date.parse(run3?.started_at ?? '') + 1);
    const again = await ingest(client, prefix, bytesSource(fixture(3)), { now: () => sameDay });
    expect(again.ok).toBe(true);
    expect(again.run.counts).toMatchObject({ events_upserted: 2, items_changed: 0 });
    // Same sources, sequence numbers and versions: every update was a no-op.
    expect(await rawSources(client, prefix)).toEqual(before);
  });

  describe('a failed feed changes nothing stored and is recorded as failed', () => {
    const xml = fixture(3).toString('utf8');
    const cases: [string, () => ReturnType<typeof bytesSource>, RegExp][] = [
      [
        'truncated after two complete base events',
        () => bytesSource(xml.slice(0, xml.indexOf('<base_event base_event_id="444"') + 40)),
        /^the feed ends before <\/eventList> \(truncated after \d+ bytes, inside <eventList><output> at line 17, column \d+; 2 complete base events were read\)$/,
      ],
      [
        'malformed after valid events',
        () => bytesSource(xml.replace('</output>', '<zone></output>')),
        /^malformed XML at line \d+, column \d+: /,
      ],
      [
        'an HTML page',
        () => bytesSource('<!DOCTYPE html><html><body>502</body></html>'),
        /HTML page/,
      ],
      ['an empty body', () => bytesSource(''), /^the body is empty/],
      [
        'a 500 after retries',
        () =>
          failingSource(
            new FeedHttpError(
              500,
              'the provider answered 500 for http://provider.test/feed (4 attempts)',
              true,
              undefined,
            ),
          ),
        /^the provider answered 500/,
      ],
    ];

    it.each(cases)('%s', async (_name, source, message) => {
      const before = await rawSources(client, prefix);
      const lastGood = await latestSuccessfulRun(client, prefix);
      const { logger, lines } = memoryLogger();
      const result = await ingest(client, prefix, source(), { logger });
      expect(result.ok).toBe(false);
      expect(result.run.outcome).toBe('failed');
      expect(result.run.error).toMatch(message);
      expect(await rawSources(client, prefix)).toEqual(before);
      expect(await getRun(client, prefix, result.run.run_id)).toMatchObject({
        outcome: 'failed',
        error: result.run.error,
        counts: { events_upserted: 0, bulk_failures: 0 },
      });
      expect((await latestSuccessfulRun(client, prefix))?.run_id).toBe(lastGood?.run_id);
      expect(lines.map((l) => l.phase)).toContain('run_started');
      expect(lines.map((l) => l.phase)).not.toContain('events_written');
    });
  });
});

describe('the spool (the feed is parsed once)', () => {
  /** A run of fixture 3 whose sink reads the run's spool directory before it writes. */
  async function spooledRun(spoolMemoryChars: number | undefined) {
    const spoolDir = await mkdtemp(join(tmpdir(), 'ingest-spool-test-'));
    try {
      let spooled: { files: string[]; lines: string[] } | undefined;
      const received: WriteItem[] = [];
      const { logger, lines } = memoryLogger();
      const result = await runIngest({
        provider: 'primary',
        timeZone: 'UTC',
        providerUrl: 'http://provider.test/feed',
        source: bytesSource(fixture(3)),
        spoolDir,
        ...(spoolMemoryChars !== undefined && { spoolMemoryChars }),
        // The same run id and time for both: the items are then equal byte for byte.
        runId: 'spooled-run',
        now: () => new Date('2026-01-02T03:04:05.000Z'),
        sink: async (ops, context) => {
          const [runDir] = await readdir(spoolDir);
          const files = await readdir(join(spoolDir, runDir as string));
          const text = files[0]
            ? await readFile(join(spoolDir, runDir as string, files[0]), 'utf8')
            : '';
          spooled = { files, lines: text.trimEnd().split('\n') };
          async function* tap() {
            for await (const op of ops) {
              if (!isWriteItem(op)) throw new Error('the run hands the writer its spooled items');
              received.push(op);
              yield op;
            }
          }
          return writeEvents(tap(), { client, index: indexNames(prefix).eventsAlias, context });
        },
        runs: createRunStore(client, prefix),
        logger,
      });
      const feedRead = lines.find((l) => l.phase === 'feed_read');
      return { result, spooled, received, feedRead, left: await readdir(spoolDir) };
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  }

  it('holds the write operations in memory when they are few: no file, the same items', async () => {
    const inMemory = await spooledRun(undefined);
    const inFile = await spooledRun(0);
    expect(inMemory.result.error).toBeNull();
    expect(inMemory.spooled?.files).toEqual([]);
    expect(inMemory.feedRead).toMatchObject({ spooled: 'memory' });
    expect(inFile.feedRead).toMatchObject({ spooled: 'file' });
    expect(inMemory.received).toEqual(inFile.received);
    expect(inMemory.left).toEqual([]);
  });

  it('beyond its memory bound, holds the write operations as NDJSON while they are written, and is removed after', async () => {
    const spoolDir = await mkdtemp(join(tmpdir(), 'ingest-spool-test-'));
    try {
      let spooled: { files: string[]; lines: string[] } | undefined;
      const received: WriteItem[] = [];
      const result = await runIngest({
        provider: 'primary',
        timeZone: 'UTC',
        providerUrl: 'http://provider.test/feed',
        source: bytesSource(fixture(3)),
        spoolDir,
        spoolMemoryChars: 0,
        sink: async (ops, context) => {
          const [runDir] = await readdir(spoolDir);
          const files = await readdir(join(spoolDir, runDir as string));
          const text = await readFile(join(spoolDir, runDir as string, files[0] as string), 'utf8');
          spooled = {
            files,
            lines: text.trimEnd().split('\n'),
          };
          async function* tap() {
            for await (const op of ops) {
              if (!isWriteItem(op)) throw new Error('the run hands the writer its spooled items');
              received.push(op);
              yield op;
            }
          }
          return writeEvents(tap(), { client, index: indexNames(prefix).eventsAlias, context });
        },
        runs: createRunStore(client, prefix),
        logger: memoryLogger().logger,
      });
      expect(result.error).toBeNull();
      expect(spooled?.files).toEqual(['ops.ndjson']);
      // Fixture 3: 291 and 1591 are valid; 444 has an invalid date and is recorded as seen.
      // One line per item, its update as the JSON the writer sends.
      expect(spooled?.lines.map((l) => l.split('\t')[1])).toEqual(received.map((i) => i.id));
      expect(spooled?.lines.map((l) => l.split('\t')[5])).toEqual(
        received.map((i) => i.json.upsert),
      );
      expect(received.map((op) => op.kind)).toEqual(['event', 'event', 'rejected']);
      expect(received[2]).toMatchObject({ kind: 'rejected', id: ID.tributo, online: false });
      expect(JSON.parse(received[2]?.json.upsert ?? '{}')).toMatchObject({
        base_event_id: '444',
        last_rejection: { reason: 'invalid_date' },
      });
      expect(await readdir(spoolDir)).toEqual([]);
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  });
});
