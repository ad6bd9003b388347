// Part of `make run` (scripts/run-local.sh): waits for the first ingest run that finishes after
// SINCE (an ISO time), then says on stderr how it went and how many events the index holds
// (`_count` on the events alias). Until then searches return nothing, and a person wonders why.
// A failed first run is reported, and the watch goes on until a run succeeds.
//
//   ELASTICSEARCH_URL=... ES_INDEX_PREFIX=events SINCE=2026-01-01T00:00:00.000Z node first-ingest.mjs
/* global fetch, AbortSignal */
import { Buffer } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';

const url = process.env.ELASTICSEARCH_URL.replace(/\/+$/, '');
const prefix = process.env.ES_INDEX_PREFIX || 'events';
const since = process.env.SINCE;
const pollMs = Number(process.env.FIRST_INGEST_POLL_MS || 500);
const headers = { 'content-type': 'application/json' };
if (process.env.ES_API_KEY) headers.authorization = `ApiKey ${process.env.ES_API_KEY}`;
else if (process.env.ES_USERNAME)
  headers.authorization = `Basic ${Buffer.from(`${process.env.ES_USERNAME}:${process.env.ES_PASSWORD ?? ''}`).toString('base64')}`;

const say = (line) => process.stderr.write(`\x1b[1m[run]\x1b[0m ${line}\n`);

async function es(path, body) {
  const res = await fetch(`${url}${path}`, {
    method: body ? 'POST' : 'GET',
    headers,
    body: body && JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

const reported = new Set();
for (;;) {
  try {
    const runs = await es(`/${prefix}-runs/_search`, {
      size: 10,
      sort: [{ finished_at: 'asc' }],
      query: { range: { finished_at: { gte: since } } },
      _source: ['run_id', 'outcome', 'error'],
    });
    for (const hit of runs.hits.hits) {
      const run = hit._source;
      if (reported.has(run.run_id)) continue;
      reported.add(run.run_id);
      if (run.outcome === 'succeeded') {
        const { count } = await es(`/${prefix}-events/_count`);
        say(
          `first ingest run finished: the index holds ${count} events; /search answers with them now`,
        );
        process.exit(0);
      }
      say(
        `an ingest run ${run.outcome}${run.error ? `: ${String(run.error).slice(0, 200)}` : ''}; searches find nothing until a run succeeds (its log is above)`,
      );
    }
  } catch {
    // The runs index or Elasticsearch not there yet: keep watching.
  }
  await sleep(pollMs);
}
