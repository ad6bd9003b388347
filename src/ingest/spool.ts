/**
 * The run's spool file: the write operations of one feed as NDJSON, one `WriteOp` per line
 * (docs/adr/0005-streaming-xml-parser.md).
 *
 * Phase 1 of a run appends the operations it derives from the feed (parsed, normalised,
 * de-duplicated); phase 2 reads them back, in the same order, and hands them to the writer. Both
 * sides stream: the writer batches lines into chunks and waits for the file stream to drain, the
 * reader pulls lines through `node:readline` (which pauses the file stream while lines are
 * waiting), so memory holds one chunk at a time whatever the number of operations.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { WriteOp } from './operations.js';

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
  batches: AsyncIterable<readonly WriteOp[]>,
): Promise<SpoolStats> {
  const stats: SpoolStats = { ops: 0, bytes: 0 };
  async function* chunks(): AsyncGenerator<string> {
    let chunk = '';
    for await (const ops of batches) {
      for (const op of ops) {
        chunk += `${JSON.stringify(op)}\n`;
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

/**
 * Yields the operations of a spool file written by `writeSpool`, in order. A line that is not a
 * JSON object with a known `kind` is an error naming the line (the file is this run's own, so this
 * means it was damaged on disk).
 */
export async function* readSpool(file: string): AsyncGenerator<WriteOp> {
  const input = createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line === '') continue;
      let op: unknown;
      try {
        op = JSON.parse(line);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new Error(`the spool file ${file} is damaged: line ${n} is not JSON (${reason})`);
      }
      const kind = (op as { kind?: unknown } | null)?.kind;
      if (kind !== 'event' && kind !== 'rejected') {
        throw new Error(`the spool file ${file} is damaged: line ${n} is not a write operation`);
      }
      // Written by writeSpool from WriteOps: the branded strings (LocalDateTime) come back as the
      // same strings.
      yield op as WriteOp;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}
