/**
 * Issue 18: a long ingest run logs its progress (events parsed and written, rate, elapsed) every
 * INGEST_PROGRESS_MS, and ends with a summary a person can read. The feed below holds its last
 * bytes back until a progress line has been logged, so the run outlasts the interval by
 * construction (no wall-clock margin).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readableSummary } from '../../../src/ingest/job.js';
import type { FeedSource } from '../../../src/ingest/run.js';
import { feedChunks } from '../../../src/sim/feed.js';
import { bootstrapIndices } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bytesSource, ingest, memoryLogger } from './support.js';

const env = testStoreEnv('ingest-progress');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);

/** A generated feed of 50 base events (`seed` makes another content). */
async function feedOf(seed: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of feedChunks({ baseEvents: 50, zonesPerEvent: 2, seed }))
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  await bootstrapIndices(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('progress of a long run', () => {
  it('logs progress lines with the bytes while the feed is received, and a readable summary', async () => {
    let progressed: () => void = () => undefined;
    const sawProgress = new Promise<void>((resolve) => (progressed = resolve));
    const { logger, lines } = memoryLogger((line) => {
      if (line.phase === 'progress' && Number(line.bytes_received) > 0) progressed();
    });
    const feed = await feedOf(7);
    const half = Math.floor(feed.length / 2);
    const source: FeedSource = {
      async open() {
        async function* body() {
          yield feed.subarray(0, half);
          await sawProgress; // the run goes on only once it has reported progress
          yield feed.subarray(half);
        }
        return { body: body(), status: 200 };
      },
    };
    const result = await ingest(client, prefix, source, {
      logger,
      env: { INGEST_PROGRESS_MS: '100' },
    });
    expect(result.ok).toBe(true);

    const progress = lines.filter((l) => l.phase === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    // A first run (no feed held to compare with) parses the bytes as they arrive
    // (docs/adr/0016-*.md): the first half is read while the rest is awaited.
    expect(progress[0]).toMatchObject({
      level: 'info',
      stage: 'reading',
      bytes_received: half,
      events_parsed: expect.any(Number),
      items_written: 0,
      elapsed_ms: expect.any(Number),
      msg: expect.stringMatching(/^reading: \d+ events parsed, 0 written, \d+\/s, \d+ s elapsed$/),
    });
    expect(progress[0]?.events_parsed).toBeGreaterThan(0);
    expect(readableSummary(result)).toMatch(
      new RegExp(
        `^${result.run.counts.events_read} events read, ${result.run.counts.events_upserted} written, 0 rejected, 0 duplicates in \\d+\\.\\d s$`,
      ),
    );
  });

  it('says it is receiving while a later run saves the feed to compare it with the previous one', async () => {
    // A run of the provider with a feed record: the next run keeps the bytes until they are all
    // there (to skip them if they equal the previous run's, docs/adr/0016-*.md), parsing nothing.
    const earlier = await ingest(client, prefix, bytesSource(await feedOf(8)), {
      provider: 'later',
    });
    expect(earlier.ok).toBe(true);

    let progressed: () => void = () => undefined;
    const sawProgress = new Promise<void>((resolve) => (progressed = resolve));
    const { logger, lines } = memoryLogger((line) => {
      if (line.phase === 'progress' && Number(line.bytes_received) > 0) progressed();
    });
    const feed = await feedOf(7);
    const half = Math.floor(feed.length / 2);
    const source: FeedSource = {
      async open() {
        async function* body() {
          yield feed.subarray(0, half);
          await sawProgress;
          yield feed.subarray(half);
        }
        return { body: body(), status: 200 };
      },
    };
    const result = await ingest(client, prefix, source, {
      provider: 'later',
      logger,
      env: { INGEST_PROGRESS_MS: '100' },
    });
    expect(result.ok).toBe(true);
    const progress = lines.filter((l) => l.phase === 'progress');
    expect(progress[0]).toMatchObject({
      level: 'info',
      stage: 'receiving',
      bytes_received: half,
      elapsed_ms: expect.any(Number),
      msg: expect.stringMatching(
        new RegExp(`^receiving: ${half} bytes of the feed, \\d+ s elapsed$`),
      ),
    });
    expect(progress[0]).not.toHaveProperty('events_parsed');
  });
});
