/**
 * Reading the ingest run records in `<prefix>-runs` (one document per run, id = run id; the
 * ingester writes them through src/ingest/run-store.ts). The API polls `latestSuccessfulRun` to
 * tell how fresh its data is.
 */
import type { Client } from './client.js';
import { isIndexNotFound } from './errors.js';
import { indexNames, type RunDocument } from './indices.js';

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
  const filter: object[] = [
    { term: { outcome: 'succeeded' } },
    { exists: { field: 'finished_at' } },
  ];
  if (provider !== undefined) filter.push({ term: { provider } });
  try {
    const res = await client.search<RunDocument>(
      {
        index: indexNames(prefix).runsIndex,
        size: 1,
        query: { bool: { filter } },
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
