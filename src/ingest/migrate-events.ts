/**
 * The events migration (`npm run migrate`, docs/adr/0015-events-migration.md): fills the events
 * index of this code's mapping version from the index the alias points at (any earlier version),
 * then swaps the alias in one `_aliases` call, so the API answers throughout and never sees a
 * half-built index.
 *
 * - Scroll and bulk (the local distribution has no reindex module, hence no `_reindex`), each
 *   document turned into the current version's by the document mapper (`upgradedDocument`), its
 *   instants computed with its provider's zone: earlier versions did not store one, so the zones
 *   come from the configuration, and a provider of the old index without one fails the migration
 *   before anything is copied.
 * - No ingest run writes during the copy: the migration holds every provider's ingest lease
 *   (src/ingest/lease.ts), waiting for a run that holds one to finish. After the swap, runs of the
 *   earlier release refuse to start (their `checkIndices` wants the alias on their version).
 * - Idempotent and resumable: with the alias already on the current version it does nothing; an
 *   attempt that stopped before the swap left the alias on the old index, and the next attempt
 *   rebuilds the new index from scratch (it is not served, nobody else writes it).
 */
import { randomUUID } from 'node:crypto';
import type { estypes } from '@elastic/elasticsearch';
import { acquireLease, LeaseHeldError, type Lease } from './lease.js';
import type { Client } from '../store/client.js';
import { upgradedDocument } from '../store/event-document.js';
import { bootstrapIndices, type BootstrapOptions, type EventDocument } from '../store/indices.js';

/** A migration that cannot be done as configured; the alias stays where it was. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/** What the migration reports as it goes (the entry point's logger). */
export type MigrationLog = (
  phase: string,
  fields: Record<string, unknown>,
  message: string,
) => void;

export interface MigrateOptions {
  client: Client;
  prefix: string;
  /** IANA zone of each provider's wall-clock times (`MIGRATE_PROVIDER_TIMEZONES`). */
  zones: ReadonlyMap<string, string>;
  /** Settings the bootstrap applies (the migration bootstraps first). */
  bootstrap?: BootstrapOptions;
  /** TTL of the ingest leases the migration holds (default 60 s, as INGEST_LEASE_TTL_MS). */
  leaseTtlMs?: number;
  /** How long to wait for an ingest run holding a lease to finish (default 240 s). */
  leaseWaitMs?: number;
  /** Between two tries of a held lease (default 1 s). */
  leasePollMs?: number;
  /** Documents per scroll page and bulk request (default 1000). */
  batchSize?: number;
  log?: MigrationLog;
  /** Called with the leases held, after the copy and before the swap (tests). */
  beforeSwap?: () => Promise<void>;
}

export interface MigrateResult {
  /** `migrated`: copied and swapped; `current`: the alias was on the current version already. */
  outcome: 'migrated' | 'current';
  /** The indices the alias pointed at before. */
  from: string[];
  to: string;
  copied: number;
}

const noLog: MigrationLog = () => undefined;

/** The concrete indices the alias points at (none when it does not exist). */
async function aliasTargets(client: Client, alias: string): Promise<string[]> {
  const res = await client.indices.getAlias({ name: alias }, { ignore: [404] });
  return Object.keys(res).filter((key) => key !== 'error' && key !== 'status');
}

/**
 * The providers of the events in `indices`; `dated`: only of events with a period (the documents
 * that need a zone).
 */
async function providersIn(client: Client, indices: string[], dated = true): Promise<string[]> {
  const res = await client.search({
    index: indices,
    size: 0,
    query: dated ? { exists: { field: 'period' } } : { match_all: {} },
    aggs: { providers: { terms: { field: 'provider', size: 10_000 } } },
  });
  const agg = res.aggregations?.providers as estypes.AggregationsStringTermsAggregate | undefined;
  const buckets = (agg?.buckets ?? []) as estypes.AggregationsStringTermsBucket[];
  return buckets.map((b) => String(b.key)).sort();
}

/** Every provider's lease, waiting up to `waitMs` for runs that hold one; all or none. */
async function takeLeases(
  client: Client,
  index: string,
  providers: string[],
  opts: { ttlMs: number; waitMs: number; pollMs: number; log: MigrationLog },
): Promise<Lease[]> {
  const runId = `migrate-${randomUUID()}`;
  const held: Lease[] = [];
  const deadline = Date.now() + opts.waitMs;
  try {
    for (const provider of providers) {
      for (;;) {
        try {
          held.push(await acquireLease({ client, index, runId, provider, ttlMs: opts.ttlMs }));
          break;
        } catch (err) {
          if (!(err instanceof LeaseHeldError)) throw err;
          if (Date.now() >= deadline) {
            throw new MigrationError(
              `the ingest lease of provider ${provider} is still held by ${err.holder} (until ${err.expiresAt}) after waiting ${opts.waitMs} ms; nothing was changed, run the migration again once that run ended (or suspend the provider's CronJob)`,
            );
          }
          opts.log(
            'lease',
            { provider, holder: err.holder },
            `waiting for ingest run ${err.holder} of ${provider} to end`,
          );
          await new Promise((resolve) => setTimeout(resolve, opts.pollMs));
        }
      }
    }
    return held;
  } catch (err) {
    await Promise.all(held.map((lease) => lease.release()));
    throw err;
  }
}

/** Every document of `indices`, as stored, in pages. */
async function* documentsOf(
  client: Client,
  indices: string[],
  size: number,
): AsyncGenerator<EventDocument> {
  const scroll = client.helpers.scrollSearch<EventDocument>({
    index: indices,
    size,
    sort: ['_doc'],
  });
  for await (const page of scroll) {
    for (const hit of page.body.hits.hits) if (hit._source) yield hit._source;
  }
}

