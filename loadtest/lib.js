// Shared by the k6 scripts: the target, the request mix and the checks.
import http from 'k6/http';
import { check } from 'k6';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:3000';

// The latency objective of /search: p99 under 50 ms. The same figure is the chart's
// metrics.latencyObjectiveSeconds (the EventSearchLatencySLO alert) and docs/performance.md's
// objective; test/unit/deploy/test_chart.py checks they agree. It is a bucket boundary of the
// API's latency histogram, so the alert measures it exactly.
export const LATENCY_OBJECTIVE_MS = 50;

// Windows many clients ask for (a landing page, "this month", "this year"...): mostly cache hits.
const POPULAR = [
  'starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z',
  'starts_at=2021-06-01T00:00:00Z&ends_at=2021-07-01T00:00:00Z',
  'starts_at=2021-01-01T00:00:00Z&ends_at=2022-01-01T00:00:00Z',
  'starts_at=2021-07-01T00:00:00%2B02:00&ends_at=2021-08-01T00:00:00%2B02:00',
  'ends_at=2021-12-31T23:59:59Z',
];

const DAY = 24 * 3600 * 1000;
const EPOCH_2021 = Date.UTC(2021, 0, 1);

function isoSeconds(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A random window within 2021-2022, from one hour to 90 days long, at a whole hour. */
export function randomWindow() {
  const start =
    EPOCH_2021 + Math.floor(Math.random() * 700) * DAY + Math.floor(Math.random() * 24) * 3600_000;
  const length = 3600_000 * (1 + Math.floor(Math.random() * 90 * 24));
  return `starts_at=${isoSeconds(start)}&ends_at=${isoSeconds(start + length)}`;
}

/** 60% popular windows, 30% random windows, 10% no parameters. */
export function pickQuery() {
  const r = Math.random();
  if (r < 0.6) return POPULAR[Math.floor(Math.random() * POPULAR.length)];
  if (r < 0.9) return randomWindow();
  return '';
}

export function search(query) {
  const url = query ? `${BASE_URL}/search?${query}` : `${BASE_URL}/search`;
  const res = http.get(url, { tags: { name: '/search' } });
  check(res, {
    'status is 200': (r) => r.status === 200,
    'body has data.events': (r) => {
      try {
        const body = r.json();
        return body.error === null && Array.isArray(body.data.events);
      } catch {
        return false;
      }
    },
  });
  return res;
}
