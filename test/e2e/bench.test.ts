/**
 * The benchmarks in their smoke size (`--small`), so they cannot rot: each must complete and print
 * its figures and its JSON summary. Speed is not asserted here (see docs/performance.md).
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { ROOT } from '../support/processes.js';

function runBench(
  name: string,
  args: string[] = [],
): { summary: Record<string, unknown>; output: string } {
  const out = spawnSync(process.execPath, [`dist/bench/bench/${name}.js`, '--small', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'warn' },
    timeout: 180_000,
  });
  const output = `${out.stdout}\n${out.stderr}`;
  if (out.status !== 0) throw new Error(`bench ${name} exited ${String(out.status)}:\n${output}`);
  const last = out.stdout.trim().split('\n').at(-1) ?? '';
  return {
    summary: last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : {},
    output,
  };
}

/** A figure a benchmark may report: a finite number above zero (0, negatives and NaN fail). */
export function isPositiveFigure(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}
const positive = {
  asymmetricMatch: isPositiveFigure,
  toString: () => 'PositiveFigure',
  toAsymmetricMatcher: () => 'a finite number > 0',
};

/** A duration read from log lines: finite and not negative (a missing line gives NaN). */
const nonNegative = {
  asymmetricMatch: (value: unknown) =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0,
  toString: () => 'NonNegativeFigure',
  toAsymmetricMatcher: () => 'a finite number >= 0',
};

/** The figures after `label` on its output line, each a positive number. */
function figuresOf(output: string, label: string): number[] {
  const line = output.split('\n').find((l) => l.trim().startsWith(`${label} `));
  if (!line) throw new Error(`no "${label}" line in:\n${output}`);
  return (line.match(/[-\d.,]+|NaN|Infinity/g) ?? []).map((f) => Number(f.replace(/,/g, '')));
}

beforeAll(() => {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'bench/tsconfig.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}, 120_000);

describe('what counts as a figure', () => {
  it('rejects 0, negative, NaN and infinite figures', () => {
    for (const bad of [0, -1, -0.5, NaN, Infinity, '12', null, undefined]) {
      expect(isPositiveFigure(bad)).toBe(false);
    }
    expect(isPositiveFigure(0.01)).toBe(true);
    expect({ ratio: 0 }).not.toMatchObject({ ratio: positive });
    expect({ ratio: NaN }).not.toMatchObject({ ratio: positive });
  });
});

describe('benchmarks (smoke size)', () => {
  it('parse: raw saxes vs the full parse, with figures', () => {
    const { output } = runBench('parse');
    expect(output).toMatch(/raw\s+[\d.]+\s+[\d.,]+\s+[\d,]+/);
    expect(output).toMatch(/full\s+[\d.]+/);
    for (const label of ['raw', 'full']) {
      // seconds (rounded to 0.01, may print 0.00 at smoke size), then MB/s, events/s, RSS, x raw.
      const figures = figuresOf(output, label).slice(1);
      expect(figures).toHaveLength(4);
      for (const f of figures) expect(f).toEqual(positive);
    }
    expect(output).toContain('full parse rejected 0 of 200 events');
  }, 180_000);

  it('search: hot and cold, each with a ratio to its baseline', () => {
    const { summary } = runBench('search');
    expect(summary).toMatchObject({
      bench: 'search',
      hot: {
        ratio: positive,
        failures: 0,
        baseline: { requestsPerSecond: positive },
        // The CPU each server process used per answer (read from /proc: this machine is Linux).
        api: { errors: 0, non2xx: 0, cpuMicrosPerAnswer: positive },
      },
      cold: {
        ratio: positive,
        failures: 0,
        // Elasticsearch's CPU per answer on each side (its _nodes/stats), beside the API's.
        baseline: {
          requestsPerSecond: positive,
          esCpuMicrosPerAnswer: positive,
          bytesPerAnswer: positive,
        },
        // The API's CPU with its system (kernel) part, and the bytes of its answers.
        api: {
          errors: 0,
          non2xx: 0,
          cpuMicrosPerAnswer: positive,
          systemCpuMicrosPerAnswer: nonNegative,
          esCpuMicrosPerAnswer: positive,
          bytesPerAnswer: positive,
        },
        elasticsearchRequests: { misses: positive },
      },
    });
  }, 180_000);

  it('ingest: first and unchanged runs beside their baselines, and the 10x feed', () => {
    const { summary, output } = runBench('ingest', ['--trace-gc']);
    // Elasticsearch warmed up first (not counted): two passes at least, six at most.
    const passes = (summary as { warmUpSeconds?: unknown[] }).warmUpSeconds ?? [];
    expect(passes.length).toBeGreaterThanOrEqual(2);
    expect(passes.length).toBeLessThanOrEqual(6);
    for (const pass of passes) expect(pass).toEqual(positive);
    // With --trace-gc, the first run's collections (at least the start's scavenges).
    const scavenges = Number(
      /its garbage collections \(--trace-gc\): (\d+) scavenges/.exec(output)?.[1],
    );
    expect(scavenges).toBeGreaterThan(0);
    expect(summary).toMatchObject({
      bench: 'ingest',
      ratio: positive,
      bareBulkSeconds: positive,
      firstRatio: positive,
      unchangedRatio: positive,
      ingest: {
        eventsUpserted: 500,
        itemsChanged: 500,
        peakRssMb: positive,
        gc: { scavenges, scavengeMs: expect.any(Number) },
        phasesMs: { boot: positive, parse: nonNegative, write: nonNegative },
      },
      // The same feed again changes nothing (docs/adr/0013-change-driven-data.md).
      unchanged: { eventsUpserted: 500, itemsChanged: 0 },
      large: { eventsUpserted: 5000, peakRssMb: positive },
    });
  }, 180_000);
});
