import { Agent, type IncomingHttpHeaders, request } from 'node:http';

/** A response as read off the socket: status, headers and the body as text. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  method: string;
  /** Sent as is (no URL normalisation, unlike fetch): `..` segments and odd escapes reach the server. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/**
 * Keep-alive connections for the many small requests of a fuzz run. The idle timeout stays below the
 * local API's `keepAliveTimeout` (60 s): without one, node:http keeps idle sockets forever and, after a
 * pause of about 60 s, can reuse one just as the server closes it, failing the request with ECONNRESET.
 */
export const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 32, timeout: 30_000 });

/** One HTTP/1.1 request to 127.0.0.1 with node:http; rejects after `timeoutMs` (a hang is a failure). */
export function rawRequest(
  baseUrl: string,
  options: RawRequest,
  agent: Agent = keepAliveAgent,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const timeoutMs = options.timeoutMs ?? 15_000;
  // node:http frames a GET's body only with an explicit length (it does not chunk GET requests).
  const headers =
    options.body === undefined
      ? options.headers
      : { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: options.method, path: options.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(
        new Error(`No answer to ${options.method} ${options.path.slice(0, 120)} within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(options.body);
  });
}
