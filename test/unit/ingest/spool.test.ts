import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseEvent, type RawEvent } from '../../../src/domain/event.js';
import { readSpool, writeSpool } from '../../../src/ingest/spool.js';
import { writeOpOf, type WriteOp } from '../../../src/ingest/operations.js';

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

function opFor(r: RawEvent): WriteOp {
  const op = writeOpOf(r, normaliseEvent('primary', r));
  if (!op) throw new Error('no identity');
  return op;
}

async function collect(file: string): Promise<WriteOp[]> {
  const out: WriteOp[] = [];
  for await (const op of readSpool(file)) out.push(op);
  return out;
}

async function* batchesOf(ops: WriteOp[], size: number): AsyncGenerator<WriteOp[]> {
  for (let i = 0; i < ops.length; i += size) yield ops.slice(i, i + size);
}

describe('the spool file (NDJSON write operations)', () => {
  it('holds one JSON write operation per line and gives them back equal and in order', async () => {
    const ops = [opFor(raw(1)), opFor(raw(2, '2021-09-31T20:00:00')), opFor(raw(3))];
    expect(ops.map((o) => o.kind)).toEqual(['event', 'rejected', 'event']);
    const file = join(dir, 'small.ndjson');
    const stats = await writeSpool(file, batchesOf(ops, 2));

    const text = await readFile(file, 'utf8');
    expect(stats).toEqual({ ops: 3, bytes: Buffer.byteLength(text) });
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((l) => JSON.parse(l) as unknown)).toEqual(ops);
    expect(await collect(file)).toEqual(ops);
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
    async function* failing(): AsyncGenerator<WriteOp[]> {
      yield [opFor(raw(1))];
      throw new Error('the feed ends before </eventList>');
    }
    await expect(writeSpool(join(dir, 'failed.ndjson'), failing())).rejects.toThrow(
      'the feed ends before </eventList>',
    );
  });

  it('a damaged line is an error naming the line', async () => {
    const file = join(dir, 'damaged.ndjson');
    await writeFile(file, `${JSON.stringify(opFor(raw(1)))}\n{"kind":"event","ev\n`);
    await expect(collect(file)).rejects.toThrow(
      new RegExp(`^the spool file ${file} is damaged: line 2 is not JSON \\(`),
    );
    await writeFile(file, '{"kind":"delete"}\n');
    await expect(collect(file)).rejects.toThrow(/line 1 is not a write operation$/);
  });
});
