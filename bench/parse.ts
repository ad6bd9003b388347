/**
 * Parser benchmark: `npm run bench:parse` (add `-- --small` for a quick run).
 *
 * Generates a feed with src/sim/feed.ts (10,000 base events x 100 zones; --small: 200 x 10) into a
 * temporary file, then measures, each phase in its own child process so peak RSS is its own:
 * - raw:        saxes alone, counting elements (the floor any saxes-based ingester stands on);
 * - full:       the ingester's FeedParser (limits, structure, UTF-8) plus normaliseEvent per event;
 * - xml-stream: the library the design card named, only when it is importable (it needs native
 *               addons built by install scripts, so it is not a dependency of this project).
 * Prints MB, seconds, MB/s, events/s, peak RSS and the ratios to raw.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import { normaliseEvent } from '../src/domain/event.js';
import { FeedParser } from '../src/ingest/parser.js';
import { generateFeed } from '../src/sim/feed.js';

type Phase = 'raw' | 'full' | 'xml-stream';

interface PhaseResult {
  phase: Phase;
  seconds?: number;
  baseEvents?: number;
  events?: number;
  rejected?: number;
  peakRssMb?: number;
  skipped?: string;
}

const HIGH_WATER = 64 * 1024;

async function rawParse(file: string): Promise<Omit<PhaseResult, 'phase'>> {
  const parser = new SaxesParser({ xmlns: false });
  let baseEvents = 0;
  let events = 0;
  parser.on('opentag', (tag) => {
    if (tag.name === 'base_event') baseEvents++;
    else if (tag.name === 'event') events++;
  });
  const started = process.hrtime.bigint();
  for await (const chunk of createReadStream(file, {
    encoding: 'utf8',
    highWaterMark: HIGH_WATER,
  })) {
    parser.write(chunk as string);
  }
  parser.close();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, baseEvents, events };
}

async function fullParse(file: string): Promise<Omit<PhaseResult, 'phase'>> {
  const parser = new FeedParser();
  let rejected = 0;
  const started = process.hrtime.bigint();
  for await (const base of parser.parse(createReadStream(file, { highWaterMark: HIGH_WATER }))) {
    for (const raw of base.events) {
      if (!normaliseEvent('bench', raw).ok) rejected++;
    }
  }
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    baseEvents: parser.stats.baseEvents,
    events: parser.stats.events,
    rejected,
  };
}

interface XmlStreamLike {
  collect(name: string): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
}

async function xmlStreamParse(file: string): Promise<Omit<PhaseResult, 'phase'>> {
  // Not a dependency of the project: scripts/bench-xml-stream.sh installs it (with its native
  // addons) into .cache/bench/xml-stream for this comparison.
  let XmlStream: new (stream: NodeJS.ReadableStream) => XmlStreamLike;
  try {
    const dir = join(
      fileURLToPath(new URL('../../../', import.meta.url)),
      '.cache/bench/xml-stream/',
    );
    XmlStream = createRequire(join(dir, 'package.json'))('xml-stream') as typeof XmlStream;
  } catch (err) {
    const why = (err as { code?: string }).code ?? (err as Error).message;
    return {
      skipped:
        `xml-stream is not installed (${why}): run scripts/bench-xml-stream.sh (it builds the ` +
        'native addons node-expat and iconv, which needs a C++ toolchain), then rerun.',
    };
  }
  const started = process.hrtime.bigint();
  const xml = new XmlStream(createReadStream(file, { highWaterMark: HIGH_WATER }));
  xml.collect('zone');
  xml.collect('event');
  let baseEvents = 0;
  let events = 0;
  await new Promise<void>((resolve, reject) => {
    xml.on('endElement: base_event', (item) => {
      baseEvents++;
      events += ((item as { event?: unknown[] }).event ?? []).length;
    });
    xml.on('end', () => resolve());
    xml.on('error', (e) => reject(e as Error));
  });
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, baseEvents, events };
}

async function child(phase: Phase, file: string): Promise<void> {
  const run = { raw: rawParse, full: fullParse, 'xml-stream': xmlStreamParse }[phase];
  const result: PhaseResult = { phase, ...(await run(file)) };
  if (!result.skipped) result.peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runPhase(phase: Phase, file: string): PhaseResult {
  const self = fileURLToPath(import.meta.url);
  const out = spawnSync(process.execPath, [self, '--phase', phase, file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (out.status !== 0) throw new Error(`phase ${phase} exited with ${out.status}`);
  const line = out.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as PhaseResult;
}

const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      small: { type: 'boolean', default: false },
      phase: { type: 'string' },
      'base-events': { type: 'string' },
      zones: { type: 'string' },
      seed: { type: 'string', default: '42' },
    },
  });
  if (values.phase) {
    const file = positionals[0];
    if (!file) throw new Error('--phase needs the feed file');
    return child(values.phase as Phase, file);
  }

  const baseEvents = Number(values['base-events'] ?? (values.small ? 200 : 10_000));
  const zonesPerEvent = Number(values.zones ?? (values.small ? 10 : 100));
  const seed = Number(values.seed);
  const dir = mkdtempSync(join(tmpdir(), 'event-search-bench-'));
  const file = join(dir, 'feed.xml');
  try {
    const genStart = process.hrtime.bigint();
    await pipeline(generateFeed({ baseEvents, zonesPerEvent, seed }), createWriteStream(file));
    const genSeconds = Number(process.hrtime.bigint() - genStart) / 1e9;
    const mb = statSync(file).size / 1024 / 1024;
    console.log(
      `feed: ${baseEvents} base events x ${zonesPerEvent} zones (seed ${seed}), ${fmt(mb)} MB, generated in ${fmt(genSeconds, 2)} s`,
    );
    console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);

    if (!values.small) {
      // Best effort: without a toolchain the comparison is reported as skipped, with the reason.
      spawnSync(
        'bash',
        [join(fileURLToPath(new URL('../../../', import.meta.url)), 'scripts/bench-xml-stream.sh')],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
    }
    const results = (['raw', 'full', 'xml-stream'] as const).map((p) => runPhase(p, file));
    const raw = results[0];
    console.log(
      `${'phase'.padEnd(12)}${'seconds'.padStart(9)}${'MB/s'.padStart(9)}${'events/s'.padStart(12)}${'peak RSS MB'.padStart(13)}${'x raw'.padStart(8)}`,
    );
    for (const r of results) {
      if (r.skipped || r.seconds === undefined) {
        console.log(`${r.phase.padEnd(12)}skipped: ${r.skipped ?? 'no result'}`);
        continue;
      }
      const ratio = raw?.seconds ? r.seconds / raw.seconds : NaN;
      console.log(
        `${r.phase.padEnd(12)}${fmt(r.seconds, 2).padStart(9)}${fmt(mb / r.seconds).padStart(9)}` +
          `${fmt((r.events ?? 0) / r.seconds, 0).padStart(12)}${fmt(r.peakRssMb ?? 0).padStart(13)}` +
          `${fmt(ratio, 2).padStart(8)}`,
      );
    }
    const full = results[1];
    if (full?.events !== baseEvents || raw?.events !== baseEvents) {
      throw new Error(
        `event counts differ: raw ${raw?.events}, full ${full?.events}, expected ${baseEvents}`,
      );
    }
    console.log(
      `\nfull parse rejected ${full.rejected ?? 0} of ${full.events} events (expected 0)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
