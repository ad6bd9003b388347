/**
 * The events migration (src/ingest/migrate-events.ts, docs/adr/0015-events-migration.md) against a
 * real Elasticsearch: an earlier release's index (written by the real writer at mapping version 2
 * or 1) is copied into the current version with each provider's zone and the alias swapped;
 * running it again does nothing; a provider without a zone, a crash before the swap or a lease
 * that stays held leave the alias on the old index; an ingest run holding a lease is waited for
 * and what it wrote is copied; no ingest run can take a lease during the copy.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import type { RawEvent } from '../../../src/domain/event.js';
import { acquireLease, LeaseHeldError } from '../../../src/ingest/lease.js';
import type { Client } from '../../../src/store/client.js';
import {
  EVENTS_MAPPING_VERSION,
  indexNames,
  type EventDocument,
} from '../../../src/store/indices.js';
import { upgradedDocument } from '../../../src/store/event-document.js';
import { migrateEvents, MigrationError } from '../../../src/ingest/migrate-events.js';
import { retireProvider } from '../../../src/ingest/retire-provider.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import {
  RAW_291,
  RAW_322,
  RAW_1591,
  RAW_444,
  seedEarlierVersion,
  writeRawEvents,
} from '../../support/seed.js';
import { buildApi } from '../api/api-fixture.js';

const env = testStoreEnv('migrate');
const client: Client = testClient(env);
let run = 0;
const prefixes: string[] = [];

afterAll(async () => {
  for (const prefix of prefixes) await dropPrefix(client, prefix);
  await client.close();
});

const ZONES = new Map([
  ['primary', 'Europe/Madrid'],
  ['second', 'America/New_York'],
]);
/** Only ever rejected (no dates that normalise): stored without a period. */
const REJECTED: RawEvent = { ...RAW_291, base_event_id: '7001', event_start_date: 'soon' };

function freshPrefix(): string {
  const prefix = `${env.ES_INDEX_PREFIX}-${run++}`;
  prefixes.push(prefix);
  return prefix;
}

async function earlier(version = 2): Promise<string> {
  const prefix = freshPrefix();
  await seedEarlierVersion(client, prefix, version, {
    primary: [RAW_291, RAW_322, RAW_1591, RAW_444, REJECTED],
    second: [RAW_291, RAW_1591],
  });
  return prefix;
}

async function aliasTargets(prefix: string): Promise<string[]> {
  return Object.keys(await client.indices.getAlias({ name: indexNames(prefix).eventsAlias }));
}

async function documents(index: string): Promise<Map<string, EventDocument>> {
  await client.indices.refresh({ index });
  const res = await client.search<EventDocument>({ index, size: 1_000 });
  return new Map(res.hits.hits.map((h) => [h._id ?? '', h._source as EventDocument]));
}

const options = (prefix: string) => ({ client, prefix, zones: ZONES, leasePollMs: 20 });

