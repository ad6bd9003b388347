/**
 * Data freshness: the newest ingest run that succeeded, read from `<prefix>-runs`.
 *
 * The API polls it to know when the data changed (cache invalidation) and how old it is (metrics).
 */
import { errors } from '@elastic/elasticsearch';
import type { Client } from './client.js';
import type { IndexNames, RunDocument } from './indices.js';

export interface SuccessfulRun {
  runId: string;
  /** UTC instant (ISO 8601) at which the run finished. */
  finishedAt: string;
}

/**
 * The newest run with outcome `succeeded`, or null when there has never been one (including when
 * the runs index does not exist yet). Any other failure is thrown.
 */
export async function latestSuccessfulRun(
  client: Client,
  names: IndexNames,
  opts: { requestTimeoutMs?: number } = {},
): Promise<SuccessfulRun | null> {
  try {
    const res = await client.search<Pick<RunDocument, 'run_id' | 'finished_at'>>(
      {
        index: names.runsIndex,
        size: 1,
        query: {
          bool: {
            filter: [{ term: { outcome: 'succeeded' } }, { exists: { field: 'finished_at' } }],
          },
        },
        sort: [{ finished_at: 'desc' }, { run_id: 'desc' }],
        _source: ['run_id', 'finished_at'],
        track_total_hits: false,
      },
      opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {},
    );
    const source = res.hits.hits[0]?._source;
    if (!source?.finished_at) return null;
    return { runId: source.run_id, finishedAt: source.finished_at };
  } catch (err) {
    if (
      err instanceof errors.ResponseError &&
      (err.body as { error?: { type?: string } } | undefined)?.error?.type ===
        'index_not_found_exception'
    ) {
      return null;
    }
    throw err;
  }
}
