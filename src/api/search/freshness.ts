/**
 * Data freshness: the newest ingest run that succeeded, read from `<prefix>-runs`.
 *
 * The API polls it to know when the data changed (cache invalidation) and how old it is (metrics).
 */
import type { Client } from '../../store/client.js';
import type { IndexNames } from '../../store/indices.js';
import { latestSuccessfulRun as latestRun } from '../../store/runs.js';

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
  const run = await latestRun(client, names.prefix, undefined, opts);
  return run?.finished_at ? { runId: run.run_id, finishedAt: run.finished_at } : null;
}