describe('migrateEvents', () => {
  it.each([2, 1])(
    'copies a v%i index into the current version with each provider zone, then swaps the alias',
    async (version) => {
      const prefix = await earlier(version);
      const old = indexNames(prefix, version).eventsIndex;
      const api = buildApi({ names: indexNames(prefix), env: { CACHE_MAX_ENTRIES: '0' } });
      const wall = '/search?starts_at=2021-02-01T00:00:00&ends_at=2022-07-03T00:00:00';
      const before = await api.http.get(wall);
      expect(before.status).toBe(200);
      // This release's API on the old index: answers, and finds nothing by instant (no instants).
      const instantWindow = '/search?starts_at=2021-06-30T19:00:00Z&ends_at=2021-06-30T19:30:00Z';
      const early = await api.http.get(instantWindow);
      expect({ status: early.status, events: early.body.data.events }).toEqual({
        status: 200,
        events: [],
      });

      const result = await migrateEvents(options(prefix));
      const current = indexNames(prefix).eventsIndex;
      expect(result).toEqual({ outcome: 'migrated', from: [old], to: current, copied: 7 });
      expect(await aliasTargets(prefix)).toEqual([current]);

      // Every document as the mapper upgrades it, the old index untouched (a rollback is a swap).
      const copied = await documents(current);
      const original = await documents(old);
      expect(copied.size).toBe(original.size);
      for (const [id, doc] of original) {
        expect(doc).not.toHaveProperty('instants');
        expect(copied.get(id)).toEqual(upgradedDocument(doc, ZONES.get(doc.provider) ?? ''));
      }
      const madrid291 = [...copied.values()].find(
        (d) => d.provider === 'primary' && d.base_event_id === '291',
      );
      expect(madrid291).toMatchObject({
        timezone: 'Europe/Madrid',
        instants: {
          gte: Date.parse('2021-06-30T19:00:00Z'),
          lte: Date.parse('2021-06-30T19:30:00Z'),
        },
      });
      expect([...copied.values()].find((d) => d.base_event_id === '7001')).not.toHaveProperty(
        'instants',
      );
      // The response object becomes the ready-made JSON a run writes today (ADR 0017).
      expect(madrid291).not.toHaveProperty('summary');
      expect(JSON.parse(madrid291?.summary_json ?? 'null')).toEqual(
        original.get(madrid291?.id ?? '')?.summary,
      );
      expect(original.get(madrid291?.id ?? '')?.summary).toMatchObject({ start_time: '21:00:00' });

      // The same events for wall-clock windows (now ordered by start instant: Madrid's 21:00 comes
      // before New York's); instants now compared in each provider's zone.
      const after = await api.http.get(wall);
      expect(after.status).toBe(200);
      const byId = (body: { data: { events: { id: string }[] } }) =>
        [...body.data.events].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(byId(after.body)).toEqual(byId(before.body));
      expect(after.body.data.events).toHaveLength(5);
      const instants = await api.http.get(instantWindow);
      expect(instants.body.data.events.map((e: { title: string }) => e.title)).toEqual([
        'Camela en concierto',
      ]);
    },
  );

  it('does nothing the second time (and on a fresh layout)', async () => {
    const prefix = await earlier();
    await migrateEvents(options(prefix));
    const current = indexNames(prefix).eventsIndex;
    const docs = await documents(current);
    expect(await migrateEvents(options(prefix))).toEqual({
      outcome: 'current',
      from: [current],
      to: current,
      copied: 0,
    });
    expect(await documents(current)).toEqual(docs);

    const fresh = freshPrefix();
    expect(await migrateEvents({ client, prefix: fresh, zones: new Map() })).toMatchObject({
      outcome: 'current',
      to: indexNames(fresh).eventsIndex,
    });
  });

  it('refuses, changing nothing, when a provider of the old index has no zone', async () => {
    const prefix = await earlier();
    const zones = new Map([['primary', 'Europe/Madrid']]);
    await expect(migrateEvents({ client, prefix, zones })).rejects.toThrow(
      /no time zone for provider\(s\) second .*MIGRATE_PROVIDER_TIMEZONES/,
    );
    expect(await aliasTargets(prefix)).toEqual([indexNames(prefix, 2).eventsIndex]);
    expect((await documents(indexNames(prefix).eventsIndex)).size).toBe(0);
  });

  it('leaves the alias on the old index when it stops before the swap; the next run finishes', async () => {
    const prefix = await earlier();
    await expect(
      migrateEvents({
        ...options(prefix),
        beforeSwap: () => Promise.reject(new Error('killed before the swap')),
      }),
    ).rejects.toThrow('killed before the swap');
    expect(await aliasTargets(prefix)).toEqual([indexNames(prefix, 2).eventsIndex]);
    // The leases were released: an ingest run could go on writing the old index meanwhile.
    await writeRawEvents(client, indexNames(prefix, 2), [{ ...RAW_322, base_event_id: '8001' }], {
      mappingVersion: 2,
    });
    // ...and an operator may retire a provider (its events leave the old index, behind the alias).
    const old = indexNames(prefix, 2).eventsIndex;
    expect(await retireProvider(client, prefix, 'second', { dryRun: false })).toMatchObject({
      events: 2,
    });
    const result = await migrateEvents(options(prefix));
    // The new index is rebuilt from scratch: exactly what the old one holds now.
    expect(result).toMatchObject({ outcome: 'migrated', copied: 6 });
    const copied = await documents(indexNames(prefix).eventsIndex);
    expect([...copied.keys()].sort()).toEqual([...(await documents(old)).keys()].sort());
  });

  it('holds every provider lease during the copy: an ingest run cannot start', async () => {
    const prefix = await earlier();
    const names = indexNames(prefix);
    let refused: unknown;
    await migrateEvents({
      ...options(prefix),
      beforeSwap: async () => {
        refused = await acquireLease({
          client,
          index: names.leaseIndex,
          runId: 'an-ingest-run',
          provider: 'second',
          ttlMs: 60_000,
        }).catch((err: unknown) => err);
      },
    });
    expect(refused).toBeInstanceOf(LeaseHeldError);
    // Released after the swap.
    const lease = await acquireLease({
      client,
      index: names.leaseIndex,
      runId: 'the-next-run',
      provider: 'second',
      ttlMs: 60_000,
    });
    await lease.release();
  });

  it('needs no zone for a provider with no dated event, but holds its lease too', async () => {
    const prefix = freshPrefix();
    await seedEarlierVersion(client, prefix, 2, { primary: [RAW_291], ghost: [REJECTED] });
    let refused: unknown;
    const result = await migrateEvents({
      client,
      prefix,
      zones: new Map([['primary', 'Europe/Madrid']]),
      beforeSwap: async () => {
        refused = await acquireLease({
          client,
          index: indexNames(prefix).leaseIndex,
          runId: 'a-ghost-run',
          provider: 'ghost',
          ttlMs: 60_000,
        }).catch((err: unknown) => err);
      },
    });
    expect(result).toMatchObject({ outcome: 'migrated', copied: 2 });
    expect(refused).toBeInstanceOf(LeaseHeldError);
  });

  it('waits for an ingest run that holds a lease, and copies what it wrote', async () => {
    const prefix = await earlier();
    const names = indexNames(prefix);
    const running = await acquireLease({
      client,
      index: names.leaseIndex,
      runId: 'a-running-ingest',
      provider: 'primary',
      ttlMs: 60_000,
    });
    let waiting!: () => void;
    const isWaiting = new Promise<void>((resolve) => (waiting = resolve));
    const migration = migrateEvents({
      ...options(prefix),
      log: (phase) => {
        if (phase === 'lease') waiting();
      },
    });
    await isWaiting;
    // The running ingest writes one more event into the old index, then ends.
    const late: RawEvent = { ...RAW_1591, base_event_id: '9001', title: 'Written while waiting' };
    await writeRawEvents(client, indexNames(prefix, 2), [late], { mappingVersion: 2 });
    await running.release();
    const result = await migration;
    expect(result).toMatchObject({ outcome: 'migrated', copied: 8 });
    const titles = [...(await documents(names.eventsIndex)).values()].map((d) => d.title);
    expect(titles).toContain('Written while waiting');
  });

  it('gives up, changing nothing, when a lease stays held past the wait', async () => {
    const prefix = await earlier();
    const names = indexNames(prefix);
    const running = await acquireLease({
      client,
      index: names.leaseIndex,
      runId: 'a-long-ingest',
      provider: 'second',
      ttlMs: 60_000,
    });
    try {
      const failure = await migrateEvents({ ...options(prefix), leaseWaitMs: 0 }).catch(
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(MigrationError);
      expect(String(failure)).toMatch(/lease of provider second is still held by a-long-ingest/);
      expect(await aliasTargets(prefix)).toEqual([indexNames(prefix, 2).eventsIndex]);
      // The lease of the other provider, taken first, was given back.
      const other = await acquireLease({
        client,
        index: names.leaseIndex,
        runId: 'primary-run',
        provider: 'primary',
        ttlMs: 60_000,
      });
      await other.release();
    } finally {
      await running.release();
    }
  });

  it('is for mapping version 3', () => {
    expect(EVENTS_MAPPING_VERSION).toBe(3);
  });
});
