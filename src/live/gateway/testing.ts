// Test helpers for the gateway: a zip writer (to build good and deliberately bad archives), a fake
// Platform that records what it is asked, and a harness that starts a real gateway on 127.0.0.1:0
// over a fresh store with an administrator.

import { deflateRawSync } from 'node:zlib';
import { DEFAULT_PRICE_TABLE, type PriceTable } from '../../core/classes.ts';
import { openStore, type Invocation, type IssuedCredential, type Store } from '../store/index.ts';
import { manualClock, tempDir, type ManualClock, type TempDir } from '../store/testing.ts';
import type { InvokeOutcome, InvokeRequest } from '../types.ts';
import type { PlatformResult, Platform } from './platform.ts';
import { createGateway, type Gateway, type GatewayOptions } from './server.ts';
import { crc32 } from './zip.ts';

export interface ZipSpec {
  readonly name: string;
  readonly data?: string | Buffer;
  /** 0 STORED, 8 DEFLATE (default), or anything else to test rejection. */
  readonly method?: number;
  /** Unix mode including the file type bits (default 0o100644; directories 0o040755). */
  readonly mode?: number;
  readonly flags?: number;
  /** Override the CRC written (to test corruption). */
  readonly crc?: number;
  /** Override the uncompressed size written (to test bombs and lies). */
  readonly size?: number;
}

/** Writes a zip archive with a central directory, Unix attributes and UTF-8 names. */
export function writeZip(specs: readonly ZipSpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const s of specs) {
    const data = typeof s.data === 'string' ? Buffer.from(s.data) : (s.data ?? Buffer.alloc(0));
    const method = s.method ?? 8;
    const body = method === 8 ? deflateRawSync(data) : data;
    const name = Buffer.from(s.name, 'utf8');
    const crc = s.crc ?? crc32(data);
    const size = s.size ?? data.length;
    const flags = (s.flags ?? 0) | 0x800;
    const mode = s.mode ?? (s.name.endsWith('/') ? 0o040755 : 0o100644);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(specs.length, 8);
  end.writeUInt16LE(specs.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export const helloZip = (extra: readonly ZipSpec[] = []): Buffer =>
  writeZip([{ name: 'index.js', data: 'exports.handler = async (e) => ({ hello: e.name ?? "world" });\n' }, ...extra]);

export function outcome(o: Partial<InvokeOutcome> = {}): InvokeOutcome {
  return { status: 'ok', payload: Buffer.from('{"ok":true}'), durationMs: 12.5, cpuMs: 10, memGBs: 0.002, maxMemMB: 64, coldStart: false, initMs: 0, logs: '', ...o };
}

/** A Platform that answers with `respond` and records every call. */
export class FakePlatform implements Platform {
  readonly prices: PriceTable;
  readonly invoked: InvokeRequest[] = [];
  readonly queued: Invocation[] = [];
  respond: (req: InvokeRequest) => PlatformResult | Promise<PlatformResult> = (req) => outcome({ payload: req.payload.length > 0 ? req.payload : Buffer.from('null') });
  onEnqueued: (inv: Invocation) => void = () => undefined;

  constructor(prices: PriceTable = DEFAULT_PRICE_TABLE) {
    this.prices = prices;
  }

  async invoke(req: InvokeRequest): Promise<PlatformResult> {
    this.invoked.push(req);
    return this.respond(req);
  }

  enqueued(inv: Invocation): void {
    this.queued.push(inv);
    this.onEnqueued(inv);
  }
}

export interface Harness {
  readonly url: string;
  readonly host: string;
  readonly store: Store;
  readonly platform: FakePlatform;
  readonly gateway: Gateway;
  readonly clock: ManualClock;
  readonly admin: IssuedCredential;
  readonly dir: TempDir;
  /** `Authorization: Bearer id:secret` for a credential. */
  bearer(c: Pick<IssuedCredential, 'accessKeyId' | 'secret'>): Record<string, string>;
  /** Creates a tenant through the store; returns its credential. */
  tenant(id: string): Promise<IssuedCredential>;
  /** Deploys index.js (nodejs, index.handler) for `owner` through the REST API. */
  deploy(owner: IssuedCredential, name: string, settings?: Record<string, unknown>): Promise<Response>;
  invoke(c: IssuedCredential, name: string, body?: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function startHarness(opts: Partial<Omit<GatewayOptions, 'store' | 'platform' | 'clock'>> = {}): Promise<Harness> {
  const dir = tempDir('fare-gateway-');
  const clock = manualClock(Date.now());
  const store = openStore({ dataDir: dir.path, clock });
  const platform = new FakePlatform();
  const gateway = createGateway({ store, platform, clock, checkResponses: true, ...opts });
  const { url, host, port } = await gateway.listen(0, '127.0.0.1');
  const admin = (await store.bootstrapAdmin()) as IssuedCredential;
  const bearer = (c: Pick<IssuedCredential, 'accessKeyId' | 'secret'>): Record<string, string> => ({ Authorization: `Bearer ${c.accessKeyId}:${c.secret}` });
  return {
    url,
    host: `${host}:${port}`,
    store,
    platform,
    gateway,
    clock,
    admin,
    dir,
    bearer,
    tenant: async (id) => (await store.createTenant({ id })).credential,
    deploy: (owner, name, settings = {}) =>
      fetch(`${url}/v1/functions/${name}`, {
        method: 'PUT',
        headers: { ...bearer(owner), 'Content-Type': 'application/json' },
        body: JSON.stringify({ runtime: 'nodejs', handler: 'index.handler', zipBase64: helloZip().toString('base64'), ...settings }),
      }),
    invoke: (c, name, body = '{"name":"x"}', headers = {}) =>
      fetch(`${url}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, { method: 'POST', headers: { ...bearer(c), ...headers }, body }),
    close: async () => {
      await gateway.close();
      store.close();
      dir.remove();
    },
  };
}
