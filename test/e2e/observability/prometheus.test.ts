/**
 * Metrics over real processes: an ingest run pushes to a real Pushgateway, the API serves
 * /metrics after traffic, and a real Prometheus (Debian's packages, `make prometheus-tools`,
 * started here on loopback) scrapes both, loads the alert rules and answers PromQL.
 */
import { REJECTION_REASONS } from '../../../src/domain/event.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import {
  ROOT,
  eventually,
  freePort,
  node,
  runToEnd,
  start,
  stop,
  type Proc,
} from '../../support/processes.js';
import {
  ALERTS_PATH,
  alertQueries,
  loadRecordingRules,
  recordingQueries,
  dashboardQueries,
  exposedNames,
  loadAlerts,
  loadDashboard,
  usedMetricNames,
  withVariables,
} from '../../support/promql.js';

const TOOLS = ['promtool', 'prometheus', 'prometheus-pushgateway'];
const missing = TOOLS.filter(
  (tool) =>
    !execFileSync('bash', ['-c', `command -v ${tool} || true`])
      .toString()
      .trim(),
);

/** The provider's feed: two good events and one the ingester must reject. */
const FEED = `<?xml version="1.0" encoding="UTF-8"?>
<eventList version="1.0"><output>
  <base_event base_event_id="291" sell_mode="online" title="Camela en concierto">
    <event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="291" sell_from="2020-07-01T00:00:00" sell_to="2021-06-30T20:00:00" sold_out="false">
      <zone zone_id="40" capacity="243" price="20.00" name="Platea" numbered="true" />
    </event>
  </base_event>
  <base_event base_event_id="322" sell_mode="online" title="Pantomima Full">
    <event event_start_date="2021-02-10T20:00:00" event_end_date="2021-02-10T21:30:00" event_id="1642" sell_from="2021-01-01T00:00:00" sell_to="2021-02-09T19:50:00" sold_out="false">
      <zone zone_id="311" capacity="2" price="55.00" name="A42" numbered="true" />
    </event>
  </base_event>
  <base_event base_event_id="900" sell_mode="online" title="Ends before it starts">
    <event event_start_date="2021-03-10T20:00:00" event_end_date="2021-03-10T19:00:00" event_id="901" sell_from="2021-01-01T00:00:00" sell_to="2021-03-09T19:50:00" sold_out="false">
      <zone zone_id="1" capacity="10" price="5.00" name="A" numbered="false" />
    </event>
  </base_event>
</output></eventList>`;

const store = testStoreEnv('e2e-prom');
const client = testClient(store);
const tmp = mkdtempSync(join(tmpdir(), 'event-search-prometheus-'));
let feed: Server | undefined;
let pushgateway: Proc | undefined;
let api: Proc | undefined;
let prometheus: Proc | undefined;
let apiUrl: string;
let pushgatewayUrl: string;
let prometheusUrl: string;
const SEARCHES = 5;

async function ready(url: string, what: string, proc: Proc): Promise<void> {
  await eventually(
    async () => ((await fetch(url)).ok ? true : undefined),
    30_000,
    `${what}\n${proc.output()}`,
  );
}

interface PromResponse<T> {
  status: string;
  data: T;
  error?: string;
}
type Vector = { result: { metric: Record<string, string>; value: [number, string] }[] };

async function promql(query: string): Promise<PromResponse<Vector>> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  return (await res.json()) as PromResponse<Vector>;
}

beforeAll(async () => {
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: run \`make prometheus-tools\``);
  }
  const [feedPort, pgPort, apiPort, promPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  feed = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/xml' }).end(FEED),
  );
  await new Promise<void>((resolve) => feed?.listen(feedPort, '127.0.0.1', resolve));

  pushgatewayUrl = `http://127.0.0.1:${pgPort}`;
  pushgateway = start('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${pgPort}`], {});
  await ready(`${pushgatewayUrl}/-/ready`, 'the Pushgateway', pushgateway);

  const storeVars = {
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
  };
  const boot = await runToEnd('bootstrap', storeVars);
  if (boot.code !== 0) throw new Error(`bootstrap failed:\n${boot.output}`);
  const run = await runToEnd('ingest', {
    ...storeVars,
    PROVIDER_URL: `http://127.0.0.1:${feedPort}/feed`,
    PROVIDER_NAME: 'main',
    PUSHGATEWAY_URL: pushgatewayUrl,
  });
  if (run.code !== 0) throw new Error(`the ingest run failed:\n${run.output}`);

  apiUrl = `http://127.0.0.1:${apiPort}`;
  api = node('api', { ...storeVars, PORT: String(apiPort), FRESHNESS_POLL_MS: '200' });
  await ready(`${apiUrl}/readyz`, 'the API', api);
  // Traffic: searches once the API has seen the run, a bad request, an unknown route, a probe.
  await eventually(
    async () => {
      const res = await fetch(
        `${apiUrl}/search?starts_at=2021-01-01T00:00:00&ends_at=2021-12-31T00:00:00`,
      );
      const body = (await res.json()) as { data?: { events: unknown[] } };
      return res.ok && (body.data?.events.length ?? 0) >= 2 ? true : undefined;
    },
    20_000,
    'the API to serve the ingested events',
  );
  for (let i = 0; i < SEARCHES; i++) {
    await fetch(
      `${apiUrl}/search?starts_at=2021-0${i + 1}-01T00:00:00&ends_at=2021-12-31T00:00:00`,
    );
  }
  await fetch(`${apiUrl}/search?starts_at=yesterday`);
  await fetch(`${apiUrl}/no/such/route?secret=1`);
  await fetch(`${apiUrl}/healthz`);

  const config = join(tmp, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(ROOT, ALERTS_PATH)],
      scrape_configs: [
        // The labels the chart's rules select by, as compose's prometheus.yml gives them.
        {
          job_name: 'event-search-api',
          static_configs: [{ targets: [`127.0.0.1:${apiPort}`], labels: { namespace: 'local' } }],
        },
        {
          job_name: 'pushgateway',
          honor_labels: true,
          static_configs: [{ targets: [`127.0.0.1:${pgPort}`] }],
        },
      ],
    }),
  );
  prometheusUrl = `http://127.0.0.1:${promPort}`;
  prometheus = start(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    {},
  );
  await ready(`${prometheusUrl}/-/ready`, 'Prometheus', prometheus);
}, 120_000);

