import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import supertest from 'supertest';
import { answeringNoEvents, appWith } from '../../support/app.js';
import { eventLoopDelaySource, LoadShedder } from '../../../src/api/http/load-shedding.js';
import { createApiMetrics } from '../../../src/observability/metrics.js';
import { ContractViolation, expectContract } from '../../support/openapi.js';

/** A shedder driven by a scripted lag source and a manual clock. */
function scripted(maxLagMs: number, samplesToShed = 2, sampleIntervalMs = 100) {
  const lags: number[] = [];
  let clock = 0;
  const shedder = new LoadShedder({
    maxLagMs,
    sampleIntervalMs,
    samplesToShed,
    lagSource: () => lags.shift() ?? 0,
    now: () => clock,
  });
  return {
    shedder,
    /** One timer tick `elapsed` ms after the previous one, with the histogram reporting `lag`. */
    tick(elapsed: number, lag = 0) {
      clock += elapsed;
      lags.push(lag);
      shedder.sample();
    },
  };
}

describe('LoadShedder', () => {
  it('sheds while the lag stays above the threshold, and only then', () => {
    const { shedder, tick } = scripted(70);
    expect(shedder.overloaded).toBe(false);
    tick(100, 5);
    expect([shedder.overloaded, shedder.lagMs]).toEqual([false, 5]);
    tick(100, 70); // at the threshold: not above it
    tick(100, 70);
    expect(shedder.overloaded).toBe(false);
    tick(100, 71); // above once: a spike, not yet overload
    expect([shedder.overloaded, shedder.lagMs]).toEqual([false, 71]);
    tick(100, 250); // above twice in a row: shed
    expect([shedder.overloaded, shedder.lagMs]).toEqual([true, 250]);
    tick(100, 90);
    expect(shedder.overloaded).toBe(true);
    tick(100, 3); // recovered: answers resume at the first sample below
    expect([shedder.overloaded, shedder.lagMs]).toEqual([false, 3]);
  });

  it('ignores a lone spike between normal samples', () => {
    const { shedder, tick } = scripted(70);
    for (const lag of [0, 500, 0, 300, 10, 200]) {
      tick(100, lag);
      expect(shedder.overloaded).toBe(false);
    }
  });

  it('sees a blocked loop through its own timer drift even when the histogram does not', () => {
    const { shedder, tick } = scripted(70, 1);
    tick(100, 0);
    tick(400, 0); // the timer fired 300 ms late: the loop was blocked
    expect([shedder.overloaded, shedder.lagMs]).toEqual([true, 300]);
    tick(100, 0);
    expect(shedder.overloaded).toBe(false);
  });

  it('never sheds when disabled (SHED_LAG_MS=0)', () => {
    const { shedder, tick } = scripted(0, 1);
    tick(5_000, 5_000);
    expect(shedder.lagMs).toBe(5_000);
    expect(shedder.overloaded).toBe(false);
    expect(shedder.start()).toBe(shedder); // no timer is started either
    shedder.stop();
  });

  it('reads a real lag from the event-loop delay histogram', async () => {
    const source = eventLoopDelaySource(10);
    try {
      await new Promise((r) => setTimeout(r, 50));
      source(); // reset (the histogram skips its first tick after a reset)
      await new Promise((r) => setTimeout(r, 25));
      const until = Date.now() + 200;
      while (Date.now() < until); // block the loop
      await new Promise((r) => setTimeout(r, 30));
      expect(source()).toBeGreaterThan(20);
    } finally {
      source.close();
    }
  });
});

describe('shedding /search (app wiring)', () => {
  function app(overloaded: boolean) {
    const metrics = createApiMetrics(new Registry());
    const shedder = { overloaded, lagMs: overloaded ? 250 : 0 };
    const koa = appWith(
      { SHED_RETRY_AFTER_SECONDS: '2', RATE_LIMIT_ENABLED: 'false' },
      {
        metrics,
        cache: answeringNoEvents('miss'),
        shedder,
      },
    );
    return { http: supertest(koa.callback()), metrics, shedder };
  }

  it('answers a 503 `overloaded` with Retry-After, counted, while overloaded', async () => {
    const a = app(true);
    const res = expectContract('/search', await a.http.get('/search'));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      error: { code: 'overloaded', message: expect.stringMatching(/overloaded/) },
      data: null,
    });
    expect((await a.metrics.shed.get()).values[0]?.value).toBe(1);
    const text = (await a.http.get('/metrics')).text;
    expect(text).toMatch(/event_search_http_requests_shed_total 1/);
    expect(text).toMatch(/route="\/search",status="503"/);
  });

  it('never sheds the probes or /metrics', async () => {
    const a = app(true);
    expect((await a.http.get('/healthz')).status).toBe(200);
    expect((await a.http.get('/readyz')).status).toBe(200);
    expect((await a.http.get('/metrics')).status).toBe(200);
    expect((await a.metrics.shed.get()).values[0]?.value ?? 0).toBe(0);
  });

  it('answers normally when not overloaded', async () => {
    const a = app(false);
    const res = expectContract('/search', await a.http.get('/search'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { events: [] }, error: null });
  });

  it('is checked by the contract validator (a shed answer without Retry-After would fail)', () => {
    expect(() =>
      expectContract('/search', {
        status: 503,
        headers: { 'content-type': 'application/json' },
        body: { error: { code: 'overloaded', message: 'x' }, data: null },
      }),
    ).toThrow(ContractViolation);
  });
});
