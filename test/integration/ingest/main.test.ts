/**
 * `node dist/main/ingest.js` and `node dist/main/bootstrap.js` as real child processes, against a
 * plain node:http server serving the fixture (no nock) and the real Elasticsearch.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { indexNames, TEMPLATES_VERSION } from '../../../src/store/indices.js';
import { latestSuccessfulRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { ROOT, freePort, runToEnd } from '../../support/processes.js';
import { fixture } from './support.js';

const env = testStoreEnv('ingest-main');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let provider: Server;
let providerUrl: string;
let pushgateway: Server;
let pushgatewayUrl: string;
const pushes: { method: string; url: string; body: string }[] = [];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ unless it is newer than every source (make test builds first anyway). */
function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(join(ROOT, 'dist/main/ingest.js')).mtimeMs;
  } catch {
    built = 0;
  }
  if (built < newestMtime(join(ROOT, 'src'))) {
    execFileSync(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function baseEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ELASTICSEARCH_URL: env.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: prefix,
    PROVIDER_URL: `${providerUrl}/feed`,
    PROVIDER_RETRIES: '1',
    PROVIDER_RETRY_MIN_DELAY_MS: '10',
    PUSHGATEWAY_URL: '',
    ...extra,
  };
}

beforeAll(async () => {
  ensureBuilt();
  provider = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8' });
    res.end(fixture(1));
  });
  providerUrl = await listen(provider);
  pushgateway = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      pushes.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.writeHead(200);
      res.end();
    });
  });
  pushgatewayUrl = await listen(pushgateway);
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => provider.close(() => resolve()));
  await new Promise<void>((resolve) => pushgateway.close(() => resolve()));
  await dropPrefix(client, prefix);
  await client.close();
});

describe('npm run bootstrap (dist/main/bootstrap.js)', () => {
  it('creates the indices and alias, and can run again', async () => {
    for (let i = 0; i < 2; i++) {
      const run = await runToEnd('bootstrap', baseEnv({}));
      expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({
        code: 0,
        output: '',
      });
    }
    const names = indexNames(prefix);
    expect(await client.indices.existsAlias({ name: names.eventsAlias })).toBe(true);
    expect(await client.indices.exists({ index: names.runsIndex })).toBe(true);
    expect(await indexSettings(names.eventsIndex)).toEqual({ replicas: '0', refresh: '1s' });
  }, 30_000);

  it('applies ES_INDEX_REPLICAS and ES_INDEX_REFRESH_INTERVAL to the templates and existing indices', async () => {
    const run = await runToEnd(
      'bootstrap',
      baseEnv({ ES_INDEX_REPLICAS: '1', ES_INDEX_REFRESH_INTERVAL: '2s' }),
    );
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({
      code: 0,
      output: '',
    });
    const names = indexNames(prefix);
    // On one node the replica stays unassigned (the index is yellow): the setting is what counts.
    for (const index of [names.eventsIndex, names.runsIndex]) {
      expect(await indexSettings(index)).toEqual({ replicas: '1', refresh: '2s' });
    }
    const template = await templateOf(names.eventsTemplate);
    expect(template.version).toBe(TEMPLATES_VERSION);
    expect(template.template?.settings?.index).toMatchObject({
      number_of_replicas: '1',
      refresh_interval: '2s',
    });
  }, 30_000);
});

/** The events template as Elasticsearch holds it. */
async function templateOf(name: string) {
  const res = await client.indices.getIndexTemplate({ name });
  const found = res.index_templates[0]?.index_template;
  if (!found) throw new Error(`no template ${name}`);
  return found;
}

/** `GET <index>/_settings`: the replicas and refresh interval. */
async function indexSettings(index: string): Promise<{ replicas?: string; refresh?: string }> {
  const res = await client.indices.getSettings({ index });
  const settings = res[index]?.settings?.index;
  return {
    replicas: settings?.number_of_replicas as string | undefined,
    refresh: settings?.refresh_interval as string | undefined,
  };
}

