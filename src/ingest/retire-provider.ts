/**
 * Retiring a provider (docs/adr/0014-many-providers.md): deletes its events from the events alias
 * and its run records from the runs index, so it is no longer searchable and the API stops
 * reporting its freshness. Removing a provider from the configuration only stops fetching it;
 * this is the separate, deliberate step an operator takes when its history should go too.
 * Deleting events moves the data version (a run record with outcome `maintenance`, which stays as
 * the trace of the retirement), so no API replica keeps answering them from its cache.
 *
 * Scroll and bulk, not `_delete_by_query`: the local distribution (scripts/es.sh) has no reindex
 * module, so `_delete_by_query` does not exist there; this works on every distribution. Only
 * documents whose `provider` is exactly the name are touched.
 */
import { randomUUID } from 'node:crypto';
import type { estypes } from '@elastic/elasticsearch';
import type { Client } from '../store/client.js';
import { isIndexNotFound } from '../store/errors.js';
import { indexNames } from '../store/indices.js';
import { createRunStore, recordMaintenance } from './run-store.js';

export interface RetireCounts {
  /** Documents found (and, unless a dry run, deleted). */
  events: number;
  runs: number;
}

/**
 * The documents of `provider`: every event; every run record but the records of commands (a
 * retirement's own record stays, ADR 0014).
 */
function ofProvider(provider: string): estypes.QueryDslQueryContainer {
  return {
    bool: {
      filter: [{ term: { provider } }],
      must_not: [{ term: { outcome: 'maintenance' } }],
    },
  };
}

/** Ids (with their concrete index) of every document of `provider` in `index`. */
async function* documentsOf(
  client: Client,
  index: string,
  provider: string,
): AsyncGenerator<{ _index: string; _id: string }> {
  const scroll = client.helpers.scrollSearch({
    index,
    size: 1_000,
    _source: false,
    query: ofProvider(provider),
    sort: ['_doc'],
  });
  for await (const page of scroll) {
    for (const hit of page.body.hits.hits) {
      if (hit._id !== undefined) yield { _index: hit._index, _id: hit._id };
    }
  }
}

async function count(client: Client, index: string, provider: string): Promise<number> {
  try {
    return (await client.count({ index, query: ofProvider(provider) })).count;
  } catch (err) {
    if (isIndexNotFound(err)) return 0;
    throw err;
  }
}

/** Deletes them; the deletions Elasticsearch refused are counted, not thrown. */
async function deleteAll(
  client: Client,
  index: string,
  provider: string,
): Promise<{ deleted: number; failed: number }> {
  let failed = 0;
  const stats = await client.helpers.bulk<{ _index: string; _id: string }>({
    datasource: documentsOf(client, index, provider),
    onDocument: (doc) => ({ delete: { _index: doc._index, _id: doc._id } }),
    onDrop: () => {
      failed++;
    },
    refreshOnCompletion: true,
  });
  return { deleted: stats.successful, failed: Math.max(failed, stats.failed) };
}

function refused(index: string, { deleted, failed }: { deleted: number; failed: number }): Error {
  return new Error(`${failed} of ${deleted + failed} deletions in ${index} failed`);
}

/**
 * Counts (dryRun) or deletes every event and run record of `provider` under `prefix`.
 * Rejects when Elasticsearch refuses a deletion; running it again finishes the job.
 */
export async function retireProvider(
  client: Client,
  prefix: string,
  provider: string,
  opts: { dryRun: boolean },
): Promise<RetireCounts> {
  const names = indexNames(prefix);
  if (opts.dryRun) {
    return {
      events: await count(client, names.eventsAlias, provider),
      runs: await count(client, names.runsIndex, provider),
    };
  }
  const startedAt = new Date();
  const events = (await count(client, names.eventsAlias, provider))
    ? await deleteAll(client, names.eventsAlias, provider)
    : { deleted: 0, failed: 0 };
  if (events.deleted > 0) {
    await recordMaintenance(createRunStore(client, prefix), {
      runId: `retire-${randomUUID()}`,
      provider,
      startedAt,
      changed: events.deleted,
      failed: events.failed,
      error: events.failed > 0 ? refused(names.eventsAlias, events).message : null,
    });
  }
  if (events.failed > 0) throw refused(names.eventsAlias, events);
  // Runs last: until they go, the API still reports (and alerts on) the provider's freshness.
  const deletedRuns = (await count(client, names.runsIndex, provider))
    ? await deleteAll(client, names.runsIndex, provider)
    : { deleted: 0, failed: 0 };
  if (deletedRuns.failed > 0) throw refused(names.runsIndex, deletedRuns);
  return { events: events.deleted, runs: deletedRuns.deleted };
}
