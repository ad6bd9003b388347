/**
 * The Elasticsearch layout this service owns, all under one prefix (`ES_INDEX_PREFIX`):
 *
 * - `<prefix>-events`: an alias over the versioned index `<prefix>-events-v<N>`. A mapping change is
 *   a new version plus an alias swap, never a migration in place (docs/adr/0003-*.md).
 * - `<prefix>-runs`: one document per ingest run (the freshness record the API and operators read).
 *
 * Templates make any index that matches the patterns get the right mappings, so bootstrap is
 * idempotent and safe to run before every install or upgrade.
 */
import type { estypes } from '@elastic/elasticsearch';
import type { Client } from './client.js';
import { isResourceAlreadyExists } from './errors.js';
import type { EventIdentity, EventSummary, RejectionReason } from '../domain/event.js';

/**
 * Bump when the events mapping changes incompatibly; bootstrap then creates the new index.
 * 2: `available_capacity` is a `long` (capacities up to 2^53 - 1; docs/adr/0002-*.md).
 * 3: `timezone`, `instants` and `starts_at_instant`: the period as instants (docs/adr/0004-*.md);
 *    filled from an earlier version by `npm run migrate` (docs/adr/0015-*.md).
 */
export const EVENTS_MAPPING_VERSION = 3;

export interface IndexNames {
  prefix: string;
  eventsAlias: string;
  eventsIndex: string;
  eventsTemplate: string;
  runsIndex: string;
  runsTemplate: string;
  /** One document: the ingest lease (one writer at a time, src/ingest/lease.ts). */
  leaseIndex: string;
}

/**
 * The names under `prefix`; `version`: the events index of another mapping version (the
 * migration's source, tests building an earlier version's layout).
 */
export function indexNames(prefix: string, version = EVENTS_MAPPING_VERSION): IndexNames {
  return {
    prefix,
    eventsAlias: `${prefix}-events`,
    eventsIndex: `${prefix}-events-v${version}`,
    eventsTemplate: `${prefix}-events`,
    runsIndex: `${prefix}-runs`,
    runsTemplate: `${prefix}-runs`,
    leaseIndex: `${prefix}-ingest-lease`,
  };
}

/**
 * A stored event (the `_source` of `<prefix>-events`): its identity (whose `sell_mode` is the one
 * of the latest feed that carried the event) and what the feeds said of it.
 */
export interface EventDocument extends EventIdentity {
  /** Set true the first time the event is seen online; never cleared (docs/adr/0002-*.md). */
  ever_online: boolean;
  organizer_company_id?: string | null;
  /** Venue-local wall-clock, stored without offset (Elasticsearch reads it as UTC; only order matters). */
  starts_at?: string;
  /** Null for an open-ended event (no end in the feed). */
  ends_at?: string | null;
  /**
   * [starts_at, ends_at]: the field search windows query with relation `within`. `lte` is null
   * (unbounded) for an open-ended event.
   */
  period?: { gte: string; lte: string | null };
  /** The IANA zone of the provider's wall-clock times, with which `instants` were computed. */
  timezone?: string;
  /**
   * The period as instants (milliseconds since the epoch), computed at ingest with `timezone`: the
   * field query bounds with an offset are compared with (docs/adr/0004-*.md).
   */
  instants?: { gte: number; lte: number | null };
  /** `instants.gte` again, as a sortable date: results are ordered by start instant, then id. */
  starts_at_instant?: number;
  sell_from?: string | null;
  sell_to?: string | null;
  sold_out?: boolean;
  min_price?: number | null;
  max_price?: number | null;
  zone_count?: number;
  available_capacity?: number;
  /**
   * The API's response object as ready-made JSON (`JSON.stringify` of the summary; not indexed):
   * the reader splices it into the answer without parsing it (docs/adr/0017-*.md).
   */
  summary_json?: string;
  /** The same object, not serialised: events indices before version 3 only (the migration reads it). */
  summary?: EventSummary;
  /** Real UTC instants. */
  first_seen_at: string;
  /** The UTC day (midnight) of the latest run whose feed listed the event (docs/adr/0013-*.md). */
  last_seen_at: string;
  /**
   * The run that created the document (runs that leave it unchanged do not rewrite it; before
   * ADR 0013, the run that last wrote it).
   */
  last_run_id: string;
  /**
   * Set when the latest feed carried the event in a form that could not be accepted; `at` is the
   * UTC day it was last seen so (`run_id`: only in documents written before ADR 0013).
   */
  /**
   * A hash of the last update applied (src/store/event-document.ts): the writer skips a sighting
   * with the same hash, as it would change nothing (docs/adr/0013-*.md).
   */
  content_hash?: string;
  last_rejection?: {
    reason: RejectionReason;
    detail: string;
    run_id?: string;
    at: string;
  } | null;
}

