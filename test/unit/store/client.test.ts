/**
 * createEsClient over TLS: the CA from ES_CA_FILE is what the client trusts, and the credentials
 * from the environment are what it sends. The "Elasticsearch" is a local HTTPS server with a
 * certificate signed by a throw-away CA made with openssl for this test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseEnv, storeEnv } from '../../../src/config.js';
import { createEsClient } from '../../../src/store/client.js';

let dir: string;
let server: Server;
let url: string;
const seen: { authorization?: string }[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'es-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
  );
  openssl('req', ...ec, '-keyout', 'es.key', '-out', 'es.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'es.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'es.crt',
    '-days',
    '2',
    '-extfile',
    'ext',
  );
  server = createServer(
    { key: readFileSync(join(dir, 'es.key')), cert: readFileSync(join(dir, 'es.crt')) },
    (req, res) => {
      seen.push({ authorization: req.headers.authorization });
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-elastic-product': 'Elasticsearch',
      });
      res.end(JSON.stringify({ cluster_name: 'tls-test', status: 'green' }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function client(env: Record<string, string>) {
  return createEsClient(parseEnv(storeEnv, { ELASTICSEARCH_URL: url, ...env }), { maxRetries: 0 });
}

async function health(env: Record<string, string>) {
  const c = client(env);
  try {
    return await c.cluster.health();
  } finally {
    await c.close();
  }
}

describe('createEsClient over TLS', () => {
  it('trusts the CA of ES_CA_FILE and sends the API key', async () => {
    seen.length = 0;
    const res = await health({ ES_CA_FILE: join(dir, 'ca.crt'), ES_API_KEY: 'a2V5OnNlY3JldA==' });
    expect(res.cluster_name).toBe('tls-test');
    expect(seen).toEqual([{ authorization: 'ApiKey a2V5OnNlY3JldA==' }]);
  });

  it('sends basic credentials when no API key is given, and prefers the API key when both are', async () => {
    seen.length = 0;
    const ca = join(dir, 'ca.crt');
    await health({ ES_CA_FILE: ca, ES_USERNAME: 'search', ES_PASSWORD: 's3cret' });
    await health({ ES_CA_FILE: ca, ES_USERNAME: 'search', ES_PASSWORD: 's3cret', ES_API_KEY: 'k' });
    expect(seen).toEqual([
      { authorization: `Basic ${Buffer.from('search:s3cret').toString('base64')}` },
      { authorization: 'ApiKey k' },
    ]);
  });

  it('refuses a certificate it cannot verify when no CA is given', async () => {
    seen.length = 0;
    await expect(health({ ES_API_KEY: 'k' })).rejects.toThrow(
      /self[- ]signed|unable to (get|verify)|certificate/i,
    );
    expect(seen).toEqual([]); // nothing, credentials included, was sent
  });

  it('stops at once when ES_CA_FILE cannot be read, naming the file', () => {
    const missing = join(dir, 'missing.crt');
    expect(() => client({ ES_CA_FILE: missing })).toThrow(missing);
  });
});
