/**
 * Sends bytes exactly as given (request line, headers) over a TCP socket and parses the answer,
 * for hostile-input tests an HTTP client library would refuse to send or would normalise.
 */
import { connect } from 'node:net';
import type { HttpResponse } from '../../support/openapi.js';

export interface RawResponse extends HttpResponse {
  headers: Record<string, string>;
  text: string;
  /** True when the server closed the connection after answering. */
  closed: boolean;
}

/** Parses one HTTP/1.1 response (Content-Length or chunked body, or none). */
export function parseResponse(raw: Buffer): Omit<RawResponse, 'closed'> {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no complete response head in ${JSON.stringify(raw.toString())}`);
  const [statusLine = '', ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = raw.subarray(split + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      const size = parseInt(rest.subarray(0, eol).toString(), 16);
      if (!size) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    rest = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    rest = rest.subarray(0, Number(headers['content-length']));
  }
  const text = rest.toString('utf8');
  let body: unknown;
  try {
    body = text && /json/.test(headers['content-type'] ?? '') ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status, headers, text, body };
}

/**
 * Writes `head` (a request line and headers, without the final blank line) and returns the
 * response. `Connection: close` is added so the server ends the exchange.
 */
export function rawRequest(
  port: number,
  head: string | Buffer,
  opts: { timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer in time'));
    }, opts.timeoutMs ?? 5_000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve({ ...parseResponse(Buffer.concat(chunks)), closed: true });
      } catch (err) {
        reject(err as Error);
      }
    });
    const end = Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1');
    // Not end(): a half-closed request would be abandoned by the server before it answers.
    socket.write(
      Buffer.concat([typeof head === 'string' ? Buffer.from(head, 'latin1') : head, end]),
    );
  });
}

/** `GET <target>` with a Host header, the target sent byte for byte. */
export function rawGet(port: number, target: string, method = 'GET'): Promise<RawResponse> {
  return rawRequest(port, `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1`);
}
