// Soak: moderate, steady traffic for a long time (default 500 requests/s for 30 minutes), to find
// leaks, cache growth and slow degradation.
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e RATE=500 -e DURATION=30m loadtest/soak.js
import { LATENCY_OBJECTIVE_MS, pickQuery, search } from './lib.js';

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 500),
      timeUnit: '1s',
      duration: __ENV.DURATION || '30m',
      preAllocatedVUs: 50,
      maxVUs: 300,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    'http_req_duration{name:/search}': ['p(95)<20', `p(99)<${LATENCY_OBJECTIVE_MS}`],
  },
};

export default function () {
  search(pickQuery());
}
