// The "auth flood" case of `npm run bench:live`: throughput of good Bearer-authenticated invocations of
// an empty function at a fixed concurrency, alone and while another client — a child process, so its
// own HTTP work does not share the measuring event loop — floods the gateway with wrong secrets, for a
// known access key id and for unknown ones. Phases alternate (alone, known, unknown, alone, …) so the
// machine's drift falls on both sides; each figure is the median over the repetitions.
//
// Run alone against a fresh `fare up`: `node --import tsx bench/auth-flood.ts [--quick]`.
// The child: `node --import tsx bench/auth-flood.ts flood URL MODE MS CONCURRENCY KEYID`.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { invokeOnce, percentile, type Target } from '../src/cli/loadgen.ts';
import { ADMIN } from '../support/fare-process.ts';
import { fareWithEmpty } from './fare-bench.ts';

export type FloodMode = 'known' | 'unknown';

export interface AuthFloodOptions {
  /** Concurrency of the good client. */
  readonly concurrency: number;
  /** Concurrency of the flooding client. */
  readonly floodConcurrency: number;
  readonly phaseMs: number;
  readonly reps: number;
  /** An existing access key id, flooded with wrong secrets in the `known` phases. */
  readonly knownKeyId: string;
}

export interface AuthFloodResult {
  readonly concurrency: number;
  readonly floodConcurrency: number;
  readonly phaseMs: number;
  readonly reps: number;
  /** Good invocations per second, per phase, in the order run. */
  readonly alonePerSec: number[];
  readonly knownPerSec: number[];
  readonly unknownPerSec: number[];
  /** Flood requests answered per second, and by status. */
  readonly floodKnown: FloodReport[];
  readonly floodUnknown: FloodReport[];
  /** median(flooded) ÷ median(alone); target ≥ 0.8. */
  readonly ratioKnown: number;
  readonly ratioUnknown: number;
}

export interface FloodReport {
  readonly perSec: number;
  readonly byStatus: Record<string, number>;
}

const median = (xs: readonly number[]): number => percentile(xs, 0.5);

