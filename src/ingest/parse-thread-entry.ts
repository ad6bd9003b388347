/**
 * The parse thread's entry module (docs/adr/0016-*.md, fifth pass). Run from the build
 * (`dist/ingest/parse-thread-entry.js`), it enables Node's compile cache for the thread's modules
 * and imports the compiled work (./parse-thread-worker.ts). Run from the TypeScript sources (the
 * tests: ts-jest compiles only the modules Jest loads, and a worker thread runs outside Jest),
 * Node strips the types of each module itself, and a resolve hook maps the sources' `.js`
 * specifiers (the import paths of the build) to their `.ts` files: the thread runs the same
 * sources the test does, never a stale build.
 *
 * This module imports nothing of the project statically: the hook must be in place first.
 */
import { registerHooks } from 'node:module';

if (import.meta.url.endsWith('.ts')) {
  registerHooks({
    resolve(specifier, context, next) {
      // A relative import of the project's sources, written with the build's extension.
      if (context.parentURL?.endsWith('.ts') && /^\.\.?\/.*\.js$/.test(specifier)) {
        return next(`${specifier.slice(0, -3)}.ts`, context);
      }
      return next(specifier, context);
    },
  });
} else {
  const { enableProjectCompileCache } = await import('../main/compile-cache.js');
  enableProjectCompileCache();
}
await import('./parse-thread-worker.js');
