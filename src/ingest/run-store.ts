/**
 * The ingester's run records in `<prefix>-runs`: written as `running` when a run starts and
 * overwritten with its outcome when it ends (read back through src/store/runs.ts).
 */
import type { Client } from '../store/client.js';
import { isIndexNotFound } from '../store/errors.js';
import { indexNames, type RunDocument } from '../store/indices.js';

export interface RunStore {
  /** Records a run (a new one, or the final state of one already recorded). */
  save(run: RunDocument): Promise<void>;
  /**
   * The run of `provider` that started last before the run `runId`, whatever its outcome (one that
   * never recorded its end included), or null when there is none.
   */
  previous?(provider: string, runId: string): Promise<RunDocument | null>;
}

export function createRunStore(client: Client, prefix: string): RunStore {
  const index = indexNames(prefix).runsIndex;
  return {
    async save(run) {
      // A tiny, rarely written index: refresh at once so readers see the outcome immediately.
      await client.index({ index, id: run.run_id, document: run, refresh: true });
    },
    async previous(provider, runId) {
      try {
        const res = await client.search<RunDocument>({
          index,
          size: 1,
          query: {
            bool: { filter: [{ term: { provider } }], must_not: [{ ids: { values: [runId] } }] },
          },
          sort: [{ started_at: { order: 'desc' } }, { run_id: { order: 'desc' } }],
          track_total_hits: false,
        });
        return res.hits.hits[0]?._source ?? null;
      } catch (err) {
        if (isIndexNotFound(err)) return null;
        throw err;
      }
    },
  };
}

/** The counts of a run that has not read anything yet. */
export function emptyRunCounts(): RunDocument['counts'] {
  return {
    base_events_read: 0,
    events_read: 0,
    events_upserted: 0,
    items_changed: 0,
    events_rejected: 0,
    bulk_failures: 0,
    rejected_by_reason: {},
    duplicates: 0,
  };
}

/** What an operator's command changed in the events (`recordMaintenance`). */
export interface Maintenance {
  runId: string;
  provider: string;
  startedAt: Date;
  /** Documents written or deleted. */
  changed: number;
  /** Writes or deletions Elasticsearch refused. */
  failed: number;
  /** Why the command failed, if it did. */
  error: string | null;
}

/**
 * Records a command that changed stored events outside an ingest run (`rezone-provider`,
 * `retire-provider`) as a run with outcome `maintenance` (its `error` says when it failed part
 * way): with items changed it moves the data version (docs/adr/0013-*.md), so every API replica
 * drops its cached answers; it is neither a success of the provider nor makes the provider known
 * to the freshness read (src/store/runs.ts).
 */
export async function recordMaintenance(
  store: RunStore,
  change: Maintenance,
): Promise<RunDocument> {
  const finishedAt = new Date();
  const record: RunDocument = {
    run_id: change.runId,
    provider: change.provider,
    provider_url: '',
    started_at: change.startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    duration_ms: finishedAt.getTime() - change.startedAt.getTime(),
    outcome: 'maintenance',
    error: change.error,
    counts: { ...emptyRunCounts(), items_changed: change.changed, bulk_failures: change.failed },
  };
  await store.save(record);
  return record;
}
