/**
 * Shared by the edge-case tests (issue 16): a provider feed built from a few fields per event,
 * ingested through the real run (parser, spool, bulk writer) into a real Elasticsearch, and
 * searched through the real API app.
 */
import type { Response } from 'supertest';
import type { EventSummary } from '../../../src/domain/event.js';
import type { RunResult } from '../../../src/ingest/run.js';
import type { Client } from '../../../src/store/client.js';
import { bootstrapIndices, type IndexNames } from '../../../src/store/indices.js';
import { expectContract } from '../../support/openapi.js';
import { buildApi } from '../api/api-fixture.js';
import { bytesSource, ingest, type IngestOptions } from '../ingest/support.js';

export interface FeedEvent {
  /** base_event_id; the event_id is `1` unless given. */
  base: string;
  event?: string;
  /** `online` unless given; any other text is an invalid sell mode. */
  mode?: string;
  title?: string;
  start: string;
  /** Absent: the attribute is left out (an open-ended event). */
  end?: string;
  zones?: { price: string; capacity: string }[];
}

const escape = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/** The feed's XML text (the declaration says UTF-8 unless another one is given). */
export function feedXml(
  events: FeedEvent[],
  declaration = '<?xml version="1.0" encoding="UTF-8"?>',
): string {
  const bases = events.map((e) => {
    const zones = (e.zones ?? [{ price: '10.00', capacity: '5' }])
      .map(
        (z, i) =>
          `<zone zone_id="${i + 1}" capacity="${escape(z.capacity)}" price="${escape(z.price)}" name="Z${i + 1}" numbered="false"/>`,
      )
      .join('');
    const end = e.end === undefined ? '' : ` event_end_date="${escape(e.end)}"`;
    return (
      `<base_event base_event_id="${escape(e.base)}" sell_mode="${e.mode ?? 'online'}" title="${escape(e.title ?? `Show ${e.base}`)}">` +
      `<event event_id="${escape(e.event ?? '1')}" event_start_date="${escape(e.start)}"${end} sold_out="false">${zones}</event>` +
      `</base_event>`
    );
  });
  return `${declaration}\n<eventList version="1.0"><output>${bases.join('')}</output></eventList>\n`;
}

/** Creates the indices under `prefix` and returns their names. */
export function bootstrap(client: Client, prefix: string): Promise<IndexNames> {
  return bootstrapIndices(client, prefix);
}

/** Ingests `events` as one feed through the real run; fails the test if the run fails. */
export async function ingestFeed(
  client: Client,
  prefix: string,
  events: FeedEvent[],
  options: IngestOptions = {},
): Promise<RunResult> {
  const result = await ingest(client, prefix, bytesSource(feedXml(events), 256), options);
  if (!result.ok) throw new Error(`the ingest run failed: ${result.error?.message}`);
  return result;
}

/**
 * A fresh search API (createSearchService, fresh cache) over the stored events, answers checked
 * against openapi.yaml.
 */
export function searchApi(names: IndexNames) {
  const api = buildApi({ names });
  return async (query: string): Promise<Response> =>
    expectContract('/search', await api.http.get(`/search${query ? `?${query}` : ''}`).send());
}

/** The events of a 200 answer. */
export function eventsOf(res: Response): EventSummary[] {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${res.text}`);
  return (res.body as { data: { events: EventSummary[] } }).data.events;
}

/** The titles of a 200 answer, in order. */
export function titlesOf(res: Response): string[] {
  return eventsOf(res).map((e) => e.title);
}
