import { afterAll, describe, expect, it } from '@jest/globals';
import { bootstrapIndices, type RunDocument } from '../../../src/store/indices.js';
import { createRunStore } from '../../../src/ingest/run-store.js';
import { getRun, latestSuccessfulRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';

const env = testStoreEnv('runs');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

function run(
  id: string,
  outcome: RunDocument['outcome'],
  finished: string | null,
  provider = 'primary',
): RunDocument {
  return {
    run_id: id,
    provider,
    provider_url: 'http://provider.test/feed',
    started_at: '2024-01-01T00:00:00.000Z',
    finished_at: finished,
    duration_ms: finished ? 1000 : null,
    outcome,
    error: outcome === 'failed' ? 'boom' : null,
    counts: {
      base_events_read: 1,
      events_read: 1,
      events_upserted: 1,
      events_rejected: 0,
      bulk_failures: 0,
      rejected_by_reason: {},
    },
  };
}

describe('run records', () => {
  it('latestSuccessfulRun is null before the runs index exists', async () => {
    expect(await latestSuccessfulRun(client, prefix)).toBeNull();
  });

  it('finds the newest succeeded run, ignoring failed and running ones', async () => {
    await bootstrapIndices(client, prefix);
    const store = createRunStore(client, prefix);
    expect(await latestSuccessfulRun(client, prefix)).toBeNull();
    await store.save(run('r1', 'succeeded', '2024-01-01T00:01:00.000Z'));
    await store.save(run('r2', 'succeeded', '2024-01-01T00:03:00.000Z'));
    await store.save(run('r3', 'failed', '2024-01-01T00:05:00.000Z'));
    await store.save(run('r4', 'running', null));
    await store.save(run('o1', 'succeeded', '2024-01-01T00:09:00.000Z', 'other'));
    expect((await latestSuccessfulRun(client, prefix))?.run_id).toBe('o1');
    expect((await latestSuccessfulRun(client, prefix, 'primary'))?.run_id).toBe('r2');
    expect(await latestSuccessfulRun(client, prefix, 'nobody')).toBeNull();
  });

  it('a run saved again (its end) replaces its start', async () => {
    const store = createRunStore(client, prefix);
    await store.save(run('r5', 'running', null));
    expect((await getRun(client, prefix, 'r5'))?.outcome).toBe('running');
    await store.save(run('r5', 'succeeded', '2024-01-02T00:00:00.000Z'));
    expect(await getRun(client, prefix, 'r5')).toEqual(
      run('r5', 'succeeded', '2024-01-02T00:00:00.000Z'),
    );
    expect((await latestSuccessfulRun(client, prefix, 'primary'))?.run_id).toBe('r5');
    expect(await getRun(client, prefix, 'missing')).toBeNull();
  });
});
