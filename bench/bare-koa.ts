/**
 * The hot-search baseline: a bare Koa server that answers every request with the same bytes the
 * real API returned for a window (no router, no middleware, no cache lookup, no observability).
 *
 *   node dist/bench/bench/bare-koa.js <port> <body-file>
 */
import { readFileSync } from 'node:fs';
import Koa from 'koa';

const [portArg, bodyFile] = process.argv.slice(2);
if (!portArg || !bodyFile) {
  console.error('usage: bare-koa <port> <body-file>');
  process.exit(2);
}
const body = readFileSync(bodyFile);
const app = new Koa();
app.use((ctx) => {
  ctx.type = 'application/json';
  ctx.body = body;
});
const server = app.listen(Number(portArg), '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
