/**
 * Issue 16, item 9: a streamed answer (larger than the cache's entry bound, read page by page
 * from a point in time) is complete or the connection is aborted, never a truncated 200 body.
 * A real slow client (a raw socket that stops reading) outlives the point in time (a short
 * SEARCH_PIT_KEEP_ALIVE_MS; the test waits until Elasticsearch has no search context left, an
 * event, not a delay); when it reads on, the chunked body must not end with its terminating chunk.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { generatedRawEvents, seedEvents } from '../../support/seed.js';
import { buildApi } from './api-fixture.js';

/** Far more than the socket buffers between the API and a client that stopped reading hold. */
const COUNT = 80_000;
const env = testStoreEnv('api-slow-reader');
const client = testClient(env);
let names: IndexNames;

beforeAll(async () => {
  names = await seedEvents(client, env.ES_INDEX_PREFIX, generatedRawEvents(COUNT));
}, 300_000);

afterAll(async () => {
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

/** Open search contexts (points in time) on the node. */
async function openContexts(): Promise<number> {
  const stats = await client.nodes.stats({ metric: 'indices', index_metric: 'search' });
  return Object.values(stats.nodes).reduce(
    (sum, node) => sum + (node.indices?.search?.open_contexts ?? 0),
    0,
  );
}

describe('a streamed answer and a slow reader', () => {
  it('is aborted, not ended as a complete 200, when the point in time expires under it', async () => {
    const api = buildApi({
      names,
      env: {
        SEARCH_PAGE_SIZE: '200',
        CACHE_MAX_ENTRY_BYTES: String(64 * 1024),
        SEARCH_PIT_KEEP_ALIVE_MS: '1000',
      },
    });
    const server = await api.start();
    const port = (server.address() as AddressInfo).port;

    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const firstBytes = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.write('GET /search HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    await firstBytes;
    socket.pause(); // the slow reader: nothing more is read until the point in time is gone

    // Elasticsearch frees expired contexts on its own schedule (search.keep_alive_interval).
    while ((await openContexts()) > 0) await sleep(500);

    socket.resume();
    await closed;
    const raw = Buffer.concat(chunks).toString('latin1');
    expect(raw.startsWith('HTTP/1.1 200 OK')).toBe(true);
    expect(raw).toMatch(/transfer-encoding: chunked/i);
    // Aborted: the chunked body never gets its last (zero-size) chunk, so no client can take it
    // for a complete answer.
    expect(raw.endsWith('\r\n0\r\n\r\n')).toBe(false);
  }, 240_000);
});