/**
 * `maintenance`: not an ingest run but a command that rewrote events (`npm run rezone-provider`):
 * it moves the data version when it changed items, and is not a success of the provider.
 */
export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'maintenance';

/** A stored ingest run (the `_source` of `<prefix>-runs`). */
export interface RunDocument {
  run_id: string;
  provider: string;
  provider_url: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  outcome: RunOutcome;
  error: string | null;
  counts: {
    base_events_read: number;
    events_read: number;
    events_upserted: number;
    /**
     * Items Elasticsearch created or changed (no-ops excluded): a run with none left the data as
     * it was, and does not move the data version (docs/adr/0013-*.md). Absent in older records.
     */
    items_changed?: number;
    events_rejected: number;
    bulk_failures: number;
    rejected_by_reason: Partial<Record<RejectionReason, number>>;
    /** Extra copies of identities the feed carried more than once (absent in older records). */
    duplicates?: number;
  };
  /**
   * The feed's bytes as this run received them (absent in older records and in runs that did not
   * receive the whole body): what lets the next run skip an identical feed (docs/adr/0016-*.md).
   */
  feed?: FeedRecord;
}

/** What a run recorded of the feed it received (docs/adr/0016-unchanged-feed-and-ingest-cost.md). */
export interface FeedRecord {
  /** SHA-256 of the body's bytes (hex). */
  sha256: string;
  bytes: number;
  /** The run skipped the parse and the writes: the bytes equal those of the run before it. */
  unchanged: boolean;
  /** UTC day (ISO, midnight) the stored documents were last written in full from these bytes. */
  written_day: string;
  /** Distinct event documents (identities) these bytes map to. */
  documents: number;
  /** The provider's time zone the documents were computed with (other zone: other documents). */
  time_zone?: string;
  /** The document-building code that wrote them (src/ingest/document-code.ts). */
  code?: string;
  /** The provider's validators for these bytes (`ETag`, `Last-Modified`), when it sent them. */
  etag?: string | null;
  last_modified?: string | null;
}

const keyword: estypes.MappingProperty = { type: 'keyword' };
const localDate: estypes.MappingProperty = {
  type: 'date',
  format: 'strict_date_hour_minute_second||strict_date_optional_time',
};

export const eventsMappings: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    id: keyword,
    provider: keyword,
    base_event_id: keyword,
    event_id: keyword,
    title: { type: 'text', fields: { raw: { type: 'keyword', ignore_above: 512 } } },
    sell_mode: keyword,
    ever_online: { type: 'boolean' },
    organizer_company_id: keyword,
    starts_at: localDate,
    ends_at: localDate,
    period: {
      type: 'date_range',
      format: 'strict_date_hour_minute_second||strict_date_optional_time',
    },
    timezone: keyword,
    instants: { type: 'date_range', format: 'epoch_millis' },
    starts_at_instant: { type: 'date', format: 'epoch_millis' },
    sell_from: localDate,
    sell_to: localDate,
    sold_out: { type: 'boolean' },
    // `double`, not `scaled_float`: scaled_float lives in the mapper-extras module, which the
    // minimal Elasticsearch distribution used for development and tests does not ship.
    min_price: { type: 'double' },
    max_price: { type: 'double' },
    zone_count: { type: 'integer' },
    // Up to 2^53 - 1 (MAX_CAPACITY): an `integer` would refuse anything past 2^31 - 1.
    available_capacity: { type: 'long' },
    // A string, never parsed or indexed (a disabled object takes any JSON value).
    summary_json: { type: 'object', enabled: false },
    first_seen_at: { type: 'date' },
    last_seen_at: { type: 'date' },
    last_run_id: keyword,
    // Read back by id only (mget), never searched.
    content_hash: { type: 'keyword', index: false },
    last_rejection: {
      type: 'object',
      properties: {
        reason: keyword,
        detail: { type: 'text', index: false },
        run_id: keyword,
        at: { type: 'date' },
      },
    },
  },
};

