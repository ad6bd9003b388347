/**
 * The NDJSON feed format (src/ingest/formats/ndjson.ts), the second adapter behind the format port:
 * the same raw events as the XML feed, and a cut, malformed or hostile feed refused with a FeedError.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { FeedError } from '../../../src/ingest/errors.js';
import { feedFormat } from '../../../src/ingest/formats/index.js';
import { NdjsonFeedReader } from '../../../src/ingest/formats/ndjson.js';
import type { ParsedBaseEvent } from '../../../src/ingest/parser.js';
import { ndjsonOfXml } from '../../../src/sim/ndjson.js';

async function read(
  reader: { parse(s: AsyncIterable<Uint8Array | string>): AsyncIterable<ParsedBaseEvent> },
  chunks: (string | Uint8Array)[],
) {
  const out: ParsedBaseEvent[] = [];
  for await (const base of reader.parse(Readable.from(chunks))) out.push(base);
  return out;
}

async function refusal(
  text: string | Uint8Array,
  reader = new NdjsonFeedReader(),
): Promise<FeedError> {
  try {
    await read(reader, [text]);
  } catch (err) {
    if (err instanceof FeedError) return err;
    throw err;
  }
  throw new Error('the feed was accepted');
}

const LINE =
  '{"id":"7","title":"T","sell_mode":"online","events":[{"id":"8","start":"2021-06-30T21:00:00","sold_out":false,"zones":[{"id":"1","capacity":5,"price":20.5,"numbered":true,"seat":"x"}]}]}\n';
const TRAILER = (n: number) => `{"end_of_feed":true,"base_events":${n}}\n`;

describe('the NDJSON feed format', () => {
  it('reads the same raw events as the XML feed it was written from, whatever the chunking', async () => {
    const xml = await readFile(new URL('../../fixtures/response_1.xml', import.meta.url));
    const fromXml = await read(feedFormat('xml').reader(), [xml]);
    const ndjson = await ndjsonOfXml(xml);
    const bytes = [...ndjson].map((b) => Uint8Array.of(b)); // one byte at a time
    const fromJson = await read(feedFormat('ndjson').reader(), bytes);
    const ids = (bases: ParsedBaseEvent[]) =>
      bases.flatMap((b) =>
        b.events.map((e) => [
          e.base_event_id,
          e.event_id,
          e.title,
          e.event_start_date,
          e.sell_mode,
        ]),
      );
    expect(fromJson.length).toBe(fromXml.length);
    expect(ids(fromJson)).toEqual(ids(fromXml));
  });

  it('turns JSON scalars into the strings the domain checks, and counts unknown keys', async () => {
    const reader = new NdjsonFeedReader();
    const [base] = await read(reader, [LINE, TRAILER(1)]);
    expect(base?.events[0]).toMatchObject({
      base_event_id: '7',
      event_id: '8',
      sold_out: 'false',
      zones: [{ zone_id: '1', capacity: '5', price: '20.5', numbered: 'true' }],
    });
    expect(reader.stats).toMatchObject({
      baseEvents: 1,
      events: 1,
      zones: 1,
      unknownElements: { 'zone.seat': 1 },
    });
  });

  it.each([
    ['an empty body', '', 'empty'],
    ['a feed cut before its trailer', LINE, 'truncated'],
    ['a trailer that counts other base events', LINE + TRAILER(2), 'truncated'],
    ['a line that is not JSON', `${LINE}{"id": <<oops\n${TRAILER(1)}`, 'malformed'],
    ['an HTML page', '<!DOCTYPE html><html></html>\n', 'malformed'],
    ['a line that is not an object', `[1,2]\n${TRAILER(0)}`, 'structure'],
    ['events that are not an array', `{"id":"1","events":{}}\n${TRAILER(1)}`, 'structure'],
    ['content after the trailer', TRAILER(0) + LINE, 'structure'],
  ])('refuses %s', async (_what, text, code) => {
    expect((await refusal(text)).code).toBe(code);
  });

  it('refuses bytes that are not UTF-8 and a line longer than its limit', async () => {
    expect((await refusal(Uint8Array.of(0x7b, 0xff, 0x7d, 0x0a))).code).toBe('encoding');
    expect(
      (await refusal(LINE + TRAILER(1), new NdjsonFeedReader({ maxLineLength: 20 }))).code,
    ).toBe('limit');
  });
});
