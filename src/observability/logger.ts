/**
 * Structured JSON logs (pino). One logger per process; request and run context is added with
 * `logger.child({...})`. When OpenTelemetry has an active span, its trace and span ids are added to
 * every line so logs and traces can be joined.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';
import { trace } from '@opentelemetry/api';

export type { Logger } from 'pino';

export interface LoggerSettings {
  /** Process name: `api`, `ingest`, `provider-sim`, ... */
  name: string;
  level?: string;
  /** Where lines go (default stdout). Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: 'event-search', process: settings.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const ctx = span.spanContext();
      return { trace_id: ctx.traceId, span_id: ctx.spanId };
    },
    redact: { paths: ['*.authorization', '*.password', '*.apiKey', '*.api_key'], remove: true },
  };
  return settings.destination
    ? pino(options, settings.destination as pino.DestinationStream)
    : pino(options);
}