describe('npm run ingest (dist/main/ingest.js)', () => {
  it('exits 1 telling the operator to run the bootstrap when the indices are not there', async () => {
    const fresh = `${prefix}-unbootstrapped`;
    const run = await runToEnd('ingest', baseEnv({ ES_INDEX_PREFIX: fresh }));
    expect(run.code).toBe(1);
    expect(jsonLines(run.output).at(-1)).toMatchObject({
      level: 'error',
      phase: 'summary',
      outcome: 'failed',
      error: expect.stringMatching(
        new RegExp(`^the events alias ${fresh}-events does not exist: run the bootstrap first`),
      ),
    });
    // Nothing was created on its behalf.
    expect(Object.keys(await client.indices.get({ index: `${fresh}-*` }))).toEqual([]);
    const templates = await client.indices.getIndexTemplate(
      { name: `${fresh}-*` },
      { ignore: [404] },
    );
    expect(templates.index_templates ?? []).toEqual([]);
  }, 30_000);

  it('exits 0 after one run, logging one JSON line per phase and a summary, and pushes metrics', async () => {
    const names = indexNames(prefix);
    const templatesBefore = await Promise.all(
      [names.eventsTemplate, names.runsTemplate].map(templateOf),
    );
    const run = await runToEnd('ingest', baseEnv({ PUSHGATEWAY_URL: pushgatewayUrl }));
    expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({
      code: 0,
      output: '',
    });
    const lines = jsonLines(run.output);
    // `progress` lines appear only when the run outlasts INGEST_PROGRESS_MS (test/integration/ingest/progress.test.ts).
    expect(lines.map((l) => l.phase).filter((p) => p !== 'progress')).toEqual([
      'config',
      'indices_checked',
      'run_started',
      'feed_fetched',
      'feed_read',
      'events_written',
      'metrics_pushed',
      'summary',
    ]);
    const summary = lines.at(-1);
    expect(summary).toMatchObject({
      level: 'info',
      process: 'ingest',
      msg: expect.stringMatching(
        /^ingest run succeeded: 3 events read, 3 written, 0 rejected, 0 duplicates in \d+\.\d s$/,
      ),
      outcome: 'succeeded',
      error: null,
      counts: {
        base_events_read: 3,
        events_read: 3,
        events_upserted: 3,
        events_rejected: 0,
        bulk_failures: 0,
      },
    });
    expect((await latestSuccessfulRun(client, prefix))?.run_id).toBe(summary?.run_id);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({
      method: 'POST',
      url: '/metrics/job/event-search-ingest/provider/primary',
    });
    expect(pushes[0]?.body).toMatch(/^event_search_ingest_events_upserted 3$/m);
    expect(pushes[0]?.body).toMatch(/^event_search_ingest_last_success_timestamp_seconds \d+/m);
    // The run did not re-put the templates: their version and content are what the bootstrap left.
    const templatesAfter = await Promise.all(
      [names.eventsTemplate, names.runsTemplate].map(templateOf),
    );
    expect(templatesAfter).toEqual(templatesBefore);
    expect(templatesAfter.map((t) => t.version)).toEqual([TEMPLATES_VERSION, TEMPLATES_VERSION]);
  }, 30_000);

  it("keeps its compiled modules in Node's compile cache (NODE_COMPILE_CACHE, ADR 0016)", async () => {
    const cache = mkdtempSync(join(tmpdir(), 'event-search-compile-cache-'));
    try {
      const run = await runToEnd('ingest', baseEnv({ NODE_COMPILE_CACHE: cache }));
      expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({
        code: 0,
        output: '',
      });
      // One directory per Node version and flags, holding an entry per module compiled.
      const [dir, ...others] = readdirSync(cache);
      expect(others).toEqual([]);
      expect(readdirSync(join(cache, dir as string)).length).toBeGreaterThan(100);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 30_000);

  it('exits non-zero with a precise message when the provider refuses the connection', async () => {
    const port = await freePort();
    const run = await runToEnd(
      'ingest',
      baseEnv({ PROVIDER_URL: `http://127.0.0.1:${port}/feed`, PUSHGATEWAY_URL: pushgatewayUrl }),
    );
    expect(run.code).toBe(1);
    const summary = jsonLines(run.output).at(-1);
    const message = `could not fetch http://127.0.0.1:${port}/feed: connect ECONNREFUSED 127.0.0.1:${port} (2 attempts)`;
    expect(summary).toMatchObject({
      level: 'error',
      phase: 'summary',
      outcome: 'failed',
      error: message,
      msg: expect.stringContaining(`ingest run failed: ${message} (0 events read, 0 written`),
    });
    // The failed run's push leaves out the last-success time rather than pushing 0.
    expect(pushes.at(-1)?.body).not.toMatch(/ingest_last_success_timestamp_seconds/);
  }, 30_000);

  it('a Pushgateway that cannot be reached is only a warning', async () => {
    const port = await freePort();
    const run = await runToEnd('ingest', baseEnv({ PUSHGATEWAY_URL: `http://127.0.0.1:${port}` }));
    expect(run.code).toBe(0);
    const pushed = jsonLines(run.output).find((l) => l.phase === 'metrics_pushed');
    expect(pushed).toMatchObject({ level: 'warn', err: expect.stringMatching(/ECONNREFUSED/) });
  }, 30_000);

  it('exits 2 naming the variable when the configuration is wrong', async () => {
    const run = await runToEnd(
      'ingest',
      baseEnv({ PROVIDER_URL: 'ftp://nowhere', PROVIDER_RETRIES: 'many' }),
    );
    expect(run.code).toBe(2);
    const fatal = jsonLines(run.output).at(-1);
    expect(fatal).toMatchObject({ level: 'fatal', phase: 'config' });
    expect(fatal?.msg).toContain(
      'PROVIDER_URL ("ftp://nowhere/"): must be an absolute http(s) URL',
    );
    expect(fatal?.msg).toContain('PROVIDER_RETRIES ("many")');
  }, 30_000);

  it('exits non-zero when Elasticsearch cannot be reached', async () => {
    const port = await freePort();
    const run = await runToEnd(
      'ingest',
      baseEnv({ ELASTICSEARCH_URL: `http://127.0.0.1:${port}`, ES_REQUEST_TIMEOUT_MS: '1000' }),
    );
    expect(run.code).toBe(1);
    expect(jsonLines(run.output).at(-1)).toMatchObject({
      phase: 'summary',
      outcome: 'failed',
      error: expect.stringMatching(/ECONNREFUSED|connect/i),
    });
  }, 30_000);
});
