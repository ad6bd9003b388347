/**
 * The run's spool file: the write operations of one feed, one `WriteItem` per line
 * (docs/adr/0005-streaming-xml-parser.md): its update is stored as the JSON the writer sends, so
 * the write phase neither parses nor serializes the documents again (docs/adr/0016-*.md).
 *
 * A line is `<kind><online>\t<id>\t<doc length>\t<upsert length>\t<doc JSON>\t<upsert JSON>`:
 * kind `e` (event) or `r` (rejected), online `1` or `0`. JSON holds no raw tab or newline (both are
 * escaped in strings), and the lengths make a truncated or damaged line an error.
 *
 * Phase 1 of a run appends the operations it derives from the feed (parsed, normalised,
 * de-duplicated); phase 2 reads them back, in the same order, and hands them to the writer. Both
 * sides stream: the writer batches lines into chunks and waits for the file stream to drain, the
 * reader splits one chunk of the file at a time into lines, so memory holds one chunk at a time
 * whatever the number of operations.
 *
 * A run holds the items in memory instead (`spool`, `readSpooled`) while they hold at most
 * `SPOOL_MEMORY_CHARS` characters: an ordinary feed then costs no disk round trip (the write
 * and read back of every document, docs/adr/0016-*.md); a larger one spills to the file.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { WriteItem } from './operations.js';

/** Characters of NDJSON gathered before they are handed to the file stream. */
const CHUNK = 64 * 1024;

export interface SpoolStats {
  /** Operations (lines) written. */
  ops: number;
  /** Bytes written (UTF-8). */
  bytes: number;
}

/**
 * Writes every operation of `batches` to `file` (created or truncated) as NDJSON. Resolves once
 * the file is complete and closed; rejects with the first error of `batches` (the file is then
 * left incomplete: the caller discards it) or of the file.
 */
