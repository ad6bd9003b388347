import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { FeedError } from '../../../src/ingest/errors.js';
import { FeedParser, type ParsedBaseEvent, type ParserLimits } from '../../../src/ingest/parser.js';

const fixture = (n: number) =>
  readFileSync(new URL(`../../fixtures/response_${n}.xml`, import.meta.url));

async function* chunks(data: Buffer | string, size = 1024): AsyncGenerator<Buffer> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function parseAll(
  data: Buffer | string,
  size = 1024,
  limits: Partial<ParserLimits> = {},
): Promise<{ bases: ParsedBaseEvent[]; parser: FeedParser }> {
  const parser = new FeedParser(limits);
  const bases: ParsedBaseEvent[] = [];
  for await (const b of parser.parse(chunks(data, size))) bases.push(b);
  return { bases, parser };
}

async function failure(data: Buffer | string, size = 1024, limits: Partial<ParserLimits> = {}) {
  try {
    await parseAll(data, size, limits);
  } catch (err) {
    if (err instanceof FeedError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the parser to fail');
}

const wrap = (inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<eventList version="1.0"><output>${inner}</output></eventList>`;
const zone = '<zone zone_id="1" capacity="5" price="10.00" name="A" numbered="true"/>';
const base = (id: string, extra = '') =>
  `<base_event base_event_id="${id}" sell_mode="online" title="T ${id}">${extra}<event event_id="${id}" event_start_date="2021-01-01T10:00:00" event_end_date="2021-01-01T11:00:00" sold_out="false">${zone}</event></base_event>`;

describe('FeedParser on the provider samples', () => {
  it('reads response_1 into base events whose events carry their parent attributes', async () => {
    const { bases, parser } = await parseAll(fixture(1));
    expect(bases.map((b) => [b.base_event_id, b.events.length])).toEqual([
      ['291', 1],
      ['322', 1],
      ['1591', 1],
    ]);
    const camela = bases[0]?.events[0];
    expect(camela).toEqual({
      base_event_id: '291',
      sell_mode: 'online',
      title: 'Camela en concierto',
      event_id: '291',
      event_start_date: '2021-06-30T21:00:00',
      event_end_date: '2021-06-30T22:00:00',
      sell_from: '2020-07-01T00:00:00',
      sell_to: '2021-06-30T20:00:00',
      sold_out: 'false',
      zones: [
        { zone_id: '40', capacity: '243', price: '20.00', name: 'Platea', numbered: 'true' },
        { zone_id: '38', capacity: '100', price: '15.00', name: 'Grada 2', numbered: 'false' },
        { zone_id: '30', capacity: '90', price: '30.00', name: 'A28', numbered: 'true' },
      ],
    });
    expect(camela).not.toHaveProperty('organizer_company_id');
    expect(bases[2]?.events[0]?.zones.map((z) => z.zone_id)).toEqual(['186', '186']);
    expect(parser.stats).toMatchObject({ baseEvents: 3, events: 3, zones: 6, unknownElements: {} });
    expect(parser.stats.bytes).toBe(fixture(1).length);
  });

  it('reads response_3 with 444 and its impossible date as plain strings', async () => {
    const { bases } = await parseAll(fixture(3));
    expect(bases.map((b) => b.base_event_id)).toEqual(['291', '1591', '444']);
    expect(bases[2]?.events[0]).toMatchObject({
      sell_mode: 'offline',
      event_id: '1642',
      event_start_date: '2021-09-31T20:00:00',
    });
  });

  it('gives the same result whatever the chunking, multi-byte characters split included', async () => {
    const doc = wrap(base('1').replace('T 1', 'Orquesta Sinfónica — «Año» &amp; €'));
    const whole = await parseAll(doc, 1 << 20);
    const byByte = await parseAll(doc, 1);
    expect(byByte.bases).toEqual(whole.bases);
    expect(whole.bases[0]?.events[0]?.title).toBe('Orquesta Sinfónica — «Año» & €');
  });

  it('is lazy: it hands out a base event before reading the rest of the body', async () => {
    let pulled = 0;
    async function* source() {
      yield Buffer.from(`<?xml version="1.0"?><eventList><output>${base('1')}`);
      for (let i = 2; i < 1000; i++) {
        pulled++;
        yield Buffer.from(base(String(i)));
      }
      yield Buffer.from('</output></eventList>');
    }
    const parser = new FeedParser();
    const iterator = parser.parse(source());
    const first = await iterator.next();
    expect(first.value?.base_event_id).toBe('1');
    expect(pulled).toBe(0);
    await iterator.return(undefined);
  });

  it('skips unknown elements with their content and counts them', async () => {
    const doc = wrap(
      `<meta generated="now"/>` +
        base('1', `<promo><zone zone_id="9" capacity="1" price="1.00"/></promo>`).replace(
          '</event>',
          '<extra>note</extra></event>',
        ) +
        `<meta/>`,
    ).replace('<output>', '<header><x/></header><output>');
    const { bases, parser } = await parseAll(doc);
    expect(bases).toHaveLength(1);
    expect(bases[0]?.events[0]?.zones).toHaveLength(1);
    expect(parser.stats.unknownElements).toEqual({ header: 1, meta: 2, promo: 1, extra: 1 });
  });
});

describe('FeedParser refuses bad bodies with a precise error', () => {
  it('empty body', async () => {
    expect(await failure('')).toEqual({
      code: 'empty',
      message: 'the body is empty (0 bytes): no feed to ingest',
    });
  });

  it('whitespace or a lone XML declaration', async () => {
    expect((await failure('  \n ')).code).toBe('empty');
    expect(await failure('<?xml version="1.0" encoding="UTF-8"?>\n')).toMatchObject({
      code: 'empty',
      message: expect.stringContaining('holds no XML element'),
    });
  });

  it('truncated in the middle of an element', async () => {
    const xml = fixture(1).toString('utf8');
    const cut = xml.slice(0, xml.indexOf('capacity="16"'));
    const f = await failure(cut);
    expect(f.code).toBe('truncated');
    expect(f.message).toMatch(
      /^the feed ends before <\/eventList> \(truncated after \d+ bytes, inside <eventList><output><base_event><event> at line 19, column \d+; 2 complete base events were read\)$/,
    );
  });

  it('truncated between elements', async () => {
    const xml = fixture(1).toString('utf8');
    const f = await failure(xml.slice(0, xml.indexOf('</output>')));
    expect(f).toMatchObject({ code: 'truncated', message: expect.stringContaining('3 complete') });
  });

  it('malformed XML, with line and column', async () => {
    const f = await failure(wrap(base('1') + '<<oops'));
    expect(f.code).toBe('malformed');
    expect(f.message).toMatch(/^malformed XML at line 2, column \d+: /);
  });

  it('mismatched close tag', async () => {
    const f = await failure(wrap('<base_event base_event_id="1"></event>'));
    expect(f.code).toBe('malformed');
    expect(f.message).toContain('unexpected close tag');
  });

  it.each([
    ['<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><hr></body></html>'],
    ['<!doctype html><html lang="en"><meta charset="utf-8"><body>Oops</body></html>'],
    ['<html><body><h1>Service Unavailable</h1></body></html>'],
    ['\n<HTML><BODY>Error<BR></BODY></HTML>'],
  ])('an HTML page: %s', async (page) => {
    const f = await failure(page);
    expect(f.code).toBe('html');
    expect(f.message).toMatch(/^the provider sent an HTML page instead of the XML feed: "/);
  });

  it('plain text', async () => {
    expect(await failure('Internal Server Error')).toEqual({
      code: 'malformed',
      message: expect.stringMatching(
        /^the body is not an XML document \(text data outside of root node\. at line 1, column \d+\); it starts with "Internal Server Error"$/,
      ),
    });
  });

  it('a DOCTYPE with entity declarations (billion laughs)', async () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' +
      '<eventList><output>&lol2;</output></eventList>';
    const f = await failure(bomb);
    expect(f.code).toBe('doctype');
    expect(f.message).toContain('must not declare a DTD or entities');
  });

  it('an external entity (XXE) is refused, and an undefined entity reference is malformed', async () => {
    const xxe =
      '<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><eventList>&x;</eventList>';
    expect((await failure(xxe)).code).toBe('doctype');
    const f = await failure(wrap(base('1').replace('T 1', '&x;')));
    expect(f).toMatchObject({
      code: 'malformed',
      message: expect.stringContaining('undefined entity'),
    });
  });

  it('nesting deeper than the limit', async () => {
    const deep = `<eventList>${'<a>'.repeat(100)}${'</a>'.repeat(100)}</eventList>`;
    const f = await failure(deep);
    expect(f.code).toBe('limit');
    expect(f.message).toMatch(
      /^elements are nested more than 32 deep at line 1, column \d+ \(<a>\)$/,
    );
  });

  it('an attribute longer than the limit, in one chunk', async () => {
    const f = await failure(wrap(base('1').replace('T 1', 'x'.repeat(100_000))), 1 << 20);
    expect(f).toEqual({
      code: 'limit',
      message: expect.stringMatching(
        /^attribute title of <base_event> at line 2, column \d+ is 100000 characters long \(limit 8192\)$/,
      ),
    });
  });

  it('a huge attribute streamed in chunks is refused before it is all read', async () => {
    let pulled = 0;
    async function* endless() {
      yield Buffer.from('<eventList><output><base_event title="');
      for (;;) {
        pulled++;
        yield Buffer.alloc(64 * 1024, 'a');
      }
    }
    const parser = new FeedParser();
    const err = await (async () => {
      for await (const _ of parser.parse(endless())) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedError);
    expect((err as FeedError).code).toBe('limit');
    expect((err as FeedError).message).toMatch(/^a single token .* runs past 1048576 characters/);
    expect(pulled).toBeLessThan(20); // about 1 MiB read, not an endless stream
  });

  it('a huge text node is refused too', async () => {
    const f = await failure(wrap(`<note>${'t'.repeat(300)}</note>`), 64, { maxTokenLength: 100 });
    expect(f.code).toBe('limit');
  });

  it('a start tag whose attributes run past the token limit', async () => {
    const attrs = Array.from({ length: 300 }, (_, i) => `a${i}="1"`).join(' ');
    const f = await failure(wrap(`<base_event ${attrs}/>`), 64, { maxTokenLength: 1000 });
    expect(f).toMatchObject({
      code: 'limit',
      message: expect.stringMatching(/^a single token .* runs past 1000 characters at line 2/),
    });
  });

  it('too many zones in one event', async () => {
    const f = await failure(wrap(base('1').replace(zone, zone.repeat(4))), 1024, {
      maxZonesPerEvent: 3,
    });
    expect(f).toEqual({ code: 'limit', message: 'event 1 has more than 3 zones' });
  });

  it('a root other than <eventList>', async () => {
    expect(await failure('<?xml version="1.0"?><events><event/></events>')).toEqual({
      code: 'structure',
      message: 'the root element is <events>, expected <eventList>',
    });
  });

  it('bytes that are not UTF-8', async () => {
    const bad = Buffer.concat([
      Buffer.from(wrap('').slice(0, 60)),
      Buffer.from([0xff, 0xfe, 0x41]),
    ]);
    const f = await failure(bad);
    expect(f.code).toBe('encoding');
    expect(f.message).toMatch(/^the feed is not valid UTF-8 \(near byte \d+\)$/);
  });

  it('a declared encoding it does not read (see encodings.test.ts for those it reads)', async () => {
    const f = await failure('<?xml version="1.0" encoding="Shift_JIS"?><eventList/>');
    expect(f).toEqual({
      code: 'encoding',
      message:
        'the feed declares encoding "Shift_JIS", which is not supported; supported: UTF-8 (or US-ASCII), UTF-16, ISO-8859-1 and windows-1252',
    });
  });

  it('content after the root element', async () => {
    const f = await failure(`${wrap('')}<eventList/>`);
    expect(f.code).toBe('malformed');
  });
});
