/**
 * Retiring a provider (docs/adr/0014-many-providers.md): deletes its events from the events alias
 * and its run records from the runs index, so it is no longer searchable and the API stops
 * reporting its freshness. Removing a provider from the configuration only stops fetching it;
 * this is the separate, deliberate step an operator takes when its history should go too.
 *
 * Scroll and bulk, not `_delete_by_query`: the local distribution (scripts/es.sh) has no reindex
 * module, so `_delete_by_query` does not exist there; this works on every distribution. Only
 * documents whose `provider` is exactly the name are touched.
 */
import type { Client } from './client.js';
import { isIndexNotFound } from './errors.js';
import { indexNames } from './indices.js';

export interface RetireCounts {
  /** Documents found (and, unless a dry run, deleted). */
  events: number;
  runs: number;
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
    query: { term: { provider } },
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
    return (await client.count({ index, query: { term: { provider } } })).count;
  } catch (err) {
    if (isIndexNotFound(err)) return 0;
    throw err;
  }
}

async function deleteAll(client: Client, index: string, provider: string): Promise<number> {
  let failed = 0;
  const stats = await client.helpers.bulk<{ _index: string; _id: string }>({
    datasource: documentsOf(client, index, provider),
    onDocument: (doc) => ({ delete: { _index: doc._index, _id: doc._id } }),
    onDrop: () => {
      failed++;
    },
    refreshOnCompletion: true,
  });
  if (failed > 0 || stats.failed > 0) {
    throw new Error(`${failed || stats.failed} of ${stats.total} deletions in ${index} failed`);
  }
  return stats.successful;
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
  const events = (await count(client, names.eventsAlias, provider))
    ? await deleteAll(client, names.eventsAlias, provider)
    : 0;
  // Runs last: until they go, the API still reports (and alerts on) the provider's freshness.
  const runs = (await count(client, names.runsIndex, provider))
    ? await deleteAll(client, names.runsIndex, provider)
    : 0;
  return { events, runs };
}
