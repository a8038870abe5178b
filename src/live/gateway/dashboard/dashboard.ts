// The live dashboard's server side: the page's files (`GET /dashboard`: page.html, page.js,
// page.css, and echarts' own build, all public and holding no data), the per-class series it keeps from
// the process's `Metrics`, and the live stream of snapshots (`GET /v1/dashboard/stream`, server-sent
// events) with its timers. The data routes are declared in `../rest-dashboard.ts`.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { PriceTable } from '../../../core/classes.ts';
import type { Metrics } from '../../metrics.ts';
import type { Store } from '../../store/index.ts';
import type { Principal } from '../auth.ts';
import { notFound } from '../errors.ts';
import { ClassSeries } from './series.ts';
import { buildSnapshot, type Snapshot } from './snapshot.ts';

export interface DashboardOptions {
  /** A snapshot on the stream every so often (ms; default 1000). */
  readonly intervalMs: number;
  /** A comment on the stream every so often, so that proxies keep it open (ms; default 15 s). */
  readonly heartbeatMs: number;
  /** Seconds of per-class series kept (default 300). */
  readonly seconds: number;
}

export const DEFAULT_DASHBOARD: DashboardOptions = { intervalMs: 1000, heartbeatMs: 15_000, seconds: 300 };

/** The page's folder: beside this module (bin/build.js copies the page into dist/), else the sources' (a dist/ built before it did). */
function assetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const source = join(here, '..', '..', '..', '..', 'src', 'live', 'gateway', 'dashboard');
  for (const dir of [here, source]) {
    try {
      readFileSync(join(dir, 'page.html'));
      return dir;
    } catch {
      // not here
    }
  }
  return here;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly cache: string;
}

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/dashboard': { file: 'page.html', type: 'text/html; charset=utf-8' },
  '/dashboard/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
};
const ECHARTS_PATH = '/dashboard/echarts.simple.min.js';
/** The page runs only its own scripts; echarts sets styles on its elements. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface DashboardStreamRequest {
  readonly res: ServerResponse;
  readonly principal: Principal;
}

export class Dashboard {
  readonly opts: DashboardOptions;
  readonly series: ClassSeries | undefined;
  private readonly unlisten: (() => void) | undefined;
  private readonly streams = new Set<() => void>();
  private readonly assets = new Map<string, Asset>();

  constructor(
    private readonly store: Store,
    private readonly prices: PriceTable,
    private readonly clock: () => number,
    private readonly metrics: Metrics | undefined,
    opts: Partial<DashboardOptions> = {},
  ) {
    this.opts = { ...DEFAULT_DASHBOARD, ...opts };
    if (metrics !== undefined) {
      const series = new ClassSeries({ classes: prices.classes.length, seconds: this.opts.seconds });
      this.series = series;
      this.unlisten = metrics.onAnswered((cls, seconds) => series.record(clock(), cls, seconds));
    }
  }

  /** The snapshot `viewer` may see now. */
  snapshot(viewer: Principal): Snapshot {
    return buildSnapshot({ store: this.store, prices: this.prices, ...(this.metrics !== undefined ? { metrics: this.metrics } : {}), ...(this.series !== undefined ? { series: this.series } : {}) }, viewer, this.clock(), this.opts.intervalMs);
  }

  /** Streams open now. */
  get streaming(): number {
    return this.streams.size;
  }

  /**
   * Server-sent events: a `snapshot` event at once and every `intervalMs`, a comment every
   * `heartbeatMs`; resolves when the client goes, the credential is revoked, or `close()`.
   */
  stream(r: DashboardStreamRequest): Promise<void> {
    const { res, principal } = r;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', 'X-Content-Type-Options': 'nosniff' });
    res.flushHeaders();
    return new Promise((resolve) => {
      let waiting = false; // the socket's buffer is full: skip snapshots until it drains
      const send = (text: string): void => {
        if (waiting) return;
        if (!res.write(text)) {
          waiting = true;
          res.once('drain', () => (waiting = false));
        }
      };
      const end = (): void => {
        if (!this.streams.delete(end)) return;
        clearInterval(tick);
        clearInterval(beat);
        res.off('close', end);
        if (!res.writableEnded) res.end();
        resolve();
      };
      const snapshot = (): void => {
        const cred = principal.context === undefined ? this.store.credentials.get(principal.accessKeyId) : undefined;
        if (cred !== undefined && cred.revokedAt !== null) {
          res.write('event: end\ndata: {"reason":"the credential was revoked"}\n\n');
          end();
          return;
        }
        try {
          send(`event: snapshot\ndata: ${JSON.stringify(this.snapshot(principal))}\n\n`);
        } catch (e) {
          res.write(`event: end\ndata: ${JSON.stringify({ reason: `the snapshot failed: ${(e as Error).message}` })}\n\n`);
          end();
        }
      };
      const tick = setInterval(snapshot, this.opts.intervalMs);
      const beat = setInterval(() => send(': heartbeat\n\n'), this.opts.heartbeatMs);
      this.streams.add(end);
      // The response's close: the client went (or the connection was cut). Not the request's, which
      // closes once its (empty) body has been read.
      res.once('close', end);
      snapshot();
    });
  }

  /** Ends every stream and stops listening to the metrics (the gateway closes). */
  close(): void {
    for (const end of [...this.streams]) end();
    this.unlisten?.();
  }

  /** `GET /dashboard` and its files: public, no data. Throws a 404 for any other path under /dashboard/. */
  serveAsset(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw notFound('FARE_E_ROUTE_NOT_FOUND', `there is no ${req.method ?? '?'} ${path}: open the dashboard with GET`);
    const key = path === '/dashboard/' ? '/dashboard' : path;
    const asset = this.asset(key);
    if (asset === undefined) throw notFound('FARE_E_ROUTE_NOT_FOUND', `there is no ${path}: the dashboard is GET /dashboard`);
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip : asset.body;
    res.writeHead(200, {
      'Content-Type': asset.type,
      'Content-Length': body.length,
      'Cache-Control': asset.cache,
      Vary: 'Accept-Encoding',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': CSP,
      'Referrer-Policy': 'no-referrer',
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private asset(key: string): Asset | undefined {
    const have = this.assets.get(key);
    if (have !== undefined) return have;
    let asset: Asset;
    if (key === ECHARTS_PATH) {
      const require = createRequire(import.meta.url);
      const body = readFileSync(require.resolve('echarts/dist/echarts.simple.min.js'));
      // Its URL carries echarts' version (the page asks for ?v=…), so it may be kept a year.
      asset = { type: 'text/javascript; charset=utf-8', body, gzip: gzipSync(body), cache: 'public, max-age=31536000, immutable' };
    } else {
      const f = FILES[key];
      if (f === undefined) return undefined;
      const dir = assetDir();
      let body: Buffer;
      try {
        body = readFileSync(join(dir, f.file));
      } catch (e) {
        throw notFound('FARE_E_ROUTE_NOT_FOUND', `the dashboard's page is not installed here (${(e as Error).message}): it is served from src/live/gateway/dashboard/ of a checkout of Fare`);
      }
      if (f.file === 'page.html') body = Buffer.from(body.toString('utf8').replaceAll('{{ECHARTS_VERSION}}', echartsVersion()));
      asset = { type: f.type, body, gzip: gzipSync(body), cache: 'no-cache' };
    }
    this.assets.set(key, asset);
    return asset;
  }
}

function echartsVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (JSON.parse(readFileSync(require.resolve('echarts/package.json'), 'utf8')) as { version?: string }).version ?? '0';
  } catch {
    return '0';
  }
}
