/**
 * Re-zoning a provider (docs/adr/0015-events-migration.md, "A provider's zone corrected"): after a
 * provider's `PROVIDER_TIMEZONE` was found wrong and corrected, its next run rewrites the events its
 * feed carries, but the events the feed no longer carries keep the instants of the wrong zone. This
 * recomputes them: every stored event of the provider gets the zone and the instants of its
 * wall-clock period in `zone` (the one function runs use, `timeFieldsOf`).
 *
 * - Holds the provider's ingest lease (src/ingest/lease.ts) while it writes, so no run of that
 *   provider writes meanwhile; a held lease is an error naming its holder (exit 3 at the command).
 * - Only documents whose zone or instants differ are written, so running it twice changes nothing
 *   the second time. Each written document's `content_hash` is cleared: the provider's next run
 *   rewrites the events its feed carries from the configured zone, whatever this command was given.
 * - A run record (outcome `maintenance`, `items_changed`) moves the data version when anything was
 *   written (docs/adr/0013-change-driven-data.md), so every API replica drops its cached answers;
 *   it is not a success of the provider (freshness is unchanged).
 * - Scroll and bulk (no `_update_by_query` without painless on the local distribution).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '../store/client.js';
import { timeFieldsOf } from '../store/event-document.js';
import { indexNames, type EventDocument } from '../store/indices.js';
import { acquireLease } from './lease.js';
import { createRunStore, recordMaintenance } from './run-store.js';

export interface RezoneOptions {
  client: Client;
  prefix: string;
  provider: string;
  /** The provider's correct IANA zone (as its `PROVIDER_TIMEZONE` now says). */
  zone: string;
  /** Count what would change, write nothing. */
  dryRun: boolean;
  /** TTL of the ingest lease held while writing (default 60 s, as INGEST_LEASE_TTL_MS). */
  leaseTtlMs?: number;
  /** Documents per scroll page and bulk request (default 1000). */
  batchSize?: number;
}

export interface RezoneResult {
  /** Stored events of the provider with a period (an event only ever rejected has none). */
  examined: number;
  /** Events whose zone or instants differed: written (counted only, in a dry run). */
  changed: number;
  /** The run record written (absent: nothing was written). */
  runId?: string;
}

type TimeFields = Pick<EventDocument, 'timezone' | 'instants' | 'starts_at_instant'>;
type Stored = Pick<EventDocument, 'period' | 'timezone' | 'instants' | 'starts_at_instant'>;

interface Change {
  _index: string;
  _id: string;
  fields: TimeFields;
}

function same(stored: Stored, fields: TimeFields): boolean {
  return (
    stored.timezone === fields.timezone &&
    stored.starts_at_instant === fields.starts_at_instant &&
    stored.instants?.gte === fields.instants?.gte &&
    (stored.instants?.lte ?? null) === (fields.instants?.lte ?? null)
  );
}

/** Every stored event of `provider` whose time fields in `zone` differ from what is stored. */
async function* changesOf(
  client: Client,
  index: string,
  provider: string,
  zone: string,
  size: number,
  seen: { examined: number },
): AsyncGenerator<Change> {
  const scroll = client.helpers.scrollSearch<Stored>({
    index,
    size,
    _source: ['period', 'timezone', 'instants', 'starts_at_instant'],
    query: { bool: { filter: [{ term: { provider } }, { exists: { field: 'period' } }] } },
    sort: ['_doc'],
  });
  for await (const page of scroll) {
    for (const hit of page.body.hits.hits) {
      const stored = hit._source;
      if (!stored?.period || hit._id === undefined) continue;
      seen.examined++;
      const fields = timeFieldsOf(stored.period, zone);
      if (!same(stored, fields)) yield { _index: hit._index, _id: hit._id, fields };
    }
  }
}

/** Recomputes the zone and instants of every stored event of the provider (module comment). */
export async function rezoneProvider(opts: RezoneOptions): Promise<RezoneResult> {
  const { client, provider, zone } = opts;
  const names = indexNames(opts.prefix);
  const size = opts.batchSize ?? 1_000;
  const seen = { examined: 0 };
  if (opts.dryRun) {
    let changed = 0;
    for await (const _ of changesOf(client, names.eventsAlias, provider, zone, size, seen)) {
      changed++;
    }
    return { examined: seen.examined, changed };
  }

  const runId = `rezone-${randomUUID()}`;
  const lease = await acquireLease({
    client,
    index: names.leaseIndex,
    runId,
    provider,
    ttlMs: opts.leaseTtlMs ?? 60_000,
  });
  const startedAt = new Date();
  let failed = 0;
  let written = 0;
  let failure: unknown;
  try {
    const stats = await client.helpers.bulk<Change>({
      datasource: changesOf(client, names.eventsAlias, provider, zone, size, seen),
      flushBytes: 1_000_000,
      onDocument: (change) => [
        { update: { _index: change._index, _id: change._id } },
        { doc: { ...change.fields, content_hash: null } },
      ],
      onDrop: () => {
        failed++;
      },
      refreshOnCompletion: true,
    });
    written = stats.successful;
    failed = Math.max(failed, stats.failed);
    if (lease.lost.aborted) throw new Error(`the ingest lease of ${provider} was lost meanwhile`);
  } catch (err) {
    failure = err;
  } finally {
    await lease.release();
  }
  // Anything written moves the data version, the command failed or not (ADR 0013).
  let recorded: string | undefined;
  if (written > 0 || failed > 0) {
    const error = failure ? String(failure) : failed > 0 ? `${failed} updates refused` : null;
    const store = createRunStore(client, opts.prefix);
    await recordMaintenance(store, { runId, provider, startedAt, changed: written, failed, error });
    recorded = runId;
  }
  if (failure) throw failure;
  if (failed > 0) {
    throw new Error(
      `${failed} of ${written + failed} updates of ${provider} were refused; run the command again to finish`,
    );
  }
  return { examined: seen.examined, changed: written, ...(recorded ? { runId: recorded } : {}) };
}
