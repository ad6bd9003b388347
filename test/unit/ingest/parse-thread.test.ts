/**
 * The parse thread (src/ingest/parse-thread.ts, docs/adr/0016-*.md, fifth pass) against the
 * in-thread pipeline: the same outcomes for the same bytes, the same FeedError (code and message,
 * line included) for a feed it refuses, and a cancelled run terminates the thread. The thread runs
 * the TypeScript sources of this tree (Node's type stripping, parse-thread-entry.ts), never a build.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from '@jest/globals';
import { FeedError } from '../../../src/ingest/errors.js';
import {
  inThreadPipeline,
  type EventOutcomes,
  type FeedPipeline,
} from '../../../src/ingest/feed-pipeline.js';
import { feedFormat, type FeedFormatName } from '../../../src/ingest/formats/index.js';
import { threadPipeline, type ParseThreadOptions } from '../../../src/ingest/parse-thread.js';
import { feedChunks } from '../../../src/sim/feed.js';

const fixture = (n: number) =>
  readFileSync(new URL(`../../fixtures/response_${n}.xml`, import.meta.url));
const context = { runId: 'run-1', seenAt: '2026-12-01T10:00:00.000Z', timeZone: 'Europe/Madrid' };
const provider = 'acme';

async function* chunks(data: Buffer | string, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Every outcome, one object per event, and the error the pipeline ended with (if any). */
async function run(pipeline: FeedPipeline, data: Buffer | string, size = 700) {
  const events: Record<string, unknown>[] = [];
  let error: { name: string; code?: string; message: string } | null = null;
  try {
    for await (const o of pipeline.outcomes(chunks(data, size))) events.push(...rows(o));
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    error = { name: err.name, code: (err as FeedError).code, message: err.message };
    expect(err).toBeInstanceOf(FeedError);
  }
  return { events, error, stats: pipeline.stats };
}

function rows(o: EventOutcomes): Record<string, unknown>[] {
  return o.flags.map((flags, i) => ({
    flags,
    id: o.ids[i],
    doc: o.docs[i],
    upsert: o.upserts[i],
    reason: o.reasons[i],
    detail: o.details[i],
    base: o.baseEventIds[i],
  }));
}

const inThread = (format: FeedFormatName = 'xml') =>
  inThreadPipeline(feedFormat(format).reader(), provider, context);
const onThread = (options: Partial<ParseThreadOptions> = {}) =>
  threadPipeline({ format: 'xml', provider, context, ...options });

async function generated(baseEvents: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of feedChunks({ baseEvents, zonesPerEvent: 3, seed: 5 })) parts.push(c);
  return Buffer.concat(parts);
}

