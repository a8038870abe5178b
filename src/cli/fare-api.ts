// A client's connection to a running Fare: the endpoint and credential (flags, else FARE_ENDPOINT and
// FARE_KEY), and calls whose failures become `FARE_E_…` errors saying what to do.

import { UsageError } from './args.ts';

export interface Conn {
  readonly endpoint: string;
  readonly key: string;
}

/** The endpoint and credential from `--endpoint` / `--key`, else the environment; refuses a missing credential. */
export function conn(values: Record<string, unknown>): Conn {
  const endpoint = ((values.endpoint as string | undefined) ?? process.env.FARE_ENDPOINT ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const key = (values.key as string | undefined) ?? process.env.FARE_KEY;
  if (!key || !key.includes(':')) throw new UsageError('no credential: set FARE_KEY=<access key id>:<secret> (printed by fare up on first start) or pass --key');
  return { endpoint, key };
}

/** A failed call, with a stable code: Fare's own `FARE_E_…`, `FARE_E_API` for an error without one, `FARE_E_UNREACHABLE` when Fare did not answer. */
export class ApiError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** One request with the Bearer credential (a Buffer body as is, anything else as JSON); a status ≥ 400 throws. */
export async function call(c: Conn, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  let res: Response;
  try {
    res = await fetch(`${c.endpoint}${path}`, {
      method,
      headers: { Authorization: `Bearer ${c.key}`, ...(body !== undefined && !(body instanceof Buffer) ? { 'Content-Type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: body instanceof Buffer ? body : JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new ApiError('FARE_E_UNREACHABLE', `cannot reach Fare at ${c.endpoint} (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}): is "fare up" running? Set FARE_ENDPOINT if it listens elsewhere`);
  }
  const text = await res.text();
  if (res.status >= 400) {
    let msg = text;
    let code = 'FARE_E_API';
    try {
      const j = JSON.parse(text) as { error?: { code?: string; message?: string }; message?: string; Message?: string };
      msg = j.error?.message ?? j.message ?? j.Message ?? text;
      code = j.error?.code ?? res.headers.get('x-amzn-errortype') ?? code;
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(code.startsWith('FARE_E_') ? code : `FARE_E_API`, `${res.status} ${code}: ${msg}`);
  }
  return { status: res.status, headers: res.headers, text };
}
