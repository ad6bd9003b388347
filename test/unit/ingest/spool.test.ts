import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseEvent, type RawEvent } from '../../../src/domain/event.js';
import { readSpool, readSpooled, spool, writeSpool } from '../../../src/ingest/spool.js';
import { writeItemOf, writeOpOf, type WriteItem } from '../../../src/ingest/operations.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const raw = (base: number, start = '2021-06-30T21:00:00'): RawEvent => ({
  base_event_id: String(base),
  event_id: '1',
  title: `Show "${base}" – ñ`,
  sell_mode: 'online',
  event_start_date: start,
  event_end_date: '2021-06-30T21:30:00',
  zones: [{ zone_id: '40', capacity: '200', price: '20.50' }],
});

const ctx = { runId: 'run-1', seenAt: '2024-01-01T10:20:30.400Z', timeZone: 'Europe/Madrid' };

function opFor(r: RawEvent): WriteItem {
  const op = writeOpOf(r, normaliseEvent('primary', r));
  if (!op) throw new Error('no identity');
  return writeItemOf(op, ctx);
}

async function collect(file: string): Promise<WriteItem[]> {
  const out: WriteItem[] = [];
  for await (const op of readSpool(file)) out.push(op);
  return out;
}

async function* batchesOf(ops: WriteItem[], size: number): AsyncGenerator<WriteItem[]> {
  for (let i = 0; i < ops.length; i += size) yield ops.slice(i, i + size);
}

describe('the spool file (write items, their updates as JSON)', () => {
  it('holds one write item per line and gives them back equal and in order', async () => {
    const ops = [opFor(raw(1)), opFor(raw(2, '2021-09-31T20:00:00')), opFor(raw(3))];
    expect(ops.map((o) => o.kind)).toEqual(['event', 'rejected', 'event']);
    const file = join(dir, 'small.ndjson');
    const stats = await writeSpool(file, batchesOf(ops, 2));

    const text = await readFile(file, 'utf8');
    expect(stats).toEqual({ ops: 3, bytes: Buffer.byteLength(text) });
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    // Kind and online flag, id, the two lengths, then the JSON exactly as the writer sends it.
    const [head, id, docLength, upsertLength, doc, upsert] = (lines[0] as string).split('\t');
    expect([head, id]).toEqual(['e1', ops[0]?.id]);
    expect([doc, upsert]).toEqual([ops[0]?.json.doc, ops[0]?.json.upsert]);
    expect([Number(docLength), Number(upsertLength)]).toEqual([doc?.length, upsert?.length]);
    expect(JSON.parse(upsert as string)).toMatchObject({
      title: 'Show "1" – ñ',
      ever_online: true,
    });
    expect((lines[1] as string).slice(0, 2)).toBe('r1');
    expect(await collect(file)).toEqual(ops);
  });

  it('keeps JSON that holds tabs, newlines and other line breaks on its line', async () => {
    const odd = opFor({ ...raw(7), title: 'A\ttab,\na newline,\r\na CRLF and \u2028 a separator' });
    const file = join(dir, 'odd.ndjson');
    await writeSpool(file, batchesOf([odd, opFor(raw(8))], 1));
    const back = await collect(file);
    expect(back).toEqual([odd, opFor(raw(8))]);
    expect(JSON.parse(back[0]?.json.doc as string)).toMatchObject({
      title: 'A\ttab,\na newline,\r\na CRLF and \u2028 a separator',
    });
  });

  it('streams many operations through in chunks (more than one stream buffer)', async () => {
    const ops = Array.from({ length: 5_000 }, (_, i) => opFor(raw(i)));
    const file = join(dir, 'many.ndjson');
    const stats = await writeSpool(file, batchesOf(ops, 7));
    expect(stats.ops).toBe(5_000);
    expect(stats.bytes).toBeGreaterThan(1024 * 1024);
    const back = await collect(file);
    expect(back).toHaveLength(5_000);
    expect(back[4_321]).toEqual(ops[4_321]);
  });

  it('an empty feed gives an empty file', async () => {
    const file = join(dir, 'empty.ndjson');
    expect(await writeSpool(file, batchesOf([], 1))).toEqual({ ops: 0, bytes: 0 });
    expect(await collect(file)).toEqual([]);
  });

  it('rejects with the error of the producer', async () => {
    async function* failing(): AsyncGenerator<WriteItem[]> {
      yield [opFor(raw(1))];
      throw new Error('the feed ends before </eventList>');
    }
    await expect(writeSpool(join(dir, 'failed.ndjson'), failing())).rejects.toThrow(
      'the feed ends before </eventList>',
    );
  });

  it('a damaged line is an error naming the line', async () => {
    const file = join(dir, 'damaged.ndjson');
    await writeSpool(file, batchesOf([opFor(raw(1)), opFor(raw(2))], 1));
    const [first, second] = (await readFile(file, 'utf8')).split('\n') as [string, string];
    const damaged = async (text: string) => {
      await writeFile(file, text);
      return collect(file);
    };
    const message = (n: number) =>
      `the spool file ${file} is damaged: line ${n} is not a write operation`;
    // Cut short, even right after an inner object's brace.
    await expect(damaged(`${first}\n${second.slice(0, -1)}\n`)).rejects.toThrow(message(2));
    const inner = second.lastIndexOf('}', second.length - 2);
    await expect(damaged(`${first}\n${second.slice(0, inner + 1)}\n`)).rejects.toThrow(message(2));
    // A byte changed in a length, an unknown kind or flag, JSON that is not an object.
    await expect(damaged(`${first.replace(/\t(\d+)\t/, '\t9$1\t')}\n`)).rejects.toThrow(message(1));
    await expect(damaged(`d1${first.slice(2)}\n`)).rejects.toThrow(message(1));
    await expect(damaged(`e2${first.slice(2)}\n`)).rejects.toThrow(message(1));
    await expect(damaged('e0\tid\t2\t2\t[]\t{}\n')).rejects.toThrow(message(1));
    await expect(damaged('{"kind":"event"}\n')).rejects.toThrow(message(1));
    expect(await damaged(`${first}\n`)).toEqual([opFor(raw(1))]);
  });
});

