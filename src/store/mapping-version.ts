/**
 * The events mapping's version, apart from the index definitions (./indices.ts), so the document
 * mapper (./event-document.ts) loads without the Elasticsearch client: the parse thread builds the
 * documents (src/ingest/parse-thread.ts, docs/adr/0016-*.md, fifth pass).
 *
 * Bump when the events mapping changes incompatibly; bootstrap then creates the new index.
 * 2: `available_capacity` is a `long` (capacities up to 2^53 - 1; docs/adr/0002-*.md).
 * 3: `timezone`, `instants` and `starts_at_instant`: the period as instants (docs/adr/0004-*.md);
 *    filled from an earlier version by `npm run migrate` (docs/adr/0015-*.md).
 */
export const EVENTS_MAPPING_VERSION = 3;