const wrap = (inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<eventList version="1.0"><output>${inner}</output></eventList>`;
const event = (id: string, extra = '') =>
  `<base_event base_event_id="${id}" sell_mode="online" title="T ${id}"><event event_id="${id}" event_start_date="2021-01-01T10:00:00" event_end_date="2021-01-01T11:00:00" sold_out="false"${extra}><zone zone_id="1" capacity="5" price="10.00" name="A" numbered="true"/></event></base_event>`;

describe('the parse thread gives what the in-thread pipeline gives', () => {
  it.each([1, 2, 3])('response_%i: the same outcomes and counts', async (n) => {
    const expected = await run(inThread(), fixture(n));
    const actual = await run(onThread(), fixture(n));
    expect(expected.error).toBeNull();
    expect(expected.events.length).toBeGreaterThan(0);
    expect(actual).toEqual(expected);
  });

  it('a generated feed in large and small batches, as the bytes come in small chunks', async () => {
    const feed = await generated(300);
    const expected = await run(inThread(), feed, 4096);
    expect(expected.events).toHaveLength(expected.stats.events);
    expect(await run(onThread(), feed, 4096)).toEqual(expected);
    // One event per batch, at most one batch ahead of the run; bytes one at a time at the start.
    expect(await run(onThread({ batchChars: 1, batchesInFlight: 1 }), feed, 97)).toEqual(expected);
  });

  it('an NDJSON feed', async () => {
    const line = (id: string) =>
      JSON.stringify({
        id,
        title: `T ${id}`,
        sell_mode: 'online',
        events: [
          {
            id,
            start: '2021-06-30T21:00:00',
            end: '2021-06-30T22:00:00',
            zones: [{ id: '1', capacity: 3, price: id === '2' ? '1,5' : 20, numbered: true }],
          },
        ],
      });
    const feed = `${line('1')}\n${line('2')}\n${line('1')}\n{"end_of_feed":true,"base_events":3}\n`;
    const expected = await run(inThread('ndjson'), feed, 50);
    expect(expected.events).toHaveLength(3);
    expect(await run(onThread({ format: 'ndjson' }), feed, 50)).toEqual(expected);
  });

  it.each([
    ['malformed XML, with its line', wrap(`${event('1')}\n\n<base_event><event></base_event>`)],
    ['a DOCTYPE', `<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<eventList/>`],
    ['an HTML page', '<!doctype html><html><body>Service unavailable</body></html>'],
    ['an empty body', ''],
    ['a truncated feed', wrap(event('1') + event('2')).slice(0, -40)],
    [
      'bytes that are not UTF-8',
      Buffer.concat([Buffer.from(wrap(event('1'))), Buffer.from([0xff, 0xfe, 0x41])]),
    ],
    [
      'an attribute longer than the limit',
      wrap(event('1').replace('title="T 1"', `title="${'t'.repeat(9000)}"`)),
    ],
    ['a declared encoding it does not read', '<?xml version="1.0" encoding="EBCDIC"?><eventList/>'],
  ])('%s: the same FeedError, after the same outcomes', async (_what, feed) => {
    const expected = await run(inThread(), feed);
    expect(expected.error).not.toBeNull();
    expect(await run(onThread(), feed)).toEqual(expected);
  });
});

describe('the parse thread stops', () => {
  it('when the run is cancelled: the same aborted error, and the thread exits', async () => {
    const cancel = new AbortController();
    let thread: Worker | null = null;
    const feed = await generated(50);
    let sent = 0;
    // The first half, then nothing more: the run is cancelled while the thread waits for bytes.
    async function* body(): AsyncGenerator<Buffer> {
      yield feed.subarray(0, feed.length >> 1);
      sent++;
      await new Promise(() => undefined);
    }
    const pipeline = onThread({ signal: cancel.signal, onThread: (w) => (thread = w) });
    const iterator = pipeline.outcomes(body())[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(sent).toBe(1);
    const exited = once(thread as unknown as Worker, 'exit');
    cancel.abort(new Error('received SIGTERM'));
    await expect(iterator.next()).rejects.toThrow(
      new FeedError('aborted', 'the run was cancelled: received SIGTERM'),
    );
    await exited;
  });

  it('when reading the feed fails: its error, after the outcomes of the bytes before', async () => {
    const feed = wrap(event('1') + event('2'));
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from(feed.slice(0, feed.indexOf('<base_event base_event_id="2"')));
      throw new FeedError('network', 'the connection was reset', true);
    }
    const events: Record<string, unknown>[] = [];
    const pipeline = onThread();
    await expect(
      (async () => {
        for await (const o of pipeline.outcomes(body())) events.push(...rows(o));
      })(),
    ).rejects.toThrow(new FeedError('network', 'the connection was reset', true));
    expect(events.map((e) => e.base)).toEqual(['1']);
  });

  it('when the thread runs out of memory: an error that says so', async () => {
    // One base event of 3,000 events of 100 zones: a quarter of a million zones held at once.
    const zones = '<zone zone_id="1" capacity="5" price="10.00" name="A" numbered="true"/>'.repeat(
      100,
    );
    const events = `<event event_id="1">${zones}</event>`.repeat(3_000);
    const feed = wrap(`<base_event base_event_id="1">${events}</base_event>`);
    const pipeline = onThread({
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    const reading = async () => {
      for await (const _ of pipeline.outcomes(chunks(feed, 64 * 1024)));
    };
    await expect(reading()).rejects.toThrow(
      /^the parse thread ran out of memory \(its old generation is bounded to 16 MB\)/,
    );
  });
});
