/**
 * Loaded before the application: `node --import ./dist/observability/register.js dist/main/api.js`.
 *
 * ES modules are linked before any of their code runs, so an instrumentation started from inside
 * the application would patch koa and node:http too late. This module runs first: it registers the
 * `import-in-the-middle` loader hook so that modules imported from now on can be patched, then
 * starts the SDK (see `tracing.ts`).
 *
 * The hook is registered in-thread with `module.registerHooks` (import-in-the-middle's
 * `register-hooks.mjs`) where Node supports it (26 does): `module.register`, the off-thread
 * loader, is deprecated there (DEP0205, printed at every start). Older Node lines fall back to it.
 *
 * `OTEL_SDK_DISABLED=true` leaves everything off: no hook, no SDK, not even loaded.
 */
import { register } from 'node:module';

if (process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true') {
  const sync = await import('import-in-the-middle/register-hooks.mjs');
  if (sync.supportsSyncHooks()) sync.register();
  else register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const { startTracing } = await import('./tracing.js');
  startTracing();
}
