// Smoke: a few seconds of light traffic (50 requests/s); fails when the service is broken or slow.
//   k6 run -e BASE_URL=http://127.0.0.1:3000 loadtest/smoke.js
import { pickQuery, search } from './lib.js';

export const options = {
  scenarios: {
    // A gentle, fixed rate: well under the API's per-client rate limit (RATE_LIMIT_MAX per minute).
    smoke: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 50),
      timeUnit: '1s',
      duration: __ENV.DURATION || '10s',
      preAllocatedVUs: 5,
      maxVUs: 20,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{name:/search}': ['p(95)<100', 'p(99)<250'],
  },
};

export default function () {
  search(pickQuery());
}
