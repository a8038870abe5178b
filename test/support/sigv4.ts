// A SigV4 signer written from the AWS specification for the end-to-end tests (independent of the
// gateway's verifier), as the AWS SDKs sign Lambda requests.

import { createHash, createHmac } from 'node:crypto';

const hex = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const mac = (k: string | Buffer, s: string): Buffer => createHmac('sha256', k).update(s).digest();
const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function signLambda(o: { method: string; url: string; body: Buffer; accessKeyId: string; secret: string; region?: string; now?: number; extraHeaders?: Record<string, string> }): Record<string, string> {
  const url = new URL(o.url);
  const region = o.region ?? 'us-east-1';
  const amzDate = new Date(o.now ?? Date.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const headers: Record<string, string> = { host: url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': hex(o.body), ...Object.fromEntries(Object.entries(o.extraHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), v])) };
  const names = Object.keys(headers).sort();
  const canonicalUri = url.pathname.split('/').map((s) => enc(decodeURIComponent(s))).map(enc).join('/');
  const creq = [o.method, canonicalUri, '', names.map((n) => `${n}:${(headers[n] ?? '').trim()}\n`).join(''), names.join(';'), hex(o.body)].join('\n');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/lambda/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, hex(creq)].join('\n');
  const key = mac(mac(mac(mac(`AWS4${o.secret}`, day), region), 'lambda'), 'aws4_request');
  const signature = createHmac('sha256', key).update(sts).digest('hex');
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${o.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}
