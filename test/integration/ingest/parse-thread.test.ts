/**
 * The parse thread in a real run (src/ingest/parse-thread.ts, docs/adr/0016-*.md, fifth pass):
 * with `INGEST_PARSE_THREAD=true` the run's wiring (`ingestRunDeps`) reads on it; by default on the
 * run's own thread. Both store the same documents for the same feeds, and a feed the reader
 * refuses fails the run the same way on both, with nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { feedChunks } from '../../../src/sim/feed.js';
import { bootstrapIndices } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import {
  allEvents,
  bytesSource,
  fixture,
  indexTotal,
  ingest,
  memoryLogger,
  withoutBookkeeping,
} from './support.js';

const threaded = testStoreEnv('ingest-thread').ES_INDEX_PREFIX;
const inThread = testStoreEnv('ingest-nothread').ES_INDEX_PREFIX;
const client = testClient(testStoreEnv('ingest-thread'));
const ON = { INGEST_PARSE_THREAD: 'true' };

beforeAll(async () => {
  await bootstrapIndices(client, threaded);
  await bootstrapIndices(client, inThread);
});

afterAll(async () => {
  await dropPrefix(client, threaded);
  await dropPrefix(client, inThread);
  await client.close();
});

async function generated(seed: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of feedChunks({
    baseEvents: 120,
    zonesPerEvent: 4,
    seed,
    eventsPerBaseEvent: 2,
  }))
    parts.push(c);
  return Buffer.concat(parts);
}

/** The run's `feed_read` line says where the feed was read. */
function parsedOnThread(lines: Record<string, unknown>[]): unknown {
  return lines.find((l) => l.phase === 'feed_read')?.parse_thread;
}

describe('the parse thread in a run', () => {
  it('stores the same documents as the in-thread path, run after run', async () => {
    // The samples hold rejected events (an impossible date, a bad price...) and duplicates.
    const feeds = [fixture(1), fixture(2), fixture(3), await generated(11), await generated(12)];
    for (const [i, feed] of feeds.entries()) {
      const now = () => new Date(Date.UTC(2026, 11, 1, 10, i));
      const on = memoryLogger();
      const off = memoryLogger();
      const a = await ingest(client, threaded, bytesSource(feed, 1500), {
        now,
        logger: on.logger,
        env: ON,
      });
      const b = await ingest(client, inThread, bytesSource(feed, 1500), {
        now,
        logger: off.logger,
      });
      expect(a.ok).toBe(true);
      expect(parsedOnThread(on.lines)).toBe(true);
      expect(parsedOnThread(off.lines)).toBe(false);
      expect({ ...a.run.counts }).toEqual({ ...b.run.counts });
      expect([a.duplicates, a.unknownElements, a.bytes]).toEqual([
        b.duplicates,
        b.unknownElements,
        b.bytes,
      ]);
      const rejected = (lines: Record<string, unknown>[]) =>
        lines
          .filter((l) => l.phase === 'event_rejected' || l.phase === 'event_duplicate')
          .map(({ time: _t, run_id: _r, ...rest }) => rest);
      expect(rejected(on.lines)).toEqual(rejected(off.lines));
    }
    const stored = async (prefix: string) =>
      [...(await allEvents(client, prefix)).entries()].map(([id, doc]) => [
        id,
        withoutBookkeeping(doc),
      ]);
    const expected = await stored(inThread);
    expect(expected.length).toBeGreaterThan(200);
    expect(await stored(threaded)).toEqual(expected);
  });

  it.each([
    ['malformed XML', (feed: string) => feed.replace('</base_event>', '</base_evnt>')],
    ['a DOCTYPE', (feed: string) => feed.replace('<eventList', '<!DOCTYPE x><eventList')],
    ['a truncated feed', (feed: string) => feed.slice(0, Math.floor(feed.length * 0.8))],
  ])('fails on %s as the in-thread path does, with nothing written', async (_what, spoil) => {
    const feed = spoil((await generated(13)).toString('utf8'));
    const before = await indexTotal(client, threaded);
    const on = memoryLogger();
    const a = await ingest(client, threaded, bytesSource(feed, 4096), {
      provider: 'spoilt',
      logger: on.logger,
      env: ON,
    });
    const b = await ingest(client, inThread, bytesSource(feed, 4096), { provider: 'spoilt' });
    expect(a.ok).toBe(false);
    expect(a.error?.message).toBe(b.error?.message);
    expect(a.error?.message).toMatch(/line \d+|truncated|DOCTYPE/);
    expect(a.run.outcome).toBe('failed');
    expect({ ...a.run.counts }).toEqual({ ...b.run.counts });
    expect(await indexTotal(client, threaded)).toBe(before);
    expect(on.lines.some((l) => l.phase === 'events_written')).toBe(false);
  });
});
