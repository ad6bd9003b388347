/**
 * A small HTTP load balancer for end-to-end tests, behaving like a Kubernetes Service in front of
 * the API's pods: round robin over the endpoints whose readiness probe passes, each endpoint's
 * `/readyz` probed every `probeEveryMs` (an endpoint that fails it, or does not answer, is dropped
 * until it passes again), and a 503 when no endpoint is ready (what an ingress answers then).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';

export interface Endpoint {
  url: URL;
  ready: boolean;
  /** Probes answered so far (200 or not): something to wait on. */
  probes: number;
  /** Requests this endpoint was given. */
  served: number;
}

export class Balancer {
  readonly endpoints: Endpoint[];
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  port = 0;

  constructor(
    urls: string[],
    private readonly probeEveryMs = 200,
  ) {
    this.endpoints = urls.map((u) => ({ url: new URL(u), ready: false, probes: 0, served: 0 }));
  }

  get readyCount(): number {
    return this.endpoints.filter((e) => e.ready).length;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const endpoint = this.pick();
      if (!endpoint) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('no ready endpoint\n');
        return;
      }
      endpoint.served += 1;
      const upstream = request(
        {
          host: endpoint.url.hostname,
          port: endpoint.url.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer: IncomingMessage) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    this.probeLoop();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** The next ready endpoint, round robin; undefined when none is. */
  private pick(): Endpoint | undefined {
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[(this.next + i) % this.endpoints.length];
      if (endpoint?.ready) {
        this.next = (this.next + i + 1) % this.endpoints.length;
        return endpoint;
      }
    }
    return undefined;
  }

  private probeLoop(): void {
    void Promise.all(this.endpoints.map((e) => this.probe(e))).then(() => {
      if (!this.server) return;
      this.timer = setTimeout(() => this.probeLoop(), this.probeEveryMs);
    });
  }

  private async probe(endpoint: Endpoint): Promise<void> {
    try {
      const res = await fetch(new URL('/readyz', endpoint.url), {
        signal: AbortSignal.timeout(1_000),
      });
      await res.arrayBuffer();
      endpoint.ready = res.status === 200;
    } catch {
      endpoint.ready = false;
    }
    endpoint.probes += 1;
  }
}
