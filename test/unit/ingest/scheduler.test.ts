/**
 * The local ingest schedule (`make run`): each run is a child process with the chart's V8 heap
 * flags, its end is logged with its exit code, and stopping forwards the signal to a running child.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { parseEnv, schedulerEnv } from '../../../src/config.js';
import { EXIT_LEASE_HELD } from '../../../src/ingest/lease.js';
import { createIngestScheduler } from '../../../src/ingest/scheduler.js';
import { createLogger } from '../../../src/observability/logger.js';
import { waitUntil } from '../../support/wait.js';

interface Line {
  msg: string;
  code?: number | null;
  signal?: string | null;
}

let dir: string;
let stop: (() => Promise<void>) | undefined;

afterEach(async () => {
  await stop?.();
  stop = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A stand-in for the ingest entry point: writes its Node flags to `argv.json`, then exits with
 * EXIT_CODE, or (HOLD=1) stays until a signal ends it and records the signal.
 */
function entry(): string {
  dir = mkdtempSync(join(tmpdir(), 'scheduler-'));
  const script = join(dir, 'run.mjs');
  writeFileSync(
    script,
    `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(join(dir, 'argv.json'))}, JSON.stringify(process.execArgv));
if (process.env.HOLD === '1') {
  process.on('SIGTERM', () => { writeFileSync(${JSON.stringify(join(dir, 'signal'))}, 'SIGTERM'); process.exit(0); });
  setInterval(() => undefined, 1000);
} else process.exit(Number(process.env.EXIT_CODE ?? 0));
`,
  );
  return script;
}

function start(env: Record<string, string>, nodeFlags?: string[]) {
  const out = new PassThrough();
  const lines: Line[] = [];
  out.on('data', (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
  });
  const script = entry();
  // The child inherits this process's environment when the first run starts (at once, in start()).
  const saved = Object.keys(env).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, env);
  const scheduler = createIngestScheduler({
    intervalSeconds: 3600,
    logger: createLogger({ name: 'ingest-scheduler', destination: out }),
    entry: script,
    ...(nodeFlags ? { nodeFlags } : {}),
  });
  scheduler.start();
  for (const [name, value] of saved) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
  stop = () => scheduler.stop('SIGTERM');
  return { scheduler, lines };
}

describe('createIngestScheduler', () => {
  it('runs at once with the given Node flags and logs the end of the run', async () => {
    const { lines } = start({}, ['--max-semi-space-size=4', '--max-old-space-size=96']);
    await waitUntil(() => lines.some((l) => l.msg === 'ingest run finished'), 'the run ends');
    const argv = JSON.parse(readFileSync(join(dir, 'argv.json'), 'utf8')) as string[];
    expect(argv).toEqual(
      expect.arrayContaining(['--max-semi-space-size=4', '--max-old-space-size=96']),
    );
    expect(lines.find((l) => l.msg === 'ingest run finished')?.code).toBe(0);
  }, 30_000);

  it('logs a failed run with its exit code, and a run that found the lease held as skipped', async () => {
    const failed = start({ EXIT_CODE: '1' });
    await waitUntil(() => failed.lines.some((l) => l.msg === 'ingest run failed'), 'the run fails');
    expect(failed.lines.find((l) => l.msg === 'ingest run failed')?.code).toBe(1);
    await stop?.();
    rmSync(dir, { recursive: true, force: true });

    const held = start({ EXIT_CODE: String(EXIT_LEASE_HELD) });
    const skipped = 'ingest run skipped: another run holds the ingest lease';
    await waitUntil(() => held.lines.some((l) => l.msg === skipped), 'the run is skipped');
    expect(held.lines.some((l) => l.msg === 'ingest run failed')).toBe(false);
  }, 30_000);

  it('forwards the stop signal to a running child and resolves once it has exited', async () => {
    const { scheduler, lines } = start({ HOLD: '1' });
    await waitUntil(() => {
      try {
        readFileSync(join(dir, 'argv.json'));
        return true;
      } catch {
        return false;
      }
    }, 'the run has started');
    stop = undefined;
    await scheduler.stop('SIGTERM');
    expect(readFileSync(join(dir, 'signal'), 'utf8')).toBe('SIGTERM');
    expect(lines.find((l) => l.msg === 'ingest run finished')?.code).toBe(0);
  }, 30_000);
});

describe('INGEST_NODE_FLAGS', () => {
  it("defaults to the chart's ingester.heap, so make run's runs are bounded like the CronJob's", () => {
    const values = parseYaml(readFileSync('charts/event-search/values.yaml', 'utf8')) as {
      ingester: { heap: { semiSpaceMB: number; oldSpaceMB: number } };
    };
    const { semiSpaceMB, oldSpaceMB } = values.ingester.heap;
    expect(parseEnv(schedulerEnv, {}).INGEST_NODE_FLAGS).toEqual([
      `--max-semi-space-size=${semiSpaceMB}`,
      `--max-old-space-size=${oldSpaceMB}`,
    ]);
  });

  it('takes other flags, or none', () => {
    expect(
      parseEnv(schedulerEnv, { INGEST_NODE_FLAGS: ' --max-old-space-size=512 ' }).INGEST_NODE_FLAGS,
    ).toEqual(['--max-old-space-size=512']);
    expect(parseEnv(schedulerEnv, { INGEST_NODE_FLAGS: '' }).INGEST_NODE_FLAGS).toEqual([]);
  });
});
