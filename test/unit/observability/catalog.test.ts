/**
 * Every metric the Grafana dashboard and the alert rules use is defined in the catalog
 * (src/observability/metrics.ts) or is a standard series, and every alert has its runbook section.
 * (test/e2e/observability/prometheus.test.ts checks the same names against real scrapes.)
 */
import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import {
  METRIC_PREFIX,
  createApiMetrics,
  createIngestMetrics,
} from '../../../src/observability/metrics.js';
import {
  dashboardPanels,
  loadAlerts,
  loadDashboard,
  metricNames,
  readRepoFile,
  usedMetricNames,
} from '../../support/promql.js';

/** Series Prometheus itself makes, not the service: scrape health. */
const STANDARD = new Set(['up']);

/** Names a scrape of the catalog shows: histograms as their _bucket, _sum and _count series. */
async function catalogNames(): Promise<Set<string>> {
  const registry = new Registry();
  createApiMetrics(registry);
  createIngestMetrics(registry);
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    const type = String(metric.type);
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of ['_sum', '_count']) names.add(metric.name + suffix);
      if (type === 'histogram') names.add(`${metric.name}_bucket`);
      else names.add(metric.name);
    } else {
      names.add(metric.name);
    }
  }
  return names;
}

const dashboard = loadDashboard();
const alerts = loadAlerts();

describe('metricNames', () => {
  it('finds the selected metrics and nothing else', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route=~"$route", x="by (y)"}[$__rate_interval]))) / on (route) group_left b > bool 0.5 unless time() - c offset 1h or absent(d)',
      ),
    ).toEqual(['a_bucket', 'b', 'c', 'd']);
    expect(metricNames('label_values(event_search_http_requests_total, route)')).toEqual([
      'event_search_http_requests_total',
    ]);
    expect(metricNames('label_values(m_total{namespace=~"$namespace"}, job)')).toEqual(['m_total']);
  });
});

describe('the metric catalog behind the dashboard and the alerts', () => {
  it('defines every event_search_* metric they use', async () => {
    const known = await catalogNames();
    const used = usedMetricNames();
    expect(used.length).toBeGreaterThan(40);
    const unknown = used.filter(
      ({ name }) => !(name.startsWith(METRIC_PREFIX) ? known.has(name) : STANDARD.has(name)),
    );
    expect(unknown).toEqual([]);
    // The dashboard shows every family it promises: traffic, errors, latency, cache,
    // Elasticsearch, freshness, ingest, shedding, replicas.
    const usedNames = new Set(used.map((u) => u.name));
    for (const name of [
      'event_search_http_requests_total',
      'event_search_http_request_duration_seconds_bucket',
      'event_search_search_cache_lookups_total',
      'event_search_es_request_duration_seconds_bucket',
      'event_search_es_request_errors_total',
      'event_search_es_up',
      'event_search_data_age_seconds',
      'event_search_ingest_events_read',
      'event_search_ingest_events_upserted',
      'event_search_ingest_events_rejected',
      'event_search_ingest_last_run_timestamp_seconds',
      'event_search_http_requests_shed_total',
      'event_search_http_requests_in_flight',
    ]) {
      expect(usedNames).toContain(name);
    }
  });

  it('knows histogram series by their suffixes and default metrics by their prefix', async () => {
    const known = await catalogNames();
    expect(known.has('event_search_http_requests_total')).toBe(true);
    expect(known.has('event_search_http_request_duration_seconds_count')).toBe(true);
    expect(known.has('event_search_process_resident_memory_bytes')).toBe(true);
    expect(known.has('event_search_http_request_duration_seconds')).toBe(false);
    expect(known.has('event_search_http_requests')).toBe(false);
  });
});

describe('the API registry', () => {
  it('names only counters ..._total (promtool check metrics rejects a gauge named so)', async () => {
    const registry = createApiMetrics().registry;
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.map((m) => m.name)).toContain('event_search_nodejs_active_handles');
    const misnamed = metrics
      .filter((m) => m.name.endsWith('_total') && String(m.type) !== 'counter')
      .map((m) => m.name);
    expect(misnamed).toEqual([]);
  });
});

describe('the dashboard', () => {
  it('takes its Prometheus data source from the DS_PROMETHEUS variable everywhere', () => {
    const ds = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    const panels = dashboardPanels(dashboard);
    expect(panels.length).toBeGreaterThan(20);
    for (const panel of panels) {
      expect({ panel: panel.title, ds: panel.datasource }).toEqual({
        panel: panel.title,
        ds: { type: 'prometheus', uid: '${DS_PROMETHEUS}' },
      });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) expect(t.datasource?.uid).toBe('${DS_PROMETHEUS}');
    }
  });
});

describe('the alert rules', () => {
  const anchors = new Set(
    [...readRepoFile('docs/runbook.md').matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
      (m[1] as string)
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    ),
  );

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s has a severity, a text and a runbook section',
    (name, alert) => {
      expect(['critical', 'warning']).toContain(alert.labels.severity);
      expect(alert.annotations.summary).toBeTruthy();
      expect(alert.annotations.description).toBeTruthy();
      const anchor = name.toLowerCase();
      // Absolute (Alertmanager and chat tools open it), from the chart's metrics.runbookBaseUrl.
      expect(alert.annotations.runbook_url).toMatch(new RegExp(`^https?://[^#]+#${anchor}$`));
      expect(anchors).toContain(anchor);
    },
  );

  it('covers the conditions the issue asks for', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'EventSearchDataStale',
        'EventSearchHighErrorRate',
        'EventSearchLatencySLO',
        'EventSearchElasticsearchUnreachable',
        'EventSearchIngestFailing',
      ]),
    );
  });
});
