// Smoke: a few seconds of light traffic; fails when the service is broken or slow.
//   k6 run -e BASE_URL=http://127.0.0.1:3000 loadtest/smoke.js
import { pickQuery, search } from './lib.js';

export const options = {
  scenarios: {
    smoke: { executor: 'constant-vus', vus: 5, duration: __ENV.DURATION || '10s' },
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
