/**
 * The feed's bytes staged on disk, hashed as they arrive (docs/adr/0016-unchanged-feed-and-ingest-cost.md).
 *
 * A run first receives the whole body into a file of its temporary directory, computing the
 * SHA-256 of the bytes on the way; only then does it decide whether the feed needs parsing at all
 * (the same bytes as the run before it, on the same UTC day: it does not) and, when it does, parses
 * the file. The download is bounded by the disk, not by the parser, and memory holds one chunk.
 * A run with no previous feed to compare with parses the bytes as they arrive instead
 * (`hashedBody`), without a file.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

export interface ReceivedFeed {
  /** SHA-256 of the bytes (hex). */
  sha256: string;
  bytes: number;
}

/**
 * The chunks of `body`, hashed and counted as they pass (`onBytes` hears the running total);
 * `received()` is the result once they have all passed.
 */
export function hashedBody(
  body: AsyncIterable<Uint8Array>,
  onBytes: (total: number) => void = () => undefined,
): { chunks: AsyncIterable<Uint8Array>; received: () => ReceivedFeed } {
  const hash = createHash('sha256');
  let bytes = 0;
  let sha256: string | null = null;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      onBytes(bytes);
      yield chunk;
    }
    sha256 = hash.digest('hex');
  }
  return {
    chunks: chunks(),
    received: () => {
      if (sha256 === null) throw new Error('the feed has not been received to its end');
      return { sha256, bytes };
    },
  };
}

/**
 * Writes every chunk of `body` to `file` (created or truncated) and hashes them; `onBytes` hears
 * the running total.
 */
export async function receiveFeed(
  body: AsyncIterable<Uint8Array>,
  file: string,
  onBytes: (total: number) => void = () => undefined,
): Promise<ReceivedFeed> {
  const hashed = hashedBody(body, onBytes);
  // Up to 1 MB queued for the disk: the download does not wait for each chunk's write.
  await pipeline(hashed.chunks, createWriteStream(file, { highWaterMark: 1024 * 1024 }));
  return hashed.received();
}