async function goodPhase(t: Target, fn: string, concurrency: number, ms: number): Promise<number> {
  let done = 0;
  let failed = 0;
  const t0 = performance.now();
  const stopAt = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < stopAt) {
        if ((await invokeOnce(t, fn, '{}')).ok) done++;
        else failed++;
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} good invocations failed during the auth-flood bench`);
  return done / ((performance.now() - t0) / 1000);
}

/** Starts the flooding child; resolves once it reports that it is flooding. */
function startFlood(url: string, mode: FloodMode, ms: number, concurrency: number, keyId: string): Promise<{ readonly report: Promise<FloodReport> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, 'flood', url, mode, String(ms), String(concurrency), keyId], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((started, fail) => {
    child.stdout.on('data', (c: Buffer) => {
      const before = out;
      out += c.toString('utf8');
      if (!before.includes('flooding\n') && out.includes('flooding\n')) {
        started({
          report: new Promise((done, failDone) => {
            child.once('exit', (code) => {
              const line = out.split('\n').find((l) => l.startsWith('{'));
              if (code !== 0 || line === undefined) failDone(new Error(`the flooding client exited with ${String(code)}: ${out}`));
              else done(JSON.parse(line) as FloodReport);
            });
          }),
        });
      }
    });
    child.once('exit', (code) => fail(new Error(`the flooding client exited with ${String(code)} before flooding: ${out}`)));
  });
}

export async function authFlood(t: Target, fn: string, o: AuthFloodOptions): Promise<AuthFloodResult> {
  const alone: number[] = [];
  const known: number[] = [];
  const unknown: number[] = [];
  const floodKnown: FloodReport[] = [];
  const floodUnknown: FloodReport[] = [];
  const flooded = async (mode: FloodMode): Promise<void> => {
    // The flood runs a little longer than the measured phase, so it covers all of it.
    const { report } = await startFlood(t.url, mode, o.phaseMs + 1500, o.floodConcurrency, o.knownKeyId);
    await new Promise((r) => setTimeout(r, 500));
    (mode === 'known' ? known : unknown).push(await goodPhase(t, fn, o.concurrency, o.phaseMs));
    (mode === 'known' ? floodKnown : floodUnknown).push(await report);
  };
  await goodPhase(t, fn, o.concurrency, Math.min(2000, o.phaseMs)); // warm: the instance, the JIT, the sockets
  for (let i = 0; i < o.reps; i++) {
    alone.push(await goodPhase(t, fn, o.concurrency, o.phaseMs));
    await flooded('known');
    alone.push(await goodPhase(t, fn, o.concurrency, o.phaseMs));
    await flooded('unknown');
  }
  return {
    concurrency: o.concurrency,
    floodConcurrency: o.floodConcurrency,
    phaseMs: o.phaseMs,
    reps: o.reps,
    alonePerSec: alone,
    knownPerSec: known,
    unknownPerSec: unknown,
    floodKnown,
    floodUnknown,
    ratioKnown: median(known) / median(alone),
    ratioUnknown: median(unknown) / median(alone),
  };
}

export function formatAuthFlood(r: AuthFloodResult): string {
  const f = (x: number): string => x.toFixed(0);
  const floodRate = (xs: readonly FloodReport[]): string => f(median(xs.map((x) => x.perSec)));
  return (
    `auth flood: good invocations/s        alone ${f(median(r.alonePerSec))}   known-key flood ${f(median(r.knownPerSec))} (${r.ratioKnown.toFixed(2)})   ` +
    `unknown-key flood ${f(median(r.unknownPerSec))} (${r.ratioUnknown.toFixed(2)})   (concurrency ${r.concurrency}; target ≥ 0.80)\n` +
    `  flood answered/s                     known ${floodRate(r.floodKnown)}   unknown ${floodRate(r.floodUnknown)}   (concurrency ${r.floodConcurrency}, ${r.reps} × ${r.phaseMs / 1000} s phases)\n`
  );
}

/** The flooding client: wrong secrets for `keyId` (known) or for fresh random key ids (unknown). */
async function flood(url: string, mode: FloodMode, ms: number, concurrency: number, keyId: string): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const u = new URL(`${url}/2015-03-31/functions/empty/invocations`);
  const byStatus: Record<string, number> = {};
  let answered = 0;
  const one = (): Promise<void> =>
    new Promise((done) => {
      const id = mode === 'known' ? keyId : `FARE${randomBytes(10).toString('hex').toUpperCase().slice(0, 16)}`;
      const secret = randomBytes(30).toString('base64');
      const req = request({ agent, hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { Authorization: `Bearer ${id}:${secret}`, 'Content-Length': 2 } }, (res) => {
        res.resume();
        res.on('end', () => {
          const k = String(res.statusCode);
          byStatus[k] = (byStatus[k] ?? 0) + 1;
          answered++;
          done();
        });
      });
      req.on('error', () => {
        byStatus.error = (byStatus.error ?? 0) + 1;
        done();
      });
      req.end('{}');
    });
  const t0 = performance.now();
  const stopAt = t0 + ms;
  process.stdout.write('flooding\n');
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < stopAt) await one();
    }),
  );
  process.stdout.write(`${JSON.stringify({ perSec: answered / ((performance.now() - t0) / 1000), byStatus } satisfies FloodReport)}\n`);
  agent.destroy();
}

if (process.argv[2] === 'flood') {
  const [url, mode, ms, conc, keyId] = process.argv.slice(3);
  await flood(url ?? '', mode === 'unknown' ? 'unknown' : 'known', Number(ms), Number(conc), keyId ?? '');
} else if (import.meta.filename === process.argv[1]) {
  // Standalone: a fresh `fare up`, the empty function, the case alone.
  const quick = process.argv.includes('--quick');
  const bench = await fareWithEmpty();
  const t = bench.t;
  try {
    const conc = 4 * availableParallelism();
    const res = await authFlood(t, 'empty', { concurrency: conc, floodConcurrency: conc, phaseMs: quick ? 3000 : 6000, reps: quick ? 1 : 3, knownKeyId: ADMIN.id });
    process.stdout.write(formatAuthFlood(res));
    process.stdout.write(`${JSON.stringify(res)}\n`);
  } finally {
    await bench.stop();
  }
}
