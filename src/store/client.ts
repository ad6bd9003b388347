/**
 * The one place that builds an Elasticsearch client from configuration.
 */
import { readFileSync } from 'node:fs';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import type { StoreEnv } from '../config.js';

export type { Client } from '@elastic/elasticsearch';

export interface ClientFactoryOptions {
  /** Retries the client makes on connection errors before giving up (default 2). */
  maxRetries?: number;
}

export function createEsClient(env: StoreEnv, opts: ClientFactoryOptions = {}): Client {
  const options: ClientOptions = {
    node: env.ELASTICSEARCH_URL,
    requestTimeout: env.ES_REQUEST_TIMEOUT_MS,
    maxRetries: opts.maxRetries ?? 2,
    // A single-node or load-balanced endpoint: sniffing would route around the ingress/Service.
    sniffOnStart: false,
  };
  if (env.ES_API_KEY) options.auth = { apiKey: env.ES_API_KEY };
  else if (env.ES_USERNAME && env.ES_PASSWORD)
    options.auth = { username: env.ES_USERNAME, password: env.ES_PASSWORD };
  if (env.ES_CA_FILE) options.tls = { ca: readFileSync(env.ES_CA_FILE) };
  return new Client(options);
}
