// Fare's Node runtime speaks HTTP/1.1 to the Runtime API itself (runtimes/node/bootstrap.mjs). Fare's
// own Runtime API always answers with Content-Length on kept-alive connections; these tests run the
// runtime against a stand-in server that does everything else HTTP allows it to: chunked bodies,
// answers split across many TCP writes, `Connection: close`, and idle connections closed under it.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const BOOTSTRAP = join(import.meta.dirname, '..', 'runtimes', 'node', 'bootstrap.mjs');

type Style = 'chunked' | 'close' | 'dribble' | 'plain';

interface Run {
  responses: { id: string; body: string }[];
  connections: number;
  stop: () => Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Serves `events` to one runtime process, the /next answers in `style`; resolves when all were answered. */
async function serve(events: unknown[], style: (i: number) => Style, dropAfterResponse = false): Promise<Run & { done: Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'fare-rt-'));
  writeFileSync(join(dir, 'index.mjs'), 'export const handler = async (event, ctx) => ({ echo: event, id: ctx.awsRequestId });\n');
  const responses: { id: string; body: string }[] = [];
  let next = 0;
  let finish = (): void => {};
  const done = new Promise<void>((r) => (finish = r));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (url.endsWith('/invocation/next')) {
        const i = next++;
        if (i >= events.length) return; // the runtime waits here until it is killed
        const payload = Buffer.from(JSON.stringify(events[i]));
        const id = `req-${i}`;
        const h: Record<string, string> = { 'Lambda-Runtime-Aws-Request-Id': id, 'Lambda-Runtime-Deadline-Ms': String(Date.now() + 60_000), 'Content-Type': 'application/json' };
        const s = style(i);
        if (s === 'close') h.Connection = 'close';
        if (s !== 'chunked') h['Content-Length'] = String(payload.length);
        res.writeHead(200, h);
        if (s === 'plain' || s === 'close') return void res.end(payload);
        // Chunked (no length), or dribbled: the body in 1-byte writes, each its own TCP segment.
        let k = 0;
        const drip = (): void => {
          if (k >= payload.length) return void res.end();
          res.write(payload.subarray(k, k + 1));
          k++;
          setImmediate(drip);
        };
        drip();
        return;
      }
      const m = /\/invocation\/([^/]+)\/response$/.exec(url);
      if (m) {
        responses.push({ id: decodeURIComponent(m[1] as string), body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end('{"status":"OK"}');
        // Closing a kept-alive connection without a word, as a server's idle timeout does.
        if (dropAfterResponse) setImmediate(() => req.socket.destroy());
        if (responses.length === events.length) finish();
        return;
      }
      res.writeHead(404).end();
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const child = spawn(process.execPath, [BOOTSTRAP], {
    env: { ...process.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`, LAMBDA_TASK_ROOT: dir, _HANDLER: 'index.handler' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stop = async (): Promise<void> => {
    child.kill('SIGKILL');
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(stop);
  const run = { responses, stop, done, get connections() { return connections; } };
  return run;
}

/** Fails the test, rather than waiting for its timeout, if the runtime stops answering. */
async function within(p: Promise<void>, ms = 20_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`the runtime answered nothing more for ${ms} ms`)), ms)))]);
  clearTimeout(timer);
}

const events = [{ a: 1 }, 'héllo wörld', [1, 2, 3], { long: 'x'.repeat(70_000) }, null, 42];

describe("Fare's Node runtime as an HTTP client of the Runtime API", () => {
  it.each<[string, (i: number) => Style]>([
    ['Content-Length bodies on one kept-alive connection', () => 'plain'],
    ['chunked bodies', () => 'chunked'],
    ['bodies dribbled one byte per write', () => 'dribble'],
    ['Connection: close on every answer (a new connection each time)', () => 'close'],
    ['all of these in turn', (i) => (['plain', 'chunked', 'close', 'dribble'] as const)[i % 4] as Style],
  ])('%s', async (_name, style) => {
    const run = await serve(events, style);
    await within(run.done);
    expect(run.responses.map((r) => r.id)).toEqual(events.map((_, i) => `req-${i}`));
    expect(run.responses.map((r) => JSON.parse(r.body) as unknown)).toEqual(events.map((e, i) => ({ echo: e, id: `req-${i}` })));
    if (style(0) === 'plain' && style(1) === 'plain') expect(run.connections).toBe(1);
  });

  it('goes on when the server closes the idle kept-alive connection under it', async () => {
    // The server drops the connection just after each /response is answered, while the runtime
    // is sending its next /next on it (or about to).
    const run = await serve(events, () => 'plain', true);
    await within(run.done);
    expect(run.responses.map((r) => r.id)).toEqual(events.map((_, i) => `req-${i}`));
    expect(run.connections).toBeGreaterThan(1);
  });
});
