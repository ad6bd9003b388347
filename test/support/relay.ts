/**
 * A TCP relay to a real Elasticsearch that a test can close (a closed port, as when Elasticsearch
 * is stopped), reopen, or hold: while held, connections are accepted but nothing is forwarded until
 * `release()`, so the requests on them stay in flight (a slow Elasticsearch, on demand).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private held: Array<() => void> | undefined;
  port = 0;

  constructor(private readonly target: URL) {}

  async open(): Promise<void> {
    const server = createServer((inbound) => {
      this.track(inbound);
      const forward = () => {
        if (inbound.destroyed) return;
        const outbound = connect(Number(this.target.port), this.target.hostname);
        this.track(outbound);
        inbound.pipe(outbound).pipe(inbound);
      };
      if (this.held) {
        inbound.pause();
        this.held.push(forward);
      } else forward();
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Cuts the live connections; new ones are accepted and parked until `release()`. */
  hold(): void {
    this.held = [];
    for (const s of this.sockets) s.destroy();
  }

  /** Connections parked while held: how many requests are waiting. */
  get parked(): number {
    return this.held?.length ?? 0;
  }

  /** Forwards the parked connections and every new one. */
  release(): void {
    const parked = this.held ?? [];
    this.held = undefined;
    for (const forward of parked) forward();
  }

  /** Refuses new connections and cuts live ones. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }
}
