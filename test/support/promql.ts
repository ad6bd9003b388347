/**
 * The observability assets as data, for the tests that check them against the metric catalog
 * (unit) and against real scrapes and a real Prometheus (end-to-end).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
export const readRepoFile = (path: string) => readFileSync(new URL(path, root), 'utf8');

export const DASHBOARD_PATH = 'observability/grafana/dashboards/event-search.json';
export const ALERTS_PATH = 'observability/prometheus/alerts.yml';

export interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}
export interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}
export interface RecordingRule {
  record: string;
  expr: string;
}
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readRepoFile(DASHBOARD_PATH)) as Dashboard;
}

function loadRules(): (AlertRule | RecordingRule)[] {
  const rules = parse(readRepoFile(ALERTS_PATH)) as {
    groups: { rules: (AlertRule | RecordingRule)[] }[];
  };
  return rules.groups.flatMap((g) => g.rules);
}

/** The alerting rules of alerts.yml (rendered from the Helm chart: `make observability-render`). */
export function loadAlerts(): AlertRule[] {
  return loadRules().filter((r): r is AlertRule => 'alert' in r);
}

/** The recording rules of alerts.yml: the RED series the alerts read. */
export function loadRecordingRules(): RecordingRule[] {
  return loadRules().filter((r): r is RecordingRule => 'record' in r);
}

/**
 * Series of Kubernetes' own exporters the dashboard reads (kube-state-metrics, cAdvisor): they
 * exist in a cluster, not in this service's scrape.
 */
export const KUBERNETES_SERIES = /^(kube_|container_)/;

/** Every panel but the row headers (rows may also nest panels). */
export function dashboardPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
}

export interface Query {
  /** Where it comes from: `panel "..."`, `variable ...` or `alert ...`. */
  where: string;
  expr: string;
}

/** The PromQL of every panel target and query variable (`label_values(metric, label)`). */
export function dashboardQueries(dashboard: Dashboard): Query[] {
  return [
    ...dashboardPanels(dashboard).flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
    ),
    ...dashboard.templating.list
      .filter((v) => v.type === 'query')
      .map((v) => ({ where: `variable ${v.name}`, expr: v.definition ?? '' })),
  ];
}

export function alertQueries(alerts: AlertRule[]): Query[] {
  return alerts.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));
}

export function recordingQueries(rules: RecordingRule[]): Query[] {
  return rules.map((r) => ({ where: `record ${r.record}`, expr: r.expr }));
}

/** What Grafana could put in place of the dashboard's variables, to run a query elsewhere. */
export function withVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replace(/\$(route|namespace|job|pod|ingest_job|cronjob)\b/g, '.*');
}

const GROUPING = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'];
const OPERATORS = new Set([...GROUPING, 'and', 'or', 'unless', 'bool', 'offset']);

/**
 * The metric names a PromQL expression selects: the identifiers left once strings, label
 * matchers, ranges, grouping label lists and function names are taken out. For
 * `label_values(metric, label)`, only the metric.
 */
export function metricNames(expr: string): string[] {
  const labelValues = /^\s*label_values\(\s*([A-Za-z_:][\w:]*)\s*(?:\{[^}]*\})?\s*,/.exec(expr);
  if (labelValues) return [labelValues[1] as string];
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(new RegExp(`\\b(?:${GROUPING.join('|')})\\s*\\([^)]*\\)`, 'g'), ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/(?<![\w.$:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const word = m[1] as string;
    if (!OPERATORS.has(word)) names.push(word);
  }
  return names;
}

/**
 * Every metric name the dashboard and the rules use, with where each use is; the series the
 * recording rules make and Kubernetes' own series are left out (they are not this service's).
 */
export function usedMetricNames(): { where: string; name: string }[] {
  const recorded = new Set(loadRecordingRules().map((r) => r.record));
  return [
    ...dashboardQueries(loadDashboard()),
    ...alertQueries(loadAlerts()),
    ...recordingQueries(loadRecordingRules()),
  ].flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((name) => !recorded.has(name) && !KUBERNETES_SERIES.test(name))
      .map((name) => ({ where, name })),
  );
}

/**
 * The series names a Prometheus text exposition defines: every `# TYPE` family (also one with no
 * sample yet, like a labelled counter nothing has incremented), histograms and summaries as the
 * series they expand to.
 */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
    else names.add(name);
  }
  return names;
}
