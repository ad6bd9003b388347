/** The parser reads UTF-8, UTF-16, ISO-8859-1 and windows-1252 feeds; refuses others, named. */
import { describe, expect, it } from '@jest/globals';
import { FeedError } from '../../../src/ingest/errors.js';
import { encodingFamily, FeedParser, sniffEncoding } from '../../../src/ingest/parser.js';

const doc = (encoding: string | null, title: string) =>
  `<?xml version="1.0"${encoding ? ` encoding="${encoding}"` : ''}?><eventList><output><base_event base_event_id="1" sell_mode="online" title="${title}"><event event_id="1" event_start_date="2021-01-01T10:00:00" event_end_date="2021-01-01T11:00:00"/></base_event></output></eventList>`;

async function titles(bytes: Buffer, size = 7): Promise<string[]> {
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  const out: string[] = [];
  for await (const base of new FeedParser().parse(chunks())) {
    for (const e of base.events) out.push(e.title ?? '');
  }
  return out;
}

async function failure(bytes: Buffer): Promise<FeedError> {
  try {
    await titles(bytes);
  } catch (err) {
    if (err instanceof FeedError) return err;
    throw err;
  }
  throw new Error('expected the parser to fail');
}

describe('declared encodings', () => {
  it.each(['ISO-8859-1', 'latin1', 'windows-1252'])('%s', async (name) => {
    expect(await titles(Buffer.from(doc(name, 'Café Ñandú'), 'latin1'))).toEqual(['Café Ñandú']);
  });

  it('windows-1252 bytes 0x80-0x9F are its printable characters (€, quotes)', async () => {
    const bytes = Buffer.from(doc('windows-1252', 'X'), 'latin1');
    const at = bytes.indexOf('title="X"') + 'title="'.length;
    const withEuro = Buffer.concat([
      bytes.subarray(0, at),
      Buffer.from([0x80, 0x93]),
      bytes.subarray(at + 1),
    ]);
    expect(await titles(withEuro)).toEqual(['€“']);
  });

  it('UTF-16 with a byte order mark, little- and big-endian, chunked at odd sizes', async () => {
    const le = Buffer.from(`\uFEFF${doc('UTF-16', 'Café')}`, 'utf16le');
    expect(await titles(le, 3)).toEqual(['Café']);
    const be = Buffer.from(le).swap16();
    expect(await titles(be, 5)).toEqual(['Café']);
  });

  it('UTF-16 without a byte order mark is recognised from "<?"', async () => {
    expect(await titles(Buffer.from(doc(null, 'Café'), 'utf16le'))).toEqual(['Café']);
  });

  it('UTF-8 with a byte order mark, and no declaration at all', async () => {
    expect(await titles(Buffer.from(`\uFEFF${doc('UTF-8', 'Café')}`, 'utf8'))).toEqual(['Café']);
    expect(await titles(Buffer.from(doc(null, 'Café'), 'utf8'))).toEqual(['Café']);
  });

  it('refuses an encoding it does not read, naming it', async () => {
    const f = await failure(Buffer.from(doc('EBCDIC-US', 'X'), 'latin1'));
    expect(f.code).toBe('encoding');
    expect(f.message).toMatch(/^the feed declares encoding "EBCDIC-US", which is not supported/);
  });

  it('refuses UTF-16 declared over 8-bit bytes, and a declaration contradicting the BOM', async () => {
    expect((await failure(Buffer.from(doc('UTF-16', 'X'), 'latin1'))).message).toMatch(
      /declares encoding "UTF-16" but is written in 8-bit characters/,
    );
    expect((await failure(Buffer.from(`\uFEFF${doc('ISO-8859-1', 'X')}`, 'utf8'))).message).toBe(
      'the feed declares encoding "ISO-8859-1" but its first bytes (byte order mark or "<?") say UTF-8',
    );
    expect((await failure(Buffer.from(doc('windows-1252', 'X'), 'utf16le'))).message).toMatch(
      /declares encoding "windows-1252" but its first bytes .* say UTF-16LE$/,
    );
  });

  it('refuses bytes invalid in the declared encoding, naming it', async () => {
    const odd = Buffer.concat([
      Buffer.from(`\uFEFF${doc('UTF-16', 'X')}`, 'utf16le'),
      Buffer.from([0x41]),
    ]);
    expect((await failure(odd)).message).toBe(
      'the feed ends in the middle of a UTF-16LE character',
    );
  });

  it('a body too short to tell its encoding is read once, as UTF-8', async () => {
    for (const body of ['<a', '<?x']) {
      expect((await failure(Buffer.from(body))).message).toContain(JSON.stringify(body));
    }
  });

  it('sniffEncoding waits for the end of the declaration, then decides', () => {
    expect(sniffEncoding(Buffer.from('<?xml version="1.0" enc'), false)).toBeNull();
    expect(sniffEncoding(Buffer.from('<?xml version="1.0" encoding="latin1"?>'), false)).toBe(
      'windows-1252',
    );
    expect(sniffEncoding(Buffer.from('<ev'), true)).toBe('UTF-8');
    expect(sniffEncoding(Buffer.from('<?xm'), false)).toBeNull();
    expect(sniffEncoding(Buffer.from('<eve'), false)).toBe('UTF-8');
    expect(encodingFamily('UTF8')).toBe('UTF-8');
    expect(encodingFamily('Shift_JIS')).toBeNull();
  });
});
