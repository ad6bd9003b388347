/**
 * The provider simulator: an HTTP server that plays the external provider for local runs, end-to-end
 * tests, fault tests and load tests.
 *
 * `GET /feed` answers according to the mode (see `SimMode`). `?mode=<mode>` on a request overrides
 * the server's mode for that request only, so one simulator can serve a good feed and a fault.
 * `GET /feed.ndjson` plays a second provider: the same feeds in the NDJSON format (src/sim/ndjson.ts);
 * each path advances through the samples on its own.
 * `GET /healthz` answers 200. Everything else is 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../observability/logger.js';
import { generateFeed } from './feed.js';
import { generateNdjsonFeed, ndjsonOfXml } from './ndjson.js';
import { SIM_MODES, type SimMode } from './modes.js';

export interface SimOptions {
  mode: SimMode;
  /** Folder holding response_1.xml, response_2.xml, response_3.xml. */
  samplesDir: string;
  /** Generated mode: base events and zones per event, and the seed. */
  baseEvents: number;
  zonesPerEvent: number;
  seed: number;
  /** Slow mode: delay before the response starts, in ms. */
  delayMs: number;
  logger?: Logger;
}

const SAMPLE_FILES = ['response_1.xml', 'response_2.xml', 'response_3.xml'];

/** The formats the simulator serves, one path each. */
type FeedFormat = 'xml' | 'ndjson';
const FEED_PATHS: Record<string, FeedFormat | undefined> = {
  '/feed': 'xml',
  '/feed.ndjson': 'ndjson',
};

interface FormatFeeds {
  samples: Buffer[];
  contentType: string;
  generate: (options: { baseEvents: number; zonesPerEvent: number; seed: number }) => Readable;
  malformed: string;
}

export interface ProviderSim {
  server: Server;
  /** Requests to /feed answered so far (the samples mode advances with it). */
  readonly feedRequests: number;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

export async function createProviderSim(options: SimOptions): Promise<ProviderSim> {
  const xmlSamples = await Promise.all(
    SAMPLE_FILES.map((file) => readFile(join(options.samplesDir, file))),
  );
  const formats: Record<FeedFormat, FormatFeeds> = {
    xml: {
      samples: xmlSamples,
      contentType: 'application/xml; charset=utf-8',
      generate: generateFeed,
      malformed: '<?xml version="1.0"?><eventList><output><base_event base_event_id="1" <<oops',
    },
    ndjson: {
      samples: await Promise.all(xmlSamples.map(ndjsonOfXml)),
      contentType: 'application/x-ndjson; charset=utf-8',
      generate: generateNdjsonFeed,
      malformed: '{"id":"1","title": <<oops\n',
    },
  };
  const requests: Record<FeedFormat, number> = { xml: 0, ndjson: 0 };
  let feedRequests = 0;

  const handleFeed = async (
    req: IncomingMessage,
    res: ServerResponse,
    mode: SimMode,
    format: FeedFormat,
  ) => {
    const { samples, contentType } = formats[format];
    const sendSample = (body: Buffer) => {
      res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
      res.end(body);
    };
    // The samples advance one per request, then stay on the last, like three consecutive fetches.
    const sample = samples[Math.min(requests[format], samples.length - 1)] as Buffer;
    requests[format] += 1;
    feedRequests += 1;
    switch (mode) {
      case 'samples':
        return sendSample(sample);
      case 'generated': {
        res.writeHead(200, { 'content-type': contentType });
        const feed = formats[format].generate({
          baseEvents: options.baseEvents,
          zonesPerEvent: options.zonesPerEvent,
          seed: options.seed,
        });
        return pipeline(feed, res);
      }
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        if (req.destroyed) return;
        return sendSample(sample);
      case 'error':
        res.writeHead(500, { 'content-type': 'text/plain' });
        return res.end('internal error (simulated)');
      case 'unavailable':
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
        return res.end('service unavailable (simulated)');
      case 'truncated': {
        // A well-started document that stops in the middle of an element, then a clean end.
        const cut = sample.subarray(0, Math.floor(sample.length / 2));
        res.writeHead(200, { 'content-type': contentType, 'content-length': cut.length });
        return res.end(cut);
      }
      case 'malformed':
        res.writeHead(200, { 'content-type': contentType });
        return res.end(formats[format].malformed);
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end('<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>');
      case 'empty':
        res.writeHead(200, { 'content-type': contentType, 'content-length': 0 });
        return res.end();
      case 'drop':
        // Promise a whole sample, send part of it, then cut the connection.
        res.writeHead(200, { 'content-type': contentType, 'content-length': sample.length });
        res.write(sample.subarray(0, Math.floor(sample.length / 3)));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const format = FEED_PATHS[url.pathname];
    if (format === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const requested = url.searchParams.get('mode');
    const mode = requested && isSimMode(requested) ? requested : options.mode;
    options.logger?.info({ mode, format, request: feedRequests + 1 }, 'feed requested');
    handleFeed(req, res, mode, format).catch((err: unknown) => {
      options.logger?.warn({ err }, 'feed response aborted');
      res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  return {
    server,
    get feedRequests() {
      return feedRequests;
    },
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

export function isSimMode(value: string): value is SimMode {
  return (SIM_MODES as readonly string[]).includes(value);
}
