/**
 * One writer at a time (docs/adr/0003-*.md, "One writer at a time"): an ingest run holds a lease,
 * one document in `<prefix>-ingest-lease`, for as long as it may write.
 *
 * - Taking it is a create-only write (`op_type: create`): of two runs, exactly one creates it.
 * - The holder renews it (moves `expires_at`) every third of the TTL, each time conditionally on
 *   the `_seq_no`/`_primary_term` of its own last write: a holder that lost it learns so at once.
 * - A crashed holder stops renewing; once `expires_at` has passed, the next run takes the lease
 *   over with a write conditional on the expired document's `_seq_no`/`_primary_term`, so of two
 *   runs taking over the same expired lease only one succeeds.
 * - It is released (deleted, conditionally) when the run ends, normally or on SIGTERM.
 * - It is only ever read by id (`get`) and changed by conditional writes, both real-time in
 *   Elasticsearch: no write of it asks for a refresh, which would cost a round trip's worth of
 *   waiting at each start and end of a run (docs/adr/0016-*.md, fourth pass).
 *
 * Expiry compares the holder's clock with the next run's: TTL must be well above the clock skew
 * between pods (seconds, with NTP), and above the longest pause of a live holder (a renewal that
 * cannot reach Elasticsearch for a whole TTL loses the lease: the run is then stopped).
 */
import { errors } from '@elastic/elasticsearch';
import type { Client } from '../store/client.js';

/** The exit code of an ingest run that found the lease held by another run. */
export const EXIT_LEASE_HELD = 3;

/**
 * The lease document's id: one writer per provider and index prefix. Runs of different providers
 * write disjoint events (the provider is part of every id: docs/adr/0014-many-providers.md), so
 * they need not wait for each other.
 */
export function leaseIdOf(provider: string): string {
  return `ingest-${provider}`;
}

/** The lease document (`_source`). */
export interface LeaseDocument {
  holder: string;
  provider: string;
  acquired_at: string;
  renewed_at: string;
  expires_at: string;
}

/** Another run holds a lease that has not expired. */
export class LeaseHeldError extends Error {
  constructor(
    readonly holder: string,
    readonly expiresAt: string,
  ) {
    super(
      `another ingest run (${holder}) holds the ingest lease until ${expiresAt}; this run writes nothing and exits (code ${EXIT_LEASE_HELD})`,
    );
    this.name = 'LeaseHeldError';
  }
}

export interface LeaseOptions {
  client: Client;
  /** The lease index (`indexNames(prefix).leaseIndex`). */
  index: string;
  /** The run that holds it. */
  runId: string;
  provider: string;
  ttlMs: number;
  now?: () => Date;
  /** Called when the lease was taken over from an expired holder. */
  onTakeover?: (expired: LeaseDocument) => void;
}

export interface Lease {
  /** Aborted when the lease is lost (taken over, or not renewable for a whole TTL). */
  readonly lost: AbortSignal;
  /** Moves the expiry forward; aborts `lost` and rejects when the lease is no longer this run's. */
  renew(): Promise<void>;
  /** Stops renewing and deletes the lease if it is still this run's. Never rejects. */
  release(): Promise<void>;
}

interface Version {
  seqNo: number;
  primaryTerm: number;
}

/** The version a write answered with (always set for a successful index). */
function versionOf(res: { _seq_no?: number; _primary_term?: number }): Version {
  return { seqNo: res._seq_no ?? -1, primaryTerm: res._primary_term ?? -1 };
}

const isConflict = (err: unknown) => err instanceof errors.ResponseError && err.statusCode === 409;

/** Creates the lease document; null when one exists already. */
async function create(options: LeaseOptions, document: LeaseDocument): Promise<Version | null> {
  try {
    const res = await options.client.index({
      index: options.index,
      id: leaseIdOf(options.provider),
      op_type: 'create',
      document,
    });
    return versionOf(res);
  } catch (err) {
    if (isConflict(err)) return null;
    throw err;
  }
}

