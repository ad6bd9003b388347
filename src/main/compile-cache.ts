/**
 * Node's compile cache for a process's modules (`module.enableCompileCache`, docs/adr/0016-*.md):
 * V8's compiled code of every module loaded after it is enabled is kept in `.cache/node-compile-cache`
 * of the project (ignored by git; in the image, written when the image is built), so a short-lived
 * process such as the ingester's CronJob run does not compile its ~300 modules again on each run.
 * `NODE_COMPILE_CACHE` chooses another directory. A directory that cannot be written (a read-only
 * image) still serves what it holds; a cache that is missing or stale only costs the compilation.
 *
 * Only modules imported after the call are cached: an entry point enables it, then imports the
 * rest dynamically.
 *
 * `node dist/main/compile-cache.js` fills the cache with the ingester's modules without running
 * anything (the Dockerfile does so at build time).
 */
import { enableCompileCache, flushCompileCache } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const COMPILE_CACHE_DIR = fileURLToPath(
  new URL('../../.cache/node-compile-cache', import.meta.url),
);

/** Enables the compile cache for the modules imported from now on (idempotent). */
export function enableProjectCompileCache(): void {
  enableCompileCache(process.env.NODE_COMPILE_CACHE ?? COMPILE_CACHE_DIR);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  enableProjectCompileCache();
  // The ingester's module graph (src/main/ingest-run.ts imports these three).
  await import('../config.js');
  await import('../ingest/job.js');
  await import('../observability/logger.js');
  flushCompileCache();
}