afterAll(async () => {
  for (const proc of [prometheus, api, pushgateway]) if (proc) await stop(proc);
  await new Promise<void>((resolve) => (feed ? feed.close(() => resolve()) : resolve()));
  await dropPrefix(client, store.ES_INDEX_PREFIX);
  await client.close();
  rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('the API /metrics after traffic', () => {
  it('passes promtool check metrics', async () => {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: check.status, output: check.stdout + check.stderr }).toEqual({
      status: 0,
      output: '',
    });
  });

  it('labels requests by route template, never by raw path or query', async () => {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    expect(text).toMatch(
      new RegExp(
        `event_search_http_requests_total\\{method="GET",route="/search",status="200"\\} ${SEARCHES + 1}\\b`,
      ),
    );
    expect(text).toContain('route="/search",status="400"');
    expect(text).toContain('route="unmatched",status="404"');
    expect(text).not.toContain('/no/such/route');
    expect(text).not.toContain('starts_at');
  });
});

describe('every metric the dashboard and the alerts use', () => {
  it('exists in a real scrape of the API or of the Pushgateway', async () => {
    const scraped = new Set([
      ...exposedNames(await (await fetch(`${apiUrl}/metrics`)).text()),
      ...exposedNames(await (await fetch(`${pushgatewayUrl}/metrics`)).text()),
    ]);
    const used = usedMetricNames().filter(({ name }) => name !== 'up');
    expect(used.length).toBeGreaterThan(40);
    expect(used.filter(({ name }) => !scraped.has(name))).toEqual([]);
  });
});

describe('a real Prometheus scraping the API and the Pushgateway', () => {
  it('answers PromQL with the request counter', async () => {
    const value = await eventually(
      async () => {
        const res = await promql(
          'sum(event_search_http_requests_total{route="/search", status="200"})',
        );
        const v = res.data.result[0]?.value[1];
        return v === undefined ? undefined : Number(v);
      },
      30_000,
      `the request counter in Prometheus\n${prometheus?.output() ?? ''}`,
    );
    expect(value).toBeGreaterThanOrEqual(SEARCHES + 1);
  }, 40_000);

  it('has the ingest run pushed under job event-search-ingest, by provider', async () => {
    const upserted = await eventually(
      async () => {
        const res = await promql(
          'event_search_ingest_events_upserted{job="event-search-ingest", provider="main"}',
        );
        return res.data.result[0]?.value[1];
      },
      30_000,
      'the pushed ingest metrics in Prometheus',
    );
    expect(Number(upserted)).toBe(2);
    // Every reason is pushed (0 when it did not occur), so the series exist after any run.
    const rejected = await promql('sum by (reason) (event_search_ingest_events_rejected > 0)');
    expect(rejected.data.result).toEqual([
      { metric: { reason: 'end_before_start' }, value: [expect.any(Number), '1'] },
    ]);
    const reasons = await promql('count(event_search_ingest_events_rejected)');
    expect(Number(reasons.data.result[0]?.value[1])).toBe(REJECTION_REASONS.length);
  }, 40_000);

  it('runs every dashboard query and alert expression without error', async () => {
    const queries = [
      ...dashboardQueries(loadDashboard()),
      ...alertQueries(loadAlerts()),
      ...recordingQueries(loadRecordingRules()),
    ].filter((q) => !q.expr.startsWith('label_values('));
    const failures: { where: string; error?: string }[] = [];
    for (const q of queries) {
      const res = await promql(withVariables(q.expr));
      if (res.status !== 'success') failures.push({ where: q.where, error: res.error });
    }
    expect(queries.length).toBeGreaterThan(30);
    expect(failures).toEqual([]);
  });

  it("records the release's RED series from the scrapes (the rules' scoping matches)", async () => {
    const rate = await eventually(
      async () => {
        const res = await promql(
          'event_search:http_requests:rate5m{namespace="local", job="event-search-api"}',
        );
        return res.data.result[0]?.value[1];
      },
      30_000,
      'the recording rule event_search:http_requests:rate5m',
    );
    expect(Number(rate)).toBeGreaterThanOrEqual(0);
  }, 40_000);

  it('loads the alert rules and evaluates each of them healthily', async () => {
    const names = loadAlerts().map((a) => a.alert);
    const rules = await eventually(
      async () => {
        const res = await fetch(`${prometheusUrl}/api/v1/rules?type=alert`);
        const body = (await res.json()) as PromResponse<{
          groups: { rules: { name: string; health: string; lastError?: string }[] }[];
        }>;
        const all = body.data.groups.flatMap((g) => g.rules);
        return all.length === names.length && all.every((r) => r.health !== 'unknown')
          ? all
          : undefined;
      },
      30_000,
      'Prometheus to evaluate the alert rules',
    );
    expect(
      rules.map((r) => ({ name: r.name, health: r.health, lastError: r.lastError ?? '' })),
    ).toEqual(names.map((name) => ({ name, health: 'ok', lastError: '' })));
  }, 40_000);
});
