/**
 * Loaded before the application: `node --import ./dist/observability/register.js dist/main/api.js`.
 *
 * ES modules are linked before any of their code runs, so an instrumentation started from inside
 * the application would patch koa and node:http too late. This module runs first: it registers the
 * `import-in-the-middle` loader hook (through `@opentelemetry/instrumentation/hook.mjs`) so that
 * modules imported from now on can be patched, then starts the SDK (see `tracing.ts`).
 *
 * `OTEL_SDK_DISABLED=true` leaves everything off: no hook, no SDK, not even loaded.
 */
import { register } from 'node:module';

if (process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true') {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const { startTracing } = await import('./tracing.js');
  startTracing();
}
