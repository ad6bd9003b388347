// Peak: an open model (constant arrival rate) ramping to PEAK_RATE requests/s (default 10,000),
// with a realistic mix of popular windows, random windows and no parameters.
//   k6 run -e BASE_URL=https://search.example.com -e PEAK_RATE=10000 loadtest/peak.js
// On one machine with the load generator beside the API, use PEAK_RATE=5000 (see docs/performance.md).
import { LATENCY_OBJECTIVE_MS, pickQuery, search } from './lib.js';

const PEAK = Number(__ENV.PEAK_RATE || 10000);
const HOLD = __ENV.HOLD || '1m';

export const options = {
  discardResponseBodies: false,
  scenarios: {
    peak: {
      executor: 'ramping-arrival-rate',
      startRate: Math.ceil(PEAK / 10),
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 200),
      maxVUs: Number(__ENV.MAX_VUS || 1000),
      stages: [
        { target: Math.ceil(PEAK / 2), duration: '30s' },
        { target: Math.ceil(PEAK / 2), duration: HOLD },
        { target: PEAK, duration: '30s' },
        { target: PEAK, duration: HOLD },
        { target: 0, duration: '10s' },
      ],
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    'http_req_duration{name:/search}': ['p(95)<10', `p(99)<${LATENCY_OBJECTIVE_MS}`],
    dropped_iterations: ['count<100'],
  },
};

export default function () {
  search(pickQuery());
}