/**
 * The events mapping of an earlier version, to build its layout (tests of the migration): v2 has
 * no time fields of v3, v1 also maps `available_capacity` as an `integer`.
 */
export function eventsMappingsOf(version: number): estypes.MappingTypeMapping {
  if (version >= EVENTS_MAPPING_VERSION) return eventsMappings;
  const { timezone, instants, starts_at_instant, summary_json, ...rest } =
    eventsMappings.properties ?? {};
  const v2 = { ...rest, summary: { type: 'object' as const, enabled: false } };
  const properties =
    version >= 2 ? v2 : { ...v2, available_capacity: { type: 'integer' as const } };
  return { ...eventsMappings, properties };
}

export const runsMappings: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    run_id: keyword,
    provider: keyword,
    provider_url: { type: 'keyword', index: false },
    started_at: { type: 'date' },
    finished_at: { type: 'date' },
    duration_ms: { type: 'long' },
    outcome: keyword,
    error: { type: 'text', index: false },
    counts: {
      type: 'object',
      properties: {
        base_events_read: { type: 'long' },
        events_read: { type: 'long' },
        events_upserted: { type: 'long' },
        items_changed: { type: 'long' },
        events_rejected: { type: 'long' },
        bulk_failures: { type: 'long' },
        duplicates: { type: 'long' },
        // Reasons are a small closed set; keep them as a flattened map so new ones need no mapping.
        rejected_by_reason: { type: 'flattened' },
      },
    },
    feed: {
      type: 'object',
      properties: {
        sha256: { type: 'keyword', index: false },
        bytes: { type: 'long' },
        unchanged: { type: 'boolean' },
        written_day: { type: 'date' },
        documents: { type: 'long' },
        time_zone: { type: 'keyword', index: false },
        code: { type: 'keyword', index: false },
        etag: { type: 'keyword', index: false },
        last_modified: { type: 'keyword', index: false },
      },
    },
  },
};

/**
 * Version of the index templates (Elasticsearch's template `version`): bump it whenever the
 * templates change. Only the bootstrap puts templates; the ingester checks the layout is there
 * (`checkIndices`) and never re-puts them (docs/adr/0012-production-semantics.md).
 */
export const TEMPLATES_VERSION = EVENTS_MAPPING_VERSION * 100 + 1;

/** The ingest lease (`src/ingest/lease.ts`, `LeaseDocument`). */
export const leaseMappings: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    holder: keyword,
    provider: keyword,
    acquired_at: { type: 'date' },
    renewed_at: { type: 'date' },
    expires_at: { type: 'date' },
  },
};

export interface BootstrapOptions {
  /** Shards of the events index (default 1). */
  shards?: number;
  /** Replica shards of every index (`ES_INDEX_REPLICAS`; default 0, a single development node). */
  replicas?: number;
  /** `refresh_interval` of every index (`ES_INDEX_REFRESH_INTERVAL`; default `1s`). */
  refreshInterval?: string;
  /**
   * The events mapping version to lay out (default: this code's, `EVENTS_MAPPING_VERSION`); an
   * earlier one builds what an earlier release did (tests of the migration).
   */
  mappingVersion?: number;
}

/**
 * Creates (or updates) the templates, the current events index and its alias, and the runs index,
 * and applies the replicas and refresh interval to the indices that already exist (both are
 * dynamic settings). Idempotent: safe to run concurrently from several processes and before
 * every deploy. The only writer of templates and settings (the chart's bootstrap hook Job).
 */
