/**
 * The one classification of Elasticsearch failures, for both processes: which failures mean
 * "Elasticsearch is not available right now" (the API answers 503 or a stale answer, not 500), and
 * the error types callers treat as an expected outcome (an index that does not exist yet, one that
 * another process created first).
 */
import { errors } from '@elastic/elasticsearch';

/** Elasticsearch cannot answer (down, timing out, overloaded, index missing): a 503, not a 500. */
export class StoreUnavailableError extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/** The `error.type` of an Elasticsearch error response (`index_not_found_exception`...), if any. */
export function errorType(err: unknown): string | undefined {
  if (!(err instanceof errors.ResponseError)) return undefined;
  return (err.body as { error?: { type?: string } } | undefined)?.error?.type;
}

export function isIndexNotFound(err: unknown): boolean {
  return errorType(err) === 'index_not_found_exception';
}

export function isResourceAlreadyExists(err: unknown): boolean {
  return errorType(err) === 'resource_already_exists_exception';
}

/** True for failures that mean "Elasticsearch is not available right now" rather than a bug. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError
  ) {
    return true;
  }
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode ?? 0;
    return status >= 500 || status === 429 || isIndexNotFound(err);
  }
  return false;
}
