/**
 * Where an ingest run's time went, from the V8 CPU profile of its process (docs/adr/0016-*.md):
 * self time by part of the run (saxes, the parser's handlers, the normalisation, the documents,
 * the feed's download, the Elasticsearch client, garbage collection, idle...), split into three
 * spans: the start (before the first saxes sample), the parse (first to last saxes sample: the
 * download, the validating parse and the documents) and the write (after it: the bulk requests).
 *
 *   BENCH_NODE_FLAGS='--max-semi-space-size=4 --max-old-space-size=128 --cpu-prof --cpu-prof-dir=/tmp/ingest-prof' npm run bench:ingest
 *   node dist/bench/bench/cpuprofile.js /tmp/ingest-prof/<the first run's file>.cpuprofile
 *
 * (The bench's ingest runs write one profile each, in the order they ran: the first run, the
 * unchanged run, the same content in other bytes, the 10x feed.) The profiler samples the main
 * thread by wall clock: on a loaded machine a preempted thread's time lands on whatever it was
 * running, so compare profiles taken under the same load.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Parts of the run by the source of the innermost JavaScript frame (first match wins). */
const PARTS: [string, RegExp][] = [
  ['saxes (as the raw baseline)', /node_modules\/(saxes|xmlchars)\//],
  ['parser handlers, decoding', /\/dist\/ingest\/(parser|formats\/)/],
  ['normalisation, ids', /\/dist\/domain\//],
  ['documents, JSON, hash', /\/dist\/store\/event-document/],
  ['sifter, spool', /\/dist\/ingest\/(run|spool|operations)\.js/],
  [
    'download, feed hash',
    /\/dist\/ingest\/feed-(client|file)\.js|internal\/deps\/undici|webstreams/,
  ],
  ['writer, bulk helper, ES client', /\/dist\/ingest\/writer|node_modules\/(@elastic|undici)\//],
  ['run records, lease, job', /\/dist\/(ingest\/(lease|run-store|job)|store|main)\//],
  ['module loading', /internal\/modules\//],
];

function partOf(stack: ProfileNode[]): string {
  const top = stack[0]?.callFrame.functionName ?? '';
  if (top === '(garbage collector)') return 'garbage collection';
  if (top === '(idle)') return 'idle (waiting: Elasticsearch, the feed)';
  if (top === '(program)') return 'program (V8, native)';
  // Native frames (no url) count for the nearest caller that has one.
  for (const node of stack) {
    const url = node.callFrame.url;
    if (!url) continue;
    if (/internal\/modules\//.test(url)) return 'module loading';
    for (const [name, pattern] of PARTS) if (pattern.test(url)) return name;
  }
  return 'other (Node internals)';
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node dist/bench/bench/cpuprofile.js <file.cpuprofile>');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = (id: number): ProfileNode[] => {
    const stack: ProfileNode[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node) stack.push(node);
    }
    return stack;
  };
  // Sample i lasts until sample i + 1.
  let t = profile.startTime;
  const times = profile.timeDeltas.map((d) => (t += d));
  const stacks = profile.samples.map(stackOf);
  const saxes = stacks.map((s) => s.some((n) => n.callFrame.url.includes('node_modules/saxes/')));
  const first = times[saxes.indexOf(true)] ?? profile.endTime;
  const last = times[saxes.lastIndexOf(true)] ?? profile.endTime;
  const table = new Map<string, Record<'start' | 'parse' | 'write', number>>();
  for (const [i, stack] of stacks.entries()) {
    const at = times[i] as number;
    const span = at < first ? 'start' : at <= last ? 'parse' : 'write';
    const lasts = ((times[i + 1] ?? profile.endTime) - at) / 1000;
    const part = partOf(stack);
    const row = table.get(part) ?? { start: 0, parse: 0, write: 0 };
    row[span] += lasts;
    table.set(part, row);
  }
  const ms = (n: number) => String(Math.round(n)).padStart(7);
  console.log(
    `${file}\n  spans (ms): start ${Math.round((first - profile.startTime) / 1000)}, parse ${Math.round((last - first) / 1000)}, write ${Math.round((profile.endTime - last) / 1000)}`,
  );
  console.log(`  ${'part'.padEnd(42)}  start   parse   write   total`);
  const rows = [...table].sort((a, b) => total(b[1]) - total(a[1]));
  for (const [part, row] of rows) {
    console.log(
      `  ${part.padEnd(42)}${ms(row.start)} ${ms(row.parse)} ${ms(row.write)} ${ms(total(row))}`,
    );
  }
}

function total(row: { start: number; parse: number; write: number }): number {
  return row.start + row.parse + row.write;
}

main();