export async function bootstrapIndices(
  client: Client,
  prefix: string,
  opts: BootstrapOptions = {},
): Promise<IndexNames> {
  const version = opts.mappingVersion ?? EVENTS_MAPPING_VERSION;
  const names = indexNames(prefix, version);
  const mappings = eventsMappingsOf(version);
  const dynamic = {
    number_of_replicas: opts.replicas ?? 0,
    refresh_interval: opts.refreshInterval ?? '1s',
  } satisfies estypes.IndicesIndexSettings;
  await client.indices.putIndexTemplate({
    name: names.eventsTemplate,
    index_patterns: [`${prefix}-events-v*`],
    priority: 500,
    version: version * 100 + 1,
    template: {
      settings: { number_of_shards: opts.shards ?? 1, ...dynamic },
      mappings,
    },
  });
  await client.indices.putIndexTemplate({
    name: names.runsTemplate,
    index_patterns: [names.runsIndex],
    priority: 500,
    version: TEMPLATES_VERSION,
    template: { settings: { number_of_shards: 1, ...dynamic }, mappings: runsMappings },
  });

  // An index created now has its template's mappings; fields added to the current mappings since an
  // existing one was created reach it here (adding a field is compatible: no new version needed).
  if (!(await createIfMissing(client, names.eventsIndex))) {
    await client.indices.putMapping({ index: names.eventsIndex, ...mappings });
  }
  if (!(await createIfMissing(client, names.runsIndex))) {
    await client.indices.putMapping({ index: names.runsIndex, ...runsMappings });
  }
  await createIfMissing(client, names.leaseIndex, {
    settings: { number_of_shards: 1, number_of_replicas: opts.replicas ?? 0 },
    mappings: leaseMappings,
  });
  // Indices created by an earlier bootstrap keep their settings until told otherwise.
  await client.indices.putSettings({
    index: [names.eventsIndex, names.runsIndex, names.leaseIndex],
    settings: dynamic,
  });

  const aliasExists = await client.indices.existsAlias({ name: names.eventsAlias });
  if (!aliasExists) {
    await client.indices.updateAliases({
      actions: [
        { add: { index: names.eventsIndex, alias: names.eventsAlias, is_write_index: true } },
      ],
    });
  }

  return names;
}

/** The layout the ingester needs is missing or older than this code expects. */
export class IndicesNotReadyError extends Error {
  constructor(detail: string) {
    super(
      `${detail}: run the bootstrap first (npm run bootstrap; in Kubernetes the chart's bootstrap Job runs before each install and upgrade)`,
    );
    this.name = 'IndicesNotReadyError';
  }
}

/**
 * What the ingester does instead of bootstrapping: checks that the events alias points at the
 * index of this code's mapping version and that the runs and lease indices exist; throws
 * `IndicesNotReadyError` otherwise. Reads only index metadata (`view_index_metadata`).
 */
export async function checkIndices(client: Client, prefix: string): Promise<IndexNames> {
  const names = indexNames(prefix);
  // Three reads at once (one round trip instead of three: docs/adr/0016-*.md), judged in order.
  const [aliases, runsExists, leaseExists] = await Promise.all([
    client.indices.getAlias({ name: names.eventsAlias }, { ignore: [404] }),
    client.indices.exists({ index: names.runsIndex }),
    client.indices.exists({ index: names.leaseIndex }),
  ]);
  const targets = Object.keys(aliases).filter((key) => key !== 'error' && key !== 'status');
  if (targets.length === 0) {
    throw new IndicesNotReadyError(`the events alias ${names.eventsAlias} does not exist`);
  }
  if (!targets.includes(names.eventsIndex)) {
    throw new IndicesNotReadyError(
      `the events alias ${names.eventsAlias} points at ${targets.join(', ')}, not at ${names.eventsIndex} (mapping version ${EVENTS_MAPPING_VERSION})`,
    );
  }
  if (!runsExists) {
    throw new IndicesNotReadyError(`the runs index ${names.runsIndex} does not exist`);
  }
  if (!leaseExists) {
    throw new IndicesNotReadyError(`the ingest lease index ${names.leaseIndex} does not exist`);
  }
  return names;
}

/** Creates `index` unless it exists; true when this call created it. */
async function createIfMissing(
  client: Client,
  index: string,
  body: Pick<estypes.IndicesCreateRequest, 'settings' | 'mappings'> = {},
): Promise<boolean> {
  try {
    await client.indices.create({ index, wait_for_active_shards: 1, ...body });
    return true;
  } catch (err) {
    // Another process created it first: that is the idempotent outcome we want.
    if (isResourceAlreadyExists(err)) return false;
    throw err;
  }
}