/** The error naming the current holder (read again: it may have changed). */
async function heldError(options: LeaseOptions): Promise<LeaseHeldError> {
  const current = await options.client.get<LeaseDocument>(
    { index: options.index, id: leaseIdOf(options.provider) },
    { ignore: [404] },
  );
  const held = current._source;
  return new LeaseHeldError(held?.holder ?? 'another run', held?.expires_at ?? 'it is released');
}

/**
 * Takes over an expired lease, conditionally on the expired document's version: of two runs
 * doing it at once, one succeeds and the other gets a conflict (`LeaseHeldError`).
 */
async function takeOver(
  options: LeaseOptions,
  documentAt: (at: Date) => LeaseDocument,
  now: () => Date,
): Promise<Version> {
  const current = await options.client.get<LeaseDocument>(
    { index: options.index, id: leaseIdOf(options.provider) },
    { ignore: [404] },
  );
  const held = current._source;
  if (!current.found || !held) {
    // Released between our create and this read: one more try.
    const created = await create(options, documentAt(now()));
    if (created) return created;
    throw await heldError(options);
  }
  const at = now();
  if (Date.parse(held.expires_at) > at.getTime()) {
    throw new LeaseHeldError(held.holder, held.expires_at);
  }
  try {
    const res = await options.client.index({
      index: options.index,
      id: leaseIdOf(options.provider),
      document: documentAt(at),
      if_seq_no: current._seq_no,
      if_primary_term: current._primary_term,
    });
    options.onTakeover?.(held);
    return versionOf(res);
  } catch (err) {
    if (isConflict(err)) throw await heldError(options);
    throw err;
  }
}

/**
 * Takes the lease, or rejects with `LeaseHeldError` when another run holds one that has not
 * expired. Other Elasticsearch errors propagate.
 */
export async function acquireLease(options: LeaseOptions): Promise<Lease> {
  const { client, index, runId, ttlMs } = options;
  const now = options.now ?? (() => new Date());
  const acquiredAt = now().toISOString();
  const documentAt = (at: Date): LeaseDocument => ({
    holder: runId,
    provider: options.provider,
    acquired_at: acquiredAt,
    renewed_at: at.toISOString(),
    expires_at: new Date(at.getTime() + ttlMs).toISOString(),
  });
  let version =
    (await create(options, documentAt(now()))) ?? (await takeOver(options, documentAt, now));

  const controller = new AbortController();
  let released = false;
  let lastRenewal = Date.now();
  /** The renewal in flight: a second one would carry the same version and conflict with it. */
  let renewing: Promise<void> | null = null;
  async function renewOnce(): Promise<void> {
    try {
      const res = await client.index({
        index,
        id: leaseIdOf(options.provider),
        document: documentAt(now()),
        if_seq_no: version.seqNo,
        if_primary_term: version.primaryTerm,
      });
      version = versionOf(res);
      lastRenewal = Date.now();
    } catch (err) {
      // Conflict: another run took it over. Unreachable for a whole TTL: it may have expired.
      if (isConflict(err) || Date.now() - lastRenewal >= ttlMs) {
        const reason = isConflict(err)
          ? 'the ingest lease was taken over by another run'
          : `the ingest lease could not be renewed for ${ttlMs} ms`;
        controller.abort(new Error(reason));
      }
      throw err;
    }
  }
  const lease: Lease = {
    lost: controller.signal,
    renew() {
      if (released || controller.signal.aborted) return Promise.resolve();
      // A renewal asked for while one is in flight (a slow Elasticsearch, a busy event loop) joins
      // it: started after it, with the version it is about to replace, it would conflict and
      // read as a takeover.
      renewing ??= renewOnce().finally(() => {
        renewing = null;
      });
      return renewing;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing?.catch(() => undefined);
      if (controller.signal.aborted) return;
      await client
        .delete({
          index,
          id: leaseIdOf(options.provider),
          if_seq_no: version.seqNo,
          if_primary_term: version.primaryTerm,
        })
        .catch(() => undefined); // taken over, or Elasticsearch gone: it expires on its own
    },
  };
  const timer = setInterval(
    () => lease.renew().catch(() => undefined),
    Math.max(1, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return lease;
}
