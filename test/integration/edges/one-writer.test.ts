/**
 * Issue 16, item 5: one writer at a time. An ingest job takes a lease in Elasticsearch (a
 * create-only document with an expiry) before it reads the feed; a second job exits with
 * EXIT_LEASE_HELD (3) and writes nothing; the lease is released on a normal end and on SIGTERM
 * (the job's abort signal); a crashed run's expired lease is taken over, by exactly one of two
 * runs trying at once (docs/adr/0003-*.md).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ingestEnv, parseEnv } from '../../../src/config.js';
import { createIngestJob } from '../../../src/ingest/job.js';
import {
  acquireLease,
  EXIT_LEASE_HELD,
  leaseIdOf,
  LeaseHeldError,
  type LeaseDocument,
} from '../../../src/ingest/lease.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { getRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { memoryLogger } from '../ingest/support.js';
import { bootstrap, feedXml } from './support.js';

const env = testStoreEnv('edge-lease');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let names: IndexNames;

const FEED = feedXml([{ base: 'one', start: '2022-10-01T20:00:00', end: '2022-10-01T22:00:00' }]);

/**
 * The provider: while `hold` is set, a request gets the headers and the first bytes, then waits
 * (the run holding the lease is mid-read); otherwise the whole feed.
 */
let hold: ((res: ServerResponse) => void) | null = null;
let server: Server;
let providerUrl: string;

beforeAll(async () => {
  names = await bootstrap(client, prefix);
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/xml' });
    if (hold) {
      res.write(FEED.slice(0, 60));
      hold(res);
    } else {
      res.end(FEED);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  providerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await dropPrefix(client, prefix);
  await client.close();
});

function job(logger = memoryLogger().logger, signal?: AbortSignal) {
  const jobEnv = parseEnv(ingestEnv, {
    ...process.env,
    ES_INDEX_PREFIX: prefix,
    PROVIDER_URL: providerUrl,
    PROVIDER_RETRIES: '0',
  });
  return createIngestJob(jobEnv, { logger, signal });
}

async function leaseDocument(): Promise<LeaseDocument | null> {
  const res = await client.get<LeaseDocument>(
    { index: names.leaseIndex, id: leaseIdOf('primary') },
    { ignore: [404] },
  );
  return res.found ? (res._source ?? null) : null;
}

describe('one writer at a time', () => {
  it('a second run exits with the lease code while the first holds it; SIGTERM releases it', async () => {
    const reading = new Promise<ServerResponse>((resolve) => (hold = resolve));
    const cancel = new AbortController();
    const first = job(memoryLogger().logger, cancel.signal).run();
    const held = await reading; // the first run holds the lease and is reading the feed
    hold = null;
    const holder = await leaseDocument();
    expect(holder).toMatchObject({ provider: 'primary', holder: expect.any(String) });

    const { logger, lines } = memoryLogger();
    expect(await job(logger).run()).toBe(EXIT_LEASE_HELD);
    const refusal = lines.find((l) => l.phase === 'lease');
    expect(refusal).toMatchObject({
      level: 'error',
      outcome: 'lease_held',
      holder: holder?.holder,
      exit_code: 3,
      msg: expect.stringMatching(
        /another ingest run \(.+\) holds the ingest lease until .+; this run writes nothing and exits \(code 3\)/,
      ),
    });
    // It recorded no run and started no feed read.
    expect(lines.map((l) => l.phase)).not.toContain('run_started');

    // SIGTERM (the entry point aborts the job's signal): the run fails and releases the lease.
    cancel.abort(new Error('received SIGTERM'));
    expect(await first).toBe(1);
    held.destroy();
    expect(await getRun(client, prefix, holder?.holder ?? '')).toMatchObject({ outcome: 'failed' });
    expect(await leaseDocument()).toBeNull();

    // The next run takes it, and releases it at its normal end.
    expect(await job().run()).toBe(0);
    expect(await leaseDocument()).toBeNull();
  }, 60_000);

  it("a crashed run's expired lease is taken over by exactly one of two runs", async () => {
    const ttlMs = 60_000;
    const longAgo = () => new Date(Date.now() - 10 * ttlMs);
    const base = { client, index: names.leaseIndex, provider: 'primary', ttlMs };
    // A run that took the lease and crashed: its expiry passed long ago, nothing renews it.
    const crashed = await acquireLease({ ...base, runId: 'crashed-run', now: longAgo });
    expect(await leaseDocument()).toMatchObject({ holder: 'crashed-run' });

    const takeovers = await Promise.allSettled([
      acquireLease({ ...base, runId: 'taker-1' }),
      acquireLease({ ...base, runId: 'taker-2' }),
    ]);
    const won = takeovers.filter((t) => t.status === 'fulfilled');
    const lost = takeovers.filter((t) => t.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseHeldError);
    const winner = (await leaseDocument())?.holder;
    expect(['taker-1', 'taker-2']).toContain(winner);

    // The crashed holder, were it alive after all, learns at its next renewal that it lost.
    await expect(crashed.renew()).rejects.toThrow();
    expect(crashed.lost.aborted).toBe(true);
    for (const t of won)
      await (t as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLease>>>).value.release();
    expect(await leaseDocument()).toBeNull();

    // A job meeting an expired lease takes it over, says so, runs and releases it.
    await acquireLease({ ...base, runId: 'crashed-again', now: longAgo });
    const { logger, lines } = memoryLogger();
    expect(await job(logger).run()).toBe(0);
    expect(lines.find((l) => l.phase === 'lease')).toMatchObject({
      level: 'warn',
      expired_holder: 'crashed-again',
      msg: expect.stringContaining('took over the ingest lease of run crashed-again'),
    });
    expect(await leaseDocument()).toBeNull();
  }, 60_000);

  it('renewals asked for at once (a slow Elasticsearch, a busy run) are one, not a takeover', async () => {
    const lease = await acquireLease({
      client,
      index: names.leaseIndex,
      provider: 'primary',
      runId: 'busy-run',
      ttlMs: 60_000,
    });
    const before = await leaseDocument();
    await Promise.all([lease.renew(), lease.renew(), lease.renew()]);
    expect(lease.lost.aborted).toBe(false);
    await lease.renew();
    expect(lease.lost.aborted).toBe(false);
    expect(await leaseDocument()).toMatchObject({ holder: 'busy-run' });
    expect((await leaseDocument())?.renewed_at).not.toBe(before?.renewed_at);
    await lease.release();
    expect(await leaseDocument()).toBeNull();
  });

  it('runs of two providers hold their own leases at once (their events are disjoint)', async () => {
    const base = { client, index: names.leaseIndex, ttlMs: 60_000 };
    const primary = await acquireLease({ ...base, provider: 'primary', runId: 'primary-run' });
    const other = await acquireLease({ ...base, provider: 'other', runId: 'other-run' });
    // A second run of either provider still meets its provider's lease.
    await expect(
      acquireLease({ ...base, provider: 'other', runId: 'other-again' }),
    ).rejects.toBeInstanceOf(LeaseHeldError);
    await primary.release();
    await other.release();
    expect(await leaseDocument()).toBeNull();
  }, 60_000);
});
