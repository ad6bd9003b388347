/** Every format an ingest run can read: the values PROVIDER_FORMAT accepts (see ./index.ts). */
export const FEED_FORMATS = ['xml', 'ndjson'] as const;
export type FeedFormatName = (typeof FEED_FORMATS)[number];