/** Empties `index` (deletes and creates it again: its template gives it the current mappings). */
async function recreate(client: Client, index: string): Promise<void> {
  await client.indices.delete({ index }, { ignore: [404] });
  await client.indices.create({ index, wait_for_active_shards: 1 });
}

/**
 * Migrates the events under `prefix` to `EVENTS_MAPPING_VERSION` (see the module comment).
 * Rejects with `MigrationError` (or Elasticsearch's error) leaving the alias where it was.
 */
export async function migrateEvents(opts: MigrateOptions): Promise<MigrateResult> {
  const { client, prefix, zones } = opts;
  const log = opts.log ?? noLog;
  // Templates of this version, its (empty) index, and the alias on it when there was none.
  const names = await bootstrapIndices(client, prefix, opts.bootstrap);
  const target = names.eventsIndex;
  const targets = await aliasTargets(client, names.eventsAlias);
  if (targets.length === 1 && targets[0] === target) {
    log(
      'current',
      { alias: names.eventsAlias, index: target },
      `${names.eventsAlias} is on ${target} already`,
    );
    return { outcome: 'current', from: targets, to: target, copied: 0 };
  }
  const sources = targets.filter((index) => index !== target);
  if (sources.length !== targets.length) {
    throw new MigrationError(
      `${names.eventsAlias} points at ${targets.join(', ')}: both ${target} and an older index; point it at one of them by hand (docs/runbook.md)`,
    );
  }

  const unknown = (await providersIn(client, sources)).filter((p) => !zones.has(p));
  if (unknown.length > 0) {
    throw new MigrationError(
      `no time zone for provider(s) ${unknown.join(', ')} of ${sources.join(', ')}: give each one in MIGRATE_PROVIDER_TIMEZONES (name=Zone, comma-separated); nothing was changed`,
    );
  }
  log(
    'start',
    { from: sources, to: target, zones: Object.fromEntries(zones) },
    `migrating ${sources.join(', ')} to ${target}`,
  );

  // Every provider that may write: the configured ones and any other the old index knows of.
  const writers = new Set([...zones.keys(), ...(await providersIn(client, sources, false))]);
  const leases = await takeLeases(client, names.leaseIndex, [...writers].sort(), {
    ttlMs: opts.leaseTtlMs ?? 60_000,
    waitMs: opts.leaseWaitMs ?? 240_000,
    pollMs: opts.leasePollMs ?? 1_000,
    log,
  });
  try {
    // A run that ended while we waited may have written a provider's first events.
    const late = (await providersIn(client, sources)).filter((p) => !zones.has(p));
    if (late.length > 0) {
      throw new MigrationError(
        `no time zone for provider(s) ${late.join(', ')}; nothing was changed`,
      );
    }
    await recreate(client, target);
    const copied = await copy(client, sources, target, zones, opts.batchSize ?? 1_000);
    await client.indices.refresh({ index: target });
    const [before, after] = await Promise.all([
      client.count({ index: sources }),
      client.count({ index: target }),
    ]);
    if (before.count !== after.count || copied !== before.count) {
      throw new MigrationError(
        `copied ${copied} documents, ${sources.join(', ')} holds ${before.count} and ${target} ${after.count}; the alias was not moved`,
      );
    }
    await opts.beforeSwap?.();
    const lost = leases.find((lease) => lease.lost.aborted);
    if (lost) {
      throw new MigrationError(
        `an ingest lease was lost during the copy (${String(lost.lost.reason)}); the alias was not moved`,
      );
    }
    // One call: the alias moves from the old index to the new one at once.
    await client.indices.updateAliases({
      actions: [
        ...sources.map((index) => ({ remove: { index, alias: names.eventsAlias } })),
        { add: { index: target, alias: names.eventsAlias, is_write_index: true } },
      ],
    });
    log(
      'swapped',
      { from: sources, to: target, copied },
      `${names.eventsAlias} now points at ${target} (${copied} documents)`,
    );
    return { outcome: 'migrated', from: sources, to: target, copied };
  } finally {
    await Promise.all(leases.map((lease) => lease.release()));
  }
}

/** The zone of a document's provider; providers without one were refused before the copy. */
function zoneOf(doc: EventDocument, zones: ReadonlyMap<string, string>): string {
  const zone = zones.get(doc.provider);
  if (zone !== undefined || !doc.period) return zone ?? 'UTC';
  throw new MigrationError(`no time zone for provider ${doc.provider} (event ${doc.id})`);
}

/** Copies every document of `sources` into `target`, upgraded; the number copied. */
async function copy(
  client: Client,
  sources: string[],
  target: string,
  zones: ReadonlyMap<string, string>,
  size: number,
): Promise<number> {
  const failures: string[] = [];
  const stats = await client.helpers.bulk<EventDocument>({
    datasource: documentsOf(client, sources, size),
    flushBytes: 2_000_000,
    onDocument: (doc) => [
      { index: { _index: target, _id: doc.id } },
      upgradedDocument(doc, zoneOf(doc, zones)),
    ],
    onDrop: (drop) => {
      if (failures.length < 5)
        failures.push(`${drop.document.id}: ${drop.error?.reason ?? drop.status}`);
    },
  });
  if (stats.failed > 0) {
    throw new MigrationError(
      `${stats.failed} of ${stats.total} documents could not be copied (${failures.join('; ')}); the alias was not moved`,
    );
  }
  return stats.successful;
}
