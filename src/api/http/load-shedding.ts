/**
 * Load shedding: when the event loop lags, every request waits behind every other one and all of
 * them get slow. Past a threshold it is better to answer some searches with a fast 503 (and a
 * short Retry-After, so a balancer or client tries another replica or later) than to answer all of
 * them late.
 *
 * The lag is sampled every `sampleIntervalMs` (default 100 ms) from two measures, the larger wins:
 * - node's built-in event-loop delay histogram (`perf_hooks.monitorEventLoopDelay`), its mean over
 *   the last interval minus its resolution (as fastify's under-pressure does);
 * - the drift of the sampling timer itself (how late it fired), which sees a single long block at
 *   once even when the histogram has not recorded it yet.
 *
 * Shedding starts when the lag is above the threshold on `samplesToShed` consecutive samples
 * (default 2, i.e. ~200 ms of sustained lag): a lone spike (a GC pause, the process not being
 * scheduled for a moment) is over by the time it is measured, and refusing the requests queued
 * behind it would help nobody. It stops at the first sample below the threshold.
 *
 * Probes and /metrics are never shed (the middleware is mounted on /search only).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Context, Middleware, Next } from 'koa';
import { refuse } from './responses.js';

/** Milliseconds of event-loop lag measured since the previous call. */
export type LagSource = () => number;

export interface LoadShedderOptions {
  /** Lag (ms) above which requests are shed; 0 disables shedding. */
  maxLagMs: number;
  sampleIntervalMs?: number;
  /** Consecutive samples above the threshold before shedding starts (default 2). */
  samplesToShed?: number;
  /** Default: node's event-loop delay histogram (see eventLoopDelaySource). */
  lagSource?: LagSource & { close?: () => void };
  /** Clock for the timer drift (tests inject one). */
  now?: () => number;
}

/** A LagSource over `monitorEventLoopDelay`: mean delay since the last read, reset at each read. */
export function eventLoopDelaySource(resolutionMs = 10): LagSource & { close: () => void } {
  const histogram: ReturnType<typeof monitorEventLoopDelay> = monitorEventLoopDelay({
    resolution: resolutionMs,
  });
  histogram.enable();
  const read = () => {
    // No sample yet (the loop was blocked for the whole interval): the mean is NaN.
    const mean = histogram.count === 0 ? 0 : histogram.mean / 1e6;
    histogram.reset();
    return Math.max(0, mean - resolutionMs);
  };
  return Object.assign(read, { close: () => histogram.disable() });
}

export class LoadShedder {
  readonly maxLagMs: number;
  readonly sampleIntervalMs: number;
  readonly samplesToShed: number;
  private readonly lagSource: LagSource & { close?: () => void };
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private lastSampleAt: number | undefined;
  private lag = 0;
  private above = 0;
  private shedding = false;

  constructor(opts: LoadShedderOptions) {
    this.maxLagMs = opts.maxLagMs;
    this.sampleIntervalMs = opts.sampleIntervalMs ?? 100;
    this.samplesToShed = Math.max(1, opts.samplesToShed ?? 2);
    this.lagSource = opts.lagSource ?? (this.maxLagMs > 0 ? eventLoopDelaySource() : () => 0);
    this.now = opts.now ?? (() => performance.now());
  }

  /** The lag (ms) seen at the last sample. */
  get lagMs(): number {
    return this.lag;
  }

  /** True while requests should be shed. */
  get overloaded(): boolean {
    return this.shedding;
  }

  /** Takes one sample and decides (the timer calls it; tests call it directly). */
  sample(): void {
    const now = this.now();
    const drift =
      this.lastSampleAt === undefined
        ? 0
        : Math.max(0, now - this.lastSampleAt - this.sampleIntervalMs);
    this.lastSampleAt = now;
    this.lag = Math.max(drift, this.lagSource());
    this.above = this.maxLagMs > 0 && this.lag > this.maxLagMs ? this.above + 1 : 0;
    this.shedding = this.above >= this.samplesToShed;
  }

  /** Samples every `sampleIntervalMs` (the timer does not keep the process alive). */
  start(): this {
    if (this.timer || this.maxLagMs <= 0) return this;
    this.lastSampleAt = this.now();
    this.timer = setInterval(() => this.sample(), this.sampleIntervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.above = 0;
    this.shedding = false;
    this.lagSource.close?.();
  }
}

export interface ShedOptions {
  retryAfterSeconds: number;
  /** Called for each shed request (the metrics counter). */
  onShed?: (ctx: Context) => void;
}

/** Answers a fast 503 `overloaded` with Retry-After while `shedder` says so. */
export function shedWhenOverloaded(
  shedder: Pick<LoadShedder, 'overloaded' | 'lagMs'>,
  opts: ShedOptions,
): Middleware {
  return (ctx: Context, next: Next) => {
    if (!shedder.overloaded) return next();
    opts.onShed?.(ctx);
    refuse(ctx, {
      status: 503,
      code: 'overloaded',
      message: 'The service is overloaded; retry after the delay in Retry-After',
      retryAfterSeconds: opts.retryAfterSeconds,
    });
  };
}
