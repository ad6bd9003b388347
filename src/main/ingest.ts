/**
 * `npm run ingest`: one ingest run (src/main/ingest-run.ts), then exit. The compile cache is
 * enabled first, so the run's modules load from it (src/main/compile-cache.ts, docs/adr/0016-*.md).
 */
import { enableProjectCompileCache } from './compile-cache.js';

enableProjectCompileCache();
await import('./ingest-run.js');
