// `GET /metrics` on the gateway: the process's Prometheus metrics (src/live/metrics.ts), for
// administrators only — they name tenants and what each spends. Bearer (`Authorization: Bearer
// <id>:<secret>`, which Prometheus sends with `authorization: { credentials: … }`) or SigV4, through
// the same limiter as every other authentication. A scraper that should hold no credential scrapes
// the separate listener instead (`fare up --metrics-port`, bound to 127.0.0.1 by default).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticatedBody } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { forbidden, notFound } from './errors.ts';

export async function serveGatewayMetrics(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const metrics = ctx.metrics;
  if (metrics === undefined) throw notFound('FARE_E_ROUTE_NOT_FOUND', 'this gateway keeps no metrics');
  if (req.method !== 'GET' && req.method !== 'HEAD') throw notFound('FARE_E_ROUTE_NOT_FOUND', `there is no ${req.method ?? '?'} /metrics: scrape it with GET`);
  const { principal } = await authenticatedBody(ctx.auth, req, 0, 'GET /metrics takes no body');
  if (!principal.admin) throw forbidden('only administrators may read /metrics (it shows every tenant\'s spend): use an administrator\'s credential, or scrape the metrics listener (fare up --metrics-port)');
  const text = await metrics.text();
  res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}
