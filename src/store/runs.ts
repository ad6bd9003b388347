/**
 * Reading the ingest run records in `<prefix>-runs` (one document per run, id = run id; the
 * ingester writes them through src/ingest/run-store.ts). The API polls `latestSuccessPerProvider`
 * (how fresh each provider's data is) and `latestDataChange` (the data version).
 */
import type { estypes } from '@elastic/elasticsearch';
import type { Client } from './client.js';
import { isIndexNotFound } from './errors.js';
import { indexNames, type RunDocument } from './indices.js';

/**
 * The run that finished last among those matching `query`, or null when there is none (also when
 * the runs index does not exist yet). Other errors propagate.
 */
async function newestFinishedRun(
  client: Client,
  prefix: string,
  query: estypes.QueryDslQueryContainer,
  opts: { requestTimeoutMs?: number },
): Promise<RunDocument | null> {
  try {
    const res = await client.search<RunDocument>(
      {
        index: indexNames(prefix).runsIndex,
        size: 1,
        query,
        sort: [{ finished_at: { order: 'desc' } }, { run_id: { order: 'desc' } }],
        track_total_hits: false,
      },
      opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {},
    );
    return res.hits.hits[0]?._source ?? null;
  } catch (err) {
    if (isIndexNotFound(err)) return null;
    throw err;
  }
}

/**
 * The run that finished last among the successful ones (optionally of one provider), or null
 * when there is none yet (also when the runs index does not exist yet). Other errors propagate.
 */
export async function latestSuccessfulRun(
  client: Client,
  prefix: string,
  provider?: string,
  opts: { requestTimeoutMs?: number } = {},
): Promise<RunDocument | null> {
  const filter: estypes.QueryDslQueryContainer[] = [
    { term: { outcome: 'succeeded' } },
    { exists: { field: 'finished_at' } },
  ];
  if (provider !== undefined) filter.push({ term: { provider } });
  return newestFinishedRun(client, prefix, { bool: { filter } }, opts);
}

/**
 * The run that last changed the stored events (docs/adr/0013-change-driven-data.md): the newest
 * finished run, whatever its outcome, that created or changed an item, or that failed with items
 * Elasticsearch may have applied in part (bulk failures). Null when there is none yet. A run
 * that found the feed unchanged is never it, so the data version stays where it was.
 */
export async function latestDataChange(
  client: Client,
  prefix: string,
  opts: { requestTimeoutMs?: number } = {},
): Promise<RunDocument | null> {
  const failedWithBulkFailures = {
    bool: {
      filter: [{ term: { outcome: 'failed' } }, { range: { 'counts.bulk_failures': { gt: 0 } } }],
    },
  };
  const query = {
    bool: {
      filter: [{ exists: { field: 'finished_at' } }],
      should: [{ range: { 'counts.items_changed': { gt: 0 } } }, failedWithBulkFailures],
      minimum_should_match: 1,
    },
  };
  return newestFinishedRun(client, prefix, query, opts);
}

/** A provider that has run at least once, and its newest successful run (null: none yet). */
export interface ProviderLatestSuccess {
  provider: string;
  latestSuccess: RunDocument | null;
}

/** Most providers the freshness read reports (far more than a deployment configures). */
const MAX_PROVIDERS = 1_000;

/**
 * Every provider with a run record (a provider removed from the configuration included, until its
 * records are retired: docs/adr/0014-many-providers.md) and its newest successful run, in one
 * request. Empty when there is no run yet (also when the runs index does not exist yet).
 */
export async function latestSuccessPerProvider(
  client: Client,
  prefix: string,
  opts: { requestTimeoutMs?: number } = {},
): Promise<ProviderLatestSuccess[]> {
  try {
    const res = await client.search(
      {
        index: indexNames(prefix).runsIndex,
        size: 0,
        track_total_hits: false,
        // A command's record (rezone, retire) does not make a provider known.
        query: { bool: { must_not: [{ term: { outcome: 'maintenance' } }] } },
        aggs: {
          providers: {
            terms: { field: 'provider', size: MAX_PROVIDERS },
            aggs: {
              succeeded: {
                filter: {
                  bool: {
                    filter: [
                      { term: { outcome: 'succeeded' } },
                      { exists: { field: 'finished_at' } },
                    ],
                  },
                },
                aggs: {
                  latest: {
                    top_hits: {
                      size: 1,
                      sort: [{ finished_at: { order: 'desc' } }, { run_id: { order: 'desc' } }],
                    },
                  },
                },
              },
            },
          },
        },
      },
      opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {},
    );
    interface Bucket {
      key: string;
      succeeded: { latest: { hits: { hits: { _source?: RunDocument }[] } } };
    }
    const providers = res.aggregations?.providers as { buckets: Bucket[] } | undefined;
    return (providers?.buckets ?? []).map((b) => ({
      provider: b.key,
      latestSuccess: b.succeeded.latest.hits.hits[0]?._source ?? null,
    }));
  } catch (err) {
    if (isIndexNotFound(err)) return [];
    throw err;
  }
}

/** One run by id, or null. */
export async function getRun(
  client: Client,
  prefix: string,
  runId: string,
): Promise<RunDocument | null> {
  const res = await client.get<RunDocument>(
    { index: indexNames(prefix).runsIndex, id: runId },
    { ignore: [404] },
  );
  return res.found ? (res._source ?? null) : null;
}