export async function writeSpool(
  file: string,
  batches: AsyncIterable<readonly WriteItem[]>,
): Promise<SpoolStats> {
  const stats: SpoolStats = { ops: 0, bytes: 0 };
  async function* chunks(): AsyncGenerator<string> {
    let chunk = '';
    for await (const ops of batches) {
      for (const op of ops) {
        chunk += lineOf(op);
        stats.ops++;
      }
      if (chunk.length >= CHUNK) {
        stats.bytes += Buffer.byteLength(chunk);
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) {
      stats.bytes += Buffer.byteLength(chunk);
      yield chunk;
    }
  }
  await pipeline(chunks, createWriteStream(file, { encoding: 'utf8' }));
  return stats;
}

/** The spooled operations of one feed: held in memory, or in the file. */
export interface Spooled extends SpoolStats {
  /** The items, in order, when they were held in memory (nothing was written to the file). */
  held: WriteItem[] | null;
}

/** Characters of JSON (and ids) a run holds in memory before it spills to the spool file. */
export const SPOOL_MEMORY_CHARS = 24 * 1024 * 1024;

/** Items of the held ones handed to the file at a time when they spill. */
const SPILL_BATCH = 256;

/** The characters an item holds (its strings; what a bound on memory counts). */
function charsOf(item: WriteItem): number {
  return item.id.length + item.json.doc.length + item.json.upsert.length;
}

/**
 * Spools every operation of `batches`: held in memory while they hold at most `memoryChars`
 * characters (a first run of an ordinary feed: no disk round trip, docs/adr/0016-*.md), else
 * written to `file` (those held so far first, then the rest as they come: memory stays bounded
 * whatever the size of the feed). Rejects like `writeSpool`.
 */
export async function spool(
  file: string,
  batches: AsyncIterable<readonly WriteItem[]>,
  memoryChars = SPOOL_MEMORY_CHARS,
): Promise<Spooled> {
  const iterator = batches[Symbol.asyncIterator]();
  let held: WriteItem[] = [];
  let chars = 0;
  while (chars <= memoryChars) {
    const next = await iterator.next();
    if (next.done === true) return { ops: held.length, bytes: 0, held };
    for (const item of next.value) {
      held.push(item);
      chars += charsOf(item);
    }
  }
  async function* spilled(): AsyncGenerator<readonly WriteItem[]> {
    const first = held;
    held = [];
    for (let i = 0; i < first.length; i += SPILL_BATCH) yield first.slice(i, i + SPILL_BATCH);
    yield* { [Symbol.asyncIterator]: () => iterator };
  }
  return { ...(await writeSpool(file, spilled())), held: null };
}

/** The items of `spooled`, in order: from memory (each let go once handed out), or the file. */
export async function* readSpooled(file: string, spooled: Spooled): AsyncGenerator<WriteItem> {
  const held = spooled.held;
  if (held === null) {
    yield* readSpool(file);
    return;
  }
  spooled.held = null;
  for (let i = 0; i < held.length; i++) {
    const item = held[i] as WriteItem;
    // The array lets go of what the writer has taken: memory falls as the items are written.
    (held as (WriteItem | undefined)[])[i] = undefined;
    yield item;
  }
}

/** The spool line of `item` (with its newline). */
function lineOf(item: WriteItem): string {
  const { doc, upsert } = item.json;
  const head = `${item.kind === 'event' ? 'e' : 'r'}${item.online ? '1' : '0'}`;
  return `${head}\t${item.id}\t${doc.length}\t${upsert.length}\t${doc}\t${upsert}\n`;
}

/** A JSON object's text, as far as its ends show (the writer's request would refuse it otherwise). */
function isObjectJson(text: string): boolean {
  return text.startsWith('{') && text.endsWith('}');
}

/** The item of a spool line, or null when the line is not one `lineOf` writes. */
function itemOf(line: string): WriteItem | null {
  const kind = line[0] === 'e' ? 'event' : line[0] === 'r' ? 'rejected' : null;
  const online = line[1] === '1' ? true : line[1] === '0' ? false : null;
  if (kind === null || online === null || line[2] !== '\t') return null;
  const idEnd = line.indexOf('\t', 3);
  const docLengthEnd = idEnd < 0 ? -1 : line.indexOf('\t', idEnd + 1);
  const upsertLengthEnd = docLengthEnd < 0 ? -1 : line.indexOf('\t', docLengthEnd + 1);
  if (upsertLengthEnd < 0 || idEnd === 3) return null;
  const docLength = Number(line.slice(idEnd + 1, docLengthEnd));
  const upsertLength = Number(line.slice(docLengthEnd + 1, upsertLengthEnd));
  const docStart = upsertLengthEnd + 1;
  const upsertStart = docStart + docLength + 1;
  if (
    !Number.isInteger(docLength) ||
    !Number.isInteger(upsertLength) ||
    line.length !== upsertStart + upsertLength ||
    line[upsertStart - 1] !== '\t'
  ) {
    return null;
  }
  const doc = line.slice(docStart, upsertStart - 1);
  const upsert = line.slice(upsertStart);
  if (!isObjectJson(doc) || !isObjectJson(upsert)) return null;
  return { kind, id: line.slice(3, idEnd), online, json: { doc, upsert } };
}

/**
 * Yields the items of a spool file written by `writeSpool`, in order. A line that is not one
 * `writeSpool` writes (cut short, lengths that do not add up, an unknown kind) is an error naming
 * the line (the file is this run's own, so this means it was damaged on disk).
 */
export async function* readSpool(file: string): AsyncGenerator<WriteItem> {
  let n = 0;
  for await (const line of linesOf(file)) {
    n++;
    if (line === '') continue;
    const item = itemOf(line);
    if (item === null) {
      throw new Error(`the spool file ${file} is damaged: line ${n} is not a write operation`);
    }
    yield item;
  }
}

/**
 * The lines of `file`, split at `\n` only (`node:readline` also splits at `\r` and U+2028, which
 * JSON leaves unescaped in strings). Reads one chunk at a time.
 */
async function* linesOf(file: string): AsyncGenerator<string> {
  const input = createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK });
  let rest = '';
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      const text = rest + chunk;
      let start = 0;
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
        yield text.slice(start, end);
        start = end + 1;
      }
      rest = text.slice(start);
    }
    if (rest !== '') yield rest;
  } finally {
    input.destroy();
  }
}
