/**
 * Data freshness: the newest ingest run that succeeded, of every provider, read from `<prefix>-runs`.
 *
 * The API polls it to know how old its data is (metrics) and, with the data version, when the
 * data changed (cache invalidation; docs/adr/0013-change-driven-data.md).
 */
import type { Client } from '../../store/client.js';
import type { IndexNames } from '../../store/indices.js';
import type { RunDocument } from '../../store/indices.js';
import { latestDataChange, latestSuccessPerProvider } from '../../store/runs.js';

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

/** What the API knows of the data's freshness, across providers. */
export interface Freshness {
  /**
   * The newest successful run of any provider (null: none yet): a run of any provider that
   * succeeds becomes it, so the search cache notices every provider's runs.
   */
  newest: SuccessfulRun | null;
  /** Every provider with a run record and its newest successful run (null: none yet). */
  providers: { provider: string; lastSuccess: SuccessfulRun | null }[];
}

function successOf(run: RunDocument | null): SuccessfulRun | null {
  return run?.finished_at ? { runId: run.run_id, finishedAt: run.finished_at } : null;
}

/** Newer first: by finish time, then run id (as the run records are sorted). */
function newer(a: SuccessfulRun | null, b: SuccessfulRun | null): SuccessfulRun | null {
  if (!a || !b) return a ?? b;
  if (a.finishedAt !== b.finishedAt) return a.finishedAt > b.finishedAt ? a : b;
  return a.runId > b.runId ? a : b;
}

/**
 * The freshness of every provider and the data version (two requests, in parallel). The runs index
 * not existing yet means no run; any other failure is thrown.
 */
export async function readFreshness(
  client: Client,
  names: IndexNames,
  opts: { requestTimeoutMs?: number } = {},
): Promise<Freshness> {
  const [perProvider, change] = await Promise.all([
    latestSuccessPerProvider(client, names.prefix, opts),
    latestDataChange(client, names.prefix, opts),
  ]);
  const providers = perProvider.map((p) => ({
    provider: p.provider,
    lastSuccess: successOf(p.latestSuccess),
  }));
  const newest = providers.reduce<SuccessfulRun | null>((n, p) => newer(n, p.lastSuccess), null);
  return { newest: newest && { ...newest, dataVersion: versionOf(change) }, providers };
}
