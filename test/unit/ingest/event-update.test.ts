import { describe, expect, it } from '@jest/globals';
import { normaliseEvent, type RawEvent } from '../../../src/domain/event.js';
import {
  everOnlineJson,
  hashedJson,
  updateOfNewDocument,
  upgradedDocument,
} from '../../../src/store/event-document.js';
import type { EventDocument } from '../../../src/store/indices.js';
import { writeItemOf, writeOpOf, type WriteOp } from '../../../src/ingest/operations.js';
import { buildEventUpdate, RETRY_ON_CONFLICT } from '../../../src/ingest/writer.js';

const ctx = { runId: 'run-1', seenAt: '2024-01-01T10:20:30.400Z', timeZone: 'UTC' };
/** last_seen_at is the day of the sighting (docs/adr/0013-change-driven-data.md). */
const day = '2024-01-01T00:00:00.000Z';
const raw = (sell_mode: string, start = '2021-06-30T21:00:00'): RawEvent => ({
  base_event_id: '291',
  event_id: '291',
  title: 'Camela en concierto',
  sell_mode,
  event_start_date: start,
  event_end_date: '2021-06-30T21:30:00',
  zones: [{ zone_id: '40', capacity: '200', price: '20.00' }],
});

function opFor(r: RawEvent): WriteOp {
  const op = writeOpOf(r, normaliseEvent('primary', r));
  if (!op) throw new Error('no identity');
  return op;
}

describe('buildEventUpdate (the bulk update that needs no script)', () => {
  it('online: sets ever_online in both doc and upsert; first_seen_at only on insert', () => {
    const [action, body] = buildEventUpdate('events', opFor(raw('online')), ctx);
    expect(action).toEqual({
      update: { _index: 'events', _id: body.upsert.id, retry_on_conflict: RETRY_ON_CONFLICT },
    });
    expect(body.doc).toMatchObject({
      ever_online: true,
      last_rejection: null,
      period: { gte: '2021-06-30T21:00:00', lte: '2021-06-30T21:30:00' },
    });
    expect(body.doc).not.toHaveProperty('first_seen_at');
    // Nothing in the doc differs between two runs over the same feed on the same day.
    expect(body.doc).not.toHaveProperty('last_run_id');
    expect(body.doc).toMatchObject({ last_seen_at: day });
    expect(body.upsert).toMatchObject({
      ever_online: true,
      first_seen_at: ctx.seenAt,
      last_seen_at: day,
      last_run_id: 'run-1',
    });
    const later = buildEventUpdate('events', opFor(raw('online')), {
      runId: 'run-2',
      seenAt: '2024-01-01T23:59:59.999Z',
      timeZone: 'UTC',
    })[1];
    expect(later.doc).toEqual(body.doc);
    // The hash of what the doc writes: equal docs, equal hashes; any change, another hash.
    expect(body.upsert.content_hash).toBe(body.doc.content_hash);
    const cheaper = buildEventUpdate('events', opFor({ ...raw('online'), title: 'Other' }), ctx)[1];
    expect(cheaper.doc.content_hash).not.toBe(body.doc.content_hash);
  });

  it("stores the provider's zone and the period as instants computed with it (ADR 0004)", () => {
    const madrid = { ...ctx, timeZone: 'Europe/Madrid' };
    const [, body] = buildEventUpdate('events', opFor(raw('online')), madrid);
    const instants = {
      gte: Date.parse('2021-06-30T19:00:00Z'),
      lte: Date.parse('2021-06-30T19:30:00Z'),
    };
    expect(body.doc).toMatchObject({
      timezone: 'Europe/Madrid',
      instants,
      starts_at_instant: instants.gte,
    });
    expect(body.upsert).toMatchObject({ timezone: 'Europe/Madrid', instants });
    // Another zone is another content: the hash moves, so the writer does not skip it.
    const [, utc] = buildEventUpdate('events', opFor(raw('online')), ctx);
    expect(utc.doc.content_hash).not.toBe(body.doc.content_hash);
    // An open-ended event's instants are open-ended too.
    const open = opFor({ ...raw('online'), event_end_date: undefined });
    expect(buildEventUpdate('events', open, madrid)[1].doc.instants).toEqual({
      gte: instants.gte,
      lte: null,
    });
  });

  it('writes the documents of an earlier mapping version when told (no zone, no instants)', () => {
    const [, body] = buildEventUpdate('events', opFor(raw('online')), {
      ...ctx,
      mappingVersion: 2,
    });
    for (const field of ['timezone', 'instants', 'starts_at_instant']) {
      expect(body.doc).not.toHaveProperty(field);
      expect(body.upsert).not.toHaveProperty(field);
    }
  });

  it('stores the response object as ready-made JSON; an earlier version (an object) upgrades to the same document (ADR 0017)', () => {
    const summary = expect.objectContaining({ title: 'Camela en concierto', end_time: '21:30:00' });
    const [, body] = buildEventUpdate('events', opFor(raw('online')), ctx);
    expect(JSON.parse(body.doc.summary_json ?? 'null')).toEqual(summary);
    expect(Object.keys(JSON.parse(body.doc.summary_json ?? '{}') as object)).toHaveLength(8);
    expect(body.doc).not.toHaveProperty('summary');
    const [, v2] = buildEventUpdate('events', opFor(raw('online')), { ...ctx, mappingVersion: 2 });
    expect(v2.upsert.summary).toEqual(summary);
    expect(v2.upsert).not.toHaveProperty('summary_json');
    // Through a stored _source (key order kept), the migration writes what a run writes today.
    const stored = JSON.parse(JSON.stringify(v2.upsert)) as EventDocument;
    const { content_hash: _old, ...upgraded } = upgradedDocument(stored, 'UTC');
    const { content_hash: _new, ...current } = body.upsert;
    expect(upgraded).toEqual(current);
    expect(upgraded.summary_json).toBe(body.upsert.summary_json);
  });

  it('offline: the doc never touches ever_online, the upsert starts it false', () => {
    const [, body] = buildEventUpdate('events', opFor(raw('offline')), ctx);
    expect(body.doc).not.toHaveProperty('ever_online');
    expect(body.doc).toMatchObject({ sell_mode: 'offline', min_price: 20 });
    expect(body.upsert.ever_online).toBe(false);
  });

  it('rejected: the doc holds only the bookkeeping (and ever_online when sold online); the upsert has no dates or summary', () => {
    const [, body] = buildEventUpdate('events', opFor(raw('online', '2021-09-31T20:00:00')), ctx);
    const rejection = {
      reason: 'invalid_date',
      detail: expect.stringContaining('2021-09-31'),
      at: day,
    };
    expect(body.doc).toEqual({
      // An online sighting counts, valid or not (ADR 0002).
      ever_online: true,
      last_seen_at: day,
      last_rejection: rejection,
      content_hash: expect.any(String),
    });
    const [, offline] = buildEventUpdate(
      'events',
      opFor(raw('offline', '2021-09-31T20:00:00')),
      ctx,
    );
    expect(offline.doc).not.toHaveProperty('ever_online');
    expect(body.upsert).toEqual({
      id: expect.any(String),
      provider: 'primary',
      base_event_id: '291',
      event_id: '291',
      title: 'Camela en concierto',
      sell_mode: 'online',
      ever_online: true,
      first_seen_at: ctx.seenAt,
      last_seen_at: day,
      last_run_id: 'run-1',
      last_rejection: rejection,
      content_hash: body.doc.content_hash,
    });
  });
});