describe('the spool in memory, spilled to the file beyond a bound', () => {
  const chars = (o: WriteItem) => o.id.length + o.json.doc.length + o.json.upsert.length;

  async function collectSpooled(file: string, spooled: Awaited<ReturnType<typeof spool>>) {
    const out: WriteItem[] = [];
    for await (const op of readSpooled(file, spooled)) out.push(op);
    return out;
  }

  it('holds the items in memory while they are within the bound: no file is written', async () => {
    const ops = Array.from({ length: 50 }, (_, i) => opFor(raw(i)));
    const file = join(dir, 'held.ndjson');
    const total = ops.reduce((n, o) => n + chars(o), 0);
    const spooled = await spool(file, batchesOf(ops, 7), total);
    expect(spooled).toMatchObject({ ops: 50, bytes: 0 });
    expect(spooled.held).toHaveLength(50);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    expect(await collectSpooled(file, spooled)).toEqual(ops);
    // Handed out once: the spool lets go of its items.
    expect(spooled.held).toBeNull();
  });

  it('beyond the bound, writes the items held so far and the rest to the file, in order', async () => {
    const ops = Array.from({ length: 600 }, (_, i) => opFor(raw(i)));
    const file = join(dir, 'spilled.ndjson');
    // A bound crossed after a few batches: some items were held when the spill began.
    const spooled = await spool(file, batchesOf(ops, 7), chars(ops[0] as WriteItem) * 20);
    expect(spooled.held).toBeNull();
    expect(spooled.ops).toBe(600);
    expect(spooled.bytes).toBe((await stat(file)).size);
    expect(await collectSpooled(file, spooled)).toEqual(ops);
  });

  it('a bound of 0 writes everything to the file; an empty feed holds nothing', async () => {
    const ops = [opFor(raw(1)), opFor(raw(2))];
    const file = join(dir, 'zero.ndjson');
    const spooled = await spool(file, batchesOf(ops, 1), 0);
    expect(spooled.held).toBeNull();
    expect(await collect(file)).toEqual(ops);
    expect(await spool(join(dir, 'none.ndjson'), batchesOf([], 1), 0)).toEqual({
      ops: 0,
      bytes: 0,
      held: [],
    });
  });

  it('rejects with the error of the producer, held or spilled', async () => {
    async function* failing(): AsyncGenerator<WriteItem[]> {
      yield [opFor(raw(1))];
      yield [opFor(raw(2))];
      throw new Error('the feed ends before </eventList>');
    }
    await expect(spool(join(dir, 'failed-held.ndjson'), failing())).rejects.toThrow(
      'the feed ends before </eventList>',
    );
    await expect(spool(join(dir, 'failed-spilled.ndjson'), failing(), 0)).rejects.toThrow(
      'the feed ends before </eventList>',
    );
  });
});
