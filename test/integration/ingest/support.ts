/** Shared by the ingest and store integration tests: run an ingest from bytes against a real ES. */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { EventSink, FeedSource, RunResult } from '../../../src/ingest/run.js';
import { runIngest } from '../../../src/ingest/run.js';
import { createLogger, type Logger } from '../../../src/observability/logger.js';
import type { Client } from '../../../src/store/client.js';
import { ingestEnv, parseEnv } from '../../../src/config.js';
import { ingestRunDeps } from '../../../src/ingest/job.js';
import { indexNames, type EventDocument } from '../../../src/store/indices.js';

export const fixture = (n: number): Buffer =>
  readFileSync(new URL(`../../fixtures/response_${n}.xml`, import.meta.url));

/** A logger whose JSON lines are kept in memory (and handed to `onLine` as they come). */
export function memoryLogger(onLine: (line: Record<string, unknown>) => void = () => undefined): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (!text.trim()) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        onLine(line);
      }
      done();
    },
  });
  return { logger: createLogger({ name: 'ingest-test', level: 'debug', destination }), lines };
}

/** A feed source serving `body` in small chunks (or failing with `error`). */
export function bytesSource(body: Buffer | string, chunkSize = 512): FeedSource {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return {
    async open() {
      async function* chunks() {
        for (let i = 0; i < buf.length; i += chunkSize) yield buf.subarray(i, i + chunkSize);
      }
      return { body: chunks(), status: 200, contentType: 'application/xml' };
    },
  };
}

export function failingSource(error: Error): FeedSource {
  return {
    async open() {
      throw error;
    },
  };
}

export interface IngestOptions {
  provider?: string;
  /** PROVIDER_FORMAT (default xml). */
  format?: string;
  /** PROVIDER_TIMEZONE (default UTC). */
  timeZone?: string;
  logger?: Logger;
  flushBytes?: number;
  concurrency?: number;
  /** The run's clock (default: the real one). */
  now?: () => Date;
  /** Wraps the real writer (e.g. to add an item Elasticsearch refuses). */
  wrapSink?: (sink: EventSink) => EventSink;
  /** More ingest settings (INGEST_*), as the environment gives them. */
  env?: Record<string, string>;
  /** The document-building code's fingerprint (default: this code's); another value = another release. */
  documentCode?: string;
}

/** One run of the real ingester's wiring (ingestRunDeps, as createIngestJob calls it) over `source`. */
export async function ingest(
  client: Client,
  prefix: string,
  source: FeedSource,
  options: IngestOptions = {},
): Promise<RunResult> {
  const env = parseEnv(ingestEnv, {
    PROVIDER_URL: 'http://provider.test/feed',
    PROVIDER_NAME: options.provider ?? 'primary',
    PROVIDER_FORMAT: options.format ?? 'xml',
    PROVIDER_TIMEZONE: options.timeZone ?? 'UTC',
    ES_INDEX_PREFIX: prefix,
    INGEST_BULK_FLUSH_BYTES: String(options.flushBytes ?? 1_000),
    INGEST_BULK_CONCURRENCY: String(options.concurrency ?? 2),
    ...options.env,
  });
  const logger = options.logger ?? memoryLogger().logger;
  const deps = ingestRunDeps(client, env, { logger, source });
  return runIngest({
    ...deps,
    sink: options.wrapSink ? options.wrapSink(deps.sink) : deps.sink,
    ...(options.now ? { now: options.now } : {}),
    ...(options.documentCode ? { documentCode: options.documentCode } : {}),
  });
}

/** Documents Elasticsearch indexed into the events index so far (primaries). */
export async function indexTotal(client: Client, prefix: string): Promise<number> {
  const index = indexNames(prefix).eventsAlias;
  const stats = await client.indices.stats({ index, metric: 'indexing' });
  return stats._all.primaries?.indexing?.index_total ?? NaN;
}

/** Every stored event by id, as stored (`_source`). */
export async function allEvents(
  client: Client,
  prefix: string,
): Promise<Map<string, EventDocument>> {
  const alias = indexNames(prefix).eventsAlias;
  await client.indices.refresh({ index: alias });
  const res = await client.search<EventDocument>({
    index: alias,
    size: 1000,
    query: { match_all: {} },
    sort: [{ id: 'asc' }],
  });
  return new Map(res.hits.hits.map((h) => [h._id as string, h._source as EventDocument]));
}

/** The raw `_source` strings, to compare byte for byte. */
export async function rawSources(client: Client, prefix: string): Promise<string[]> {
  const alias = indexNames(prefix).eventsAlias;
  await client.indices.refresh({ index: alias });
  const res = await client.search({
    index: alias,
    size: 1000,
    query: { match_all: {} },
    sort: [{ id: 'asc' }],
    seq_no_primary_term: true,
    version: true,
  });
  return res.hits.hits.map((h) =>
    JSON.stringify({ id: h._id, seq: h._seq_no, v: h._version, source: h._source }),
  );
}

/** A stored event without what changes on every sighting (run ids and timestamps). */
export function withoutBookkeeping(doc: EventDocument): Partial<EventDocument> {
  const copy: Partial<EventDocument> = { ...doc };
  delete copy.last_seen_at;
  delete copy.last_run_id;
  delete copy.first_seen_at;
  if (copy.last_rejection) {
    copy.last_rejection = { ...copy.last_rejection, run_id: '(run)', at: '(at)' };
  }
  return copy;
}

/** The ids of the events a search may return: seen online once and with a valid period. */
export async function searchableIds(client: Client, prefix: string): Promise<string[]> {
  const alias = indexNames(prefix).eventsAlias;
  await client.indices.refresh({ index: alias });
  const res = await client.search<EventDocument>({
    index: alias,
    size: 1000,
    query: {
      bool: {
        filter: [
          { term: { ever_online: true } },
          {
            range: {
              period: {
                gte: '2000-01-01T00:00:00',
                lte: '2100-01-01T00:00:00',
                relation: 'within',
              },
            },
          },
        ],
      },
    },
  });
  return res.hits.hits.map((h) => h._id as string).sort();
}
