/**
 * Data freshness: the newest ingest run that succeeded, read from `<prefix>-runs`.
 *
 * The API polls it to know how old its data is (metrics) and, with the data version, when the
 * data changed (cache invalidation; docs/adr/0013-change-driven-data.md).
 */
import type { Client } from '../../store/client.js';
import type { IndexNames } from '../../store/indices.js';
import { latestDataChange, latestSuccessfulRun as latestRun } from '../../store/runs.js';

export interface SuccessfulRun {
  runId: string;
  /** UTC instant (ISO 8601) at which the run finished. */
  finishedAt: string;
  /**
   * The data version: it moves only when a run changed the stored events (successful or not), so
   * every replica holds its cache, and its ETags, while runs find the feed unchanged. Absent:
   * the run itself stands for the version.
   */
  dataVersion?: string;
}

/** The data version of the run that last changed the events ('none': no run changed any). */
function versionOf(run: { run_id: string; finished_at: string | null } | null): string {
  return run ? `${run.finished_at ?? ''}#${run.run_id}` : 'none';
}

/**
 * The newest run with outcome `succeeded` and the data version, or null when there has never been one (including when
 * the runs index does not exist yet). Any other failure is thrown.
 */
export async function latestSuccessfulRun(
  client: Client,
  names: IndexNames,
  opts: { requestTimeoutMs?: number } = {},
): Promise<SuccessfulRun | null> {
  const [run, change] = await Promise.all([
    latestRun(client, names.prefix, undefined, opts),
    latestDataChange(client, names.prefix, opts),
  ]);
  return run?.finished_at
    ? { runId: run.run_id, finishedAt: run.finished_at, dataVersion: versionOf(change) }
    : null;
}
