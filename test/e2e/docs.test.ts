/**
 * /docs in a real headless browser (Debian's chromium, installed by `make chromium`): Swagger UI
 * loads the served openapi.yaml and renders the /search operation.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { testStoreEnv } from '../support/es.js';
import { eventually, freePort, node, stop, type Proc } from '../support/processes.js';

const chromiumPath = execFileSync('bash', ['-c', 'command -v chromium || true']).toString().trim();
let api: Proc;
let port: number;
let browser: Browser;

beforeAll(async () => {
  if (!chromiumPath) throw new Error('chromium is not installed: run `make chromium`');
  port = await freePort();
  const store = testStoreEnv('e2e-docs');
  api = node('api', {
    PORT: String(port),
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
  });
  await eventually(
    async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined),
    20_000,
    'the API',
  );
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (api) await stop(api);
});

describe('/docs (Swagger UI)', () => {
  it('renders the /search operation from the served contract', async () => {
    const page = await browser.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    await page.goto(`http://127.0.0.1:${port}/docs`, { waitUntil: 'load' });
    const operation = page.locator('.opblock-summary-path[data-path="/search"]');
    await operation.first().waitFor({ timeout: 20_000 });
    expect(await operation.first().textContent()).toContain('/search');
    expect(await page.locator('.opblock-summary-method').first().textContent()).toBe('GET');
    expect(failed.filter((u) => u.startsWith(`http://127.0.0.1:${port}`))).toEqual([]);
  }, 60_000);
});
