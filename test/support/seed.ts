/**
 * Seeds a real Elasticsearch for the API's tests through the ingester's own code: raw provider
 * events are normalised (normaliseEvent), turned into write operations (writeOpOf) and written by
 * the real writer (writeEvents, which stores what the document mapper src/store/event-document.ts
 * builds); run records go through the real run store. Nothing here builds a stored document.
 */
import { randomUUID } from 'node:crypto';
import {
  eventId,
  normaliseEvent,
  type EventSummary,
  type RawEvent,
} from '../../src/domain/event.js';
import { writeOpOf, type WriteOp } from '../../src/ingest/operations.js';
import { createRunStore, emptyRunCounts } from '../../src/ingest/run-store.js';
import { writeEvents } from '../../src/ingest/writer.js';
import type { Client } from '../../src/store/client.js';
import { bootstrapIndices, type IndexNames, type RunDocument } from '../../src/store/indices.js';

/** The provider name the ingester uses by default (`PROVIDER_NAME`). */
export const PROVIDER = 'primary';

export interface WriteOptions {
  runId?: string;
  /** The run's instant (first/last seen). */
  at?: string;
  /** The provider's zone (`PROVIDER_TIMEZONE` of the run; default UTC). */
  timeZone?: string;
  /** Write the documents of an earlier mapping version (src/store/event-document.ts). */
  mappingVersion?: number;
  /** The provider (default `PROVIDER`). */
  provider?: string;
}

async function* operations(raws: RawEvent[], provider: string): AsyncGenerator<WriteOp> {
  for (const raw of raws) {
    const op = writeOpOf(raw, normaliseEvent(provider, raw));
    if (!op) throw new Error(`cannot seed an event without identity: ${JSON.stringify(raw)}`);
    yield op;
  }
}

/**
 * Writes `raws` into the events alias as one ingest run would (the real writer), visible to
 * search on return. Write an event twice (online, then offline) for "was online, now offline".
 */
export async function writeRawEvents(
  client: Client,
  names: IndexNames,
  raws: RawEvent[],
  opts: WriteOptions = {},
): Promise<void> {
  const stats = await writeEvents(operations(raws, opts.provider ?? PROVIDER), {
    client,
    index: names.eventsAlias,
    context: {
      runId: opts.runId ?? 'seed-run',
      seenAt: opts.at ?? '2021-08-01T00:00:00.000Z',
      timeZone: opts.timeZone ?? 'UTC',
      ...(opts.mappingVersion === undefined ? {} : { mappingVersion: opts.mappingVersion }),
    },
  });
  if (stats.error || stats.failures > 0) {
    throw new Error(
      `seed write failed: ${stats.error?.message ?? JSON.stringify(stats.sampleFailures)}`,
    );
  }
}

/** Creates the indices under `prefix` (bootstrapIndices) and writes `raws` (writeRawEvents). */
export async function seedEvents(
  client: Client,
  prefix: string,
  raws: RawEvent[],
): Promise<IndexNames> {
  const names = await bootstrapIndices(client, prefix);
  await writeRawEvents(client, names, raws);
  return names;
}

/**
 * The layout and events of an earlier release (events mapping `version`: 1 or 2), written by the
 * real writer as that release wrote them (no zone, no instants), one run per provider: what the
 * migration (src/ingest/migrate-events.ts) starts from. Returns the names of that version.
 */
export async function seedEarlierVersion(
  client: Client,
  prefix: string,
  version: number,
  byProvider: Record<string, RawEvent[]>,
): Promise<IndexNames> {
  const names = await bootstrapIndices(client, prefix, { mappingVersion: version });
  for (const [provider, raws] of Object.entries(byProvider)) {
    await writeRawEvents(client, names, raws, { provider, mappingVersion: version });
  }
  return names;
}

/** Records a run (default: a succeeded one finishing now) through the ingester's run store. */
export async function seedRun(
  client: Client,
  names: IndexNames,
  run: Partial<RunDocument> = {},
): Promise<RunDocument> {
  const finishedAt = run.finished_at ?? new Date().toISOString();
  const doc: RunDocument = {
    run_id: randomUUID(),
    provider: PROVIDER,
    provider_url: 'http://provider.test/feed',
    started_at: finishedAt,
    finished_at: finishedAt,
    duration_ms: 0,
    outcome: 'succeeded',
    error: null,
    counts: emptyRunCounts(),
    ...run,
  };
  await createRunStore(client, names.prefix).save(doc);
  return doc;
}

/*
 * The three provider samples (test/fixtures/response_{1,2,3}.xml) after ingesting them in order:
 * each event with its latest values.
 */

/** 291: latest from response_3 (ends 21:30; Grada 2 sold out, so min 20 max 30). */
export const RAW_291: RawEvent = {
  base_event_id: '291',
  sell_mode: 'online',
  title: 'Camela en concierto',
  event_id: '291',
  event_start_date: '2021-06-30T21:00:00',
  event_end_date: '2021-06-30T21:30:00',
  sell_from: '2020-07-01T00:00:00',
  sell_to: '2021-06-30T20:00:00',
  sold_out: 'false',
  zones: [
    { zone_id: '40', capacity: '200', price: '20.00', name: 'Platea', numbered: 'true' },
    { zone_id: '38', capacity: '0', price: '15.00', name: 'Grada 2', numbered: 'false' },
    { zone_id: '30', capacity: '80', price: '30.00', name: 'A28', numbered: 'true' },
  ],
};