describe('the update as JSON (what a run spools and the writer sends, ADR 0016)', () => {
  const madrid = { ...ctx, timeZone: 'Europe/Madrid' };
  const ops = {
    online: opFor(raw('online')),
    offline: opFor(raw('offline')),
    rejectedOnline: opFor(raw('online', '2021-09-31T20:00:00')),
    rejectedOffline: opFor(raw('offline', '2021-09-31T20:00:00')),
  };
  /** The bulk update's body, as JSON text of each part. */
  const asJson = (op: WriteOp) => {
    const [, body] = buildEventUpdate('events', op, madrid);
    return { doc: JSON.stringify(body.doc), upsert: JSON.stringify(body.upsert) };
  };

  it('is byte for byte the JSON of the update, its content_hash included', () => {
    for (const op of Object.values(ops)) {
      const { content_hash, ...json } = hashedJson(writeItemOf(op, madrid).json);
      expect(json).toEqual(asJson(op));
      expect(content_hash).toBe(buildEventUpdate('events', op, madrid)[1].doc.content_hash);
    }
  });

  it('another copy sold online: the same JSON as the update of a copy sighted online', () => {
    const sighted = { ...ops.offline, sightedOnline: true } as WriteOp;
    const item = writeItemOf(ops.offline, madrid);
    expect(item.online).toBe(false);
    expect(hashedJson(everOnlineJson(item.json))).toMatchObject(asJson(sighted));
    expect(writeItemOf(sighted, madrid)).toMatchObject({ online: true, json: expect.anything() });
    const rejected = writeItemOf(ops.rejectedOffline, madrid);
    const rejectedOnline = { ...ops.rejectedOffline, online: true } as WriteOp;
    expect(hashedJson(everOnlineJson(rejected.json))).toMatchObject(asJson(rejectedOnline));
  });

  it('a document created meanwhile gets the update the run meant (the fallback of a refused create)', () => {
    for (const op of Object.values(ops)) {
      const [, body] = buildEventUpdate('events', op, madrid);
      const created = JSON.parse(hashedJson(writeItemOf(op, madrid).json).upsert) as EventDocument;
      expect(updateOfNewDocument(created)).toEqual(body);
    }
  });
});
