/**
 * The ingester's run records in `<prefix>-runs`: written as `running` when a run starts and
 * overwritten with its outcome when it ends (read back through src/store/runs.ts).
 */
import type { Client } from '../store/client.js';
import { indexNames, type RunDocument } from '../store/indices.js';

export interface RunStore {
  /** Records a run (a new one, or the final state of one already recorded). */
  save(run: RunDocument): Promise<void>;
}

export function createRunStore(client: Client, prefix: string): RunStore {
  const index = indexNames(prefix).runsIndex;
  return {
    async save(run) {
      // A tiny, rarely written index: refresh at once so readers see the outcome immediately.
      await client.index({ index, id: run.run_id, document: run, refresh: true });
    },
  };
}

/** The counts of a run that has not read anything yet. */
export function emptyRunCounts(): RunDocument['counts'] {
  return {
    base_events_read: 0,
    events_read: 0,
    events_upserted: 0,
    events_rejected: 0,
    bulk_failures: 0,
    rejected_by_reason: {},
    duplicates: 0,
  };
}