/** 322: only in response_1, so its values from there (55/55). */
export const RAW_322: RawEvent = {
  base_event_id: '322',
  sell_mode: 'online',
  organizer_company_id: '2',
  title: 'Pantomima Full',
  event_id: '1642',
  event_start_date: '2021-02-10T20:00:00',
  event_end_date: '2021-02-10T21:30:00',
  sell_from: '2021-01-01T00:00:00',
  sell_to: '2021-02-09T19:50:00',
  sold_out: 'false',
  zones: [{ zone_id: '311', capacity: '2', price: '55.00', name: 'A42', numbered: 'true' }],
};

/** 1591: latest from response_3 (ends 21:00 again; the 75.00 zone has no tickets left). */
export const RAW_1591: RawEvent = {
  base_event_id: '1591',
  sell_mode: 'online',
  organizer_company_id: '1',
  title: 'Los Morancos',
  event_id: '1642',
  event_start_date: '2021-07-31T20:00:00',
  event_end_date: '2021-07-31T21:00:00',
  sell_from: '2021-06-26T00:00:00',
  sell_to: '2021-07-31T19:50:00',
  sold_out: 'false',
  zones: [
    { zone_id: '186', capacity: '0', price: '75.00', name: 'Amfiteatre', numbered: 'true' },
    { zone_id: '186', capacity: '12', price: '65.00', name: 'Amfiteatre', numbered: 'false' },
  ],
};

/** 444: always offline, and its dates (September 31st) do not exist. */
export const RAW_444: RawEvent = {
  base_event_id: '444',
  sell_mode: 'offline',
  organizer_company_id: '1',
  title: 'Tributo a Juanito Valderrama',
  event_id: '1642',
  event_start_date: '2021-09-31T20:00:00',
  event_end_date: '2021-09-31T20:00:00',
  sell_from: '2021-02-10T00:00:00',
  sell_to: '2021-09-31T19:50:00',
  sold_out: 'false',
  zones: [{ zone_id: '7', capacity: '22', price: '65.00', name: 'Amfiteatre', numbered: 'false' }],
};

export const SAMPLE_IDS = {
  291: eventId(PROVIDER, '291', '291'),
  322: eventId(PROVIDER, '322', '1642'),
  1591: eventId(PROVIDER, '1591', '1642'),
  444: eventId(PROVIDER, '444', '1642'),
} as const;

/** The latest state of the three samples' events, to write with writeRawEvents/seedEvents. */
export const SAMPLE_RAWS: readonly RawEvent[] = [RAW_291, RAW_322, RAW_1591, RAW_444];

/** What `/search` must answer for them, in order (start, then id). */
export const SAMPLE_SUMMARIES: EventSummary[] = [
  {
    id: SAMPLE_IDS[322],
    title: 'Pantomima Full',
    start_date: '2021-02-10',
    start_time: '20:00:00',
    end_date: '2021-02-10',
    end_time: '21:30:00',
    min_price: 55,
    max_price: 55,
  },
  {
    id: SAMPLE_IDS[291],
    title: 'Camela en concierto',
    start_date: '2021-06-30',
    start_time: '21:00:00',
    end_date: '2021-06-30',
    end_time: '21:30:00',
    min_price: 20,
    max_price: 30,
  },
  {
    id: SAMPLE_IDS[1591],
    title: 'Los Morancos',
    start_date: '2021-07-31',
    start_time: '20:00:00',
    end_date: '2021-07-31',
    end_time: '21:00:00',
    min_price: 65,
    max_price: 65,
  },
];

/**
 * `count` generated online events (deterministic), many sharing a start time so the id decides the
 * order. Starts spread over 2022 from `2022-01-01T00:00:00`, one-hour events.
 */
export function generatedRawEvents(count: number, baseOffset = 100_000): RawEvent[] {
  const events: RawEvent[] = [];
  for (let i = 0; i < count; i++) {
    // Four events per start time.
    const startMinutes = Math.floor(i / 4) * 90;
    const start = new Date(Date.UTC(2022, 0, 1) + startMinutes * 60_000);
    const end = new Date(start.getTime() + 60 * 60_000);
    const local = (d: Date) => d.toISOString().slice(0, 19);
    events.push({
      base_event_id: String(baseOffset + i),
      sell_mode: i % 10 === 9 ? 'offline' : 'online',
      title: `Generated event ${i}`,
      event_id: String(i),
      event_start_date: local(start),
      event_end_date: local(end),
      sold_out: i % 7 === 0 ? 'true' : 'false',
      zones: [
        { zone_id: '1', capacity: String(i % 5), price: `${10 + (i % 13)}.50`, name: 'A' },
        { zone_id: '2', capacity: '3', price: `${40 + (i % 3)}.00`, name: 'B' },
      ],
    });
  }
  return events;
}
