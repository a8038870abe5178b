// `fare sim …`: the simulator's subcommands (fig4, fig5, experiment NAME, run CONFIG, replay FILE).

import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, UsageError } from './args.ts';
import type { Progress as RunProgress } from '../sim/experiment.ts';
import type { Progress } from '../sim/report/progress.ts';

// The simulator's modules are loaded only once a run is asked for: the chart renderer they import
// takes most of a second to load, and `fare sim --help` or a usage error needs none of it.

/**
 * The named experiments (`QUESTIONS` in src/sim/experiments/questions.ts), for the help and the
 * checks before anything is loaded; sim.test.ts checks that the two lists agree.
 */
export const EXPERIMENTS: readonly { readonly name: string; readonly about: string }[] = [
  { name: 'class-order', about: 'the shard\'s next job by price × time waited, strictly by class, or class-blind: top-class tail, low-class starvation' },
  { name: 'swap-paging', about: 'swapping whole jobs by class against the kernel\'s order (least recently run first, blind to classes), by whole jobs and at page level: latency per class and bytes moved' },
  { name: 'swap-bound', about: 'a bound on swapped memory per machine, as a multiple of the largest job\'s memory: which keeps the top class whole' },
  { name: 'shards', about: 'idle list on (Fare\'s rule or the paper\'s) and off, 1 to 100 shards, at 10,000 machines' },
];

const SIM_HELP = `fare sim — the discrete-event simulator

  fare sim fig4 [--quick] [--seed N] [--out DIR]
      Figure 4: Fare (no idle list), Hermod and EDF on 100 machines × 8 cores, 4 shards, k = 3,
      unlimited memory, loads 0.5 to 1.2. Writes DIR/fig4.csv, charts (.svg, .png) and DIR/summary.md.
  fare sim fig5 [--quick] [--admission] [--seed N] [--out DIR]
      Figure 5: Fare with idle list, 32 GB per machine: memory per machine over time, swapped MB per
      class and per machine. Writes DIR/fig5.csv, fig5-memory.csv, fig5-swaps.csv, charts, summary.md.
  fare sim experiment NAME [--quick] [--seed N] [--out DIR]
      One of the paper's open questions, answered with a figure (fare sim experiment lists them):
${EXPERIMENTS.map((q) => `        ${q.name.padEnd(12)} ${q.about}`).join('\n')}
  fare sim run CONFIG [--seed N] [--seeds K] [--out DIR]
      Any experiment described in a JSON file (see "Experiment configs" in README.md).
  fare sim replay FILE [--policy P]… [--prices FILE] [--classes OLD=NEW,…] [--seed N] [--out DIR]
      Live traffic recorded by fare up --record FILE, on the same core: the recorded policy's
      simulated latency per class next to what was measured live, then the same traffic under other
      policies (default hermod and fifo) and, with --prices, another price table (JSON: {"classes":
      [{"name", "price"}, …]}; --classes maps recorded class names to its names).

Options:
  --quick       a smaller run (under 30 s) that still shows the qualitative result
  --admission   (fig5) memory admission on every machine: resident memory never exceeds RAM — a job
                that does not fit waits, memory is swapped out first, running jobs that fill memory stop
  --seed N      random seed (default 1); the same seed and config give byte-identical output
  --seeds K     (run) the experiment with seeds N … N+K−1: every seed's rows in NAME-seeds.csv, and
                the summary gives each p99 as mean ± 95 % confidence interval over the seeds
  --out DIR     output directory (default out/<experiment>)
  --quiet       no progress bar`;

export async function runSimCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    quick: { type: 'boolean', default: false },
    admission: { type: 'boolean', default: false },
    seed: { type: 'string' },
    seeds: { type: 'string' },
    out: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    policy: { type: 'string', multiple: true },
    prices: { type: 'string' },
    classes: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [which, ...more] = positionals;
  if (values.help || which === undefined || which === 'help') {
    process.stdout.write(`${SIM_HELP}\n`);
    return which === undefined && !values.help ? 1 : 0;
  }
  const seedText = values.seed as string | undefined;
  const seedsText = values.seeds as string | undefined;
  if (seedsText !== undefined && which !== 'run') throw new UsageError('--seeds is an option of fare sim run only');
  const seed = seedText === undefined ? 1 : Number(seedText);
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed ${seedText ?? ''} is not a whole number: give e.g. --seed 7`);
  const quick = values.quick as boolean;
  const progress = values.quiet ? undefined : cliProgress(which === 'run' ? 'experiment' : which, (await import('../sim/report/progress.ts')).Progress);
  const t0 = performance.now();
  let out: string;
  let files: string[];
  switch (which) {
    case 'fig4':
    case 'fig5': {
      if (more.length) throw new UsageError(`fare sim ${which} takes no arguments besides options, got "${more.join(' ')}"`);
      out = resolve((values.out as string | undefined) ?? join('out', which));
      if (values.admission && which !== 'fig5') throw new UsageError('--admission is an option of fare sim fig5 only');
      const opts = { quick, seed, out, ...(progress ? { progress } : {}) };
      files = which === 'fig4'
        ? (await import('../sim/experiments/fig4.ts')).runFig4(opts).files
        : (await import('../sim/experiments/fig5.ts')).runFig5({ ...opts, admission: values.admission as boolean }).files;
      break;
    }
    case 'experiment': {
      const [name, ...extra] = more;
      if (name === undefined) {
        process.stdout.write(`fare sim experiment NAME [--quick] [--seed N] [--out DIR], NAME one of:\n${EXPERIMENTS.map((q) => `  ${q.name.padEnd(12)} ${q.about}`).join('\n')}\n`);
        return 0;
      }
      if (extra.length) throw new UsageError(`fare sim experiment takes one name, got also "${extra.join(' ')}"`);
      if (values.admission) throw new UsageError('--admission is an option of fare sim fig5 only');
      if (!EXPERIMENTS.some((q) => q.name === name)) throw new UsageError(`unknown experiment "${name}": the experiments are ${EXPERIMENTS.map((q) => q.name).join(', ')} (fare sim experiment lists them)`);
      out = resolve((values.out as string | undefined) ?? join('out', name));
      const { runQuestion } = await import('../sim/experiments/questions.ts');
      files = runQuestion(name, { quick, seed, out, ...(progress ? { progress } : {}) });
      break;
    }
    case 'run': {
      const [file, ...extra] = more;
      if (file === undefined) throw new UsageError('fare sim run needs a config file: fare sim run CONFIG.json (see README.md, "Experiment configs")');
      if (extra.length) throw new UsageError(`fare sim run takes one config file, got also "${extra.join(' ')}"`);
      const { ConfigError, parseExperiment } = await import('../sim/experiment.ts');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (e) {
        throw new ConfigError(`config file ${file} is not valid JSON: ${(e as Error).message}`);
      }
      if (seedText !== undefined && typeof raw === 'object' && raw !== null) (raw as Record<string, unknown>).seed = seed;
      if (seedsText !== undefined && typeof raw === 'object' && raw !== null) (raw as Record<string, unknown>).seeds = Number(seedsText);
      const spec = parseExperiment(raw);
      out = resolve((values.out as string | undefined) ?? join('out', spec.name));
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
      const { runCustom } = await import('../sim/experiments/custom.ts');
      files = ['config.json', ...runCustom(spec, out, progress)];
      break;
    }
    case 'replay': {
      const [file, ...extra] = more;
      if (file === undefined) throw new UsageError('fare sim replay needs a recording: fare sim replay FILE (record one with fare up --record FILE)');
      if (extra.length) throw new UsageError(`fare sim replay takes one recording, got also "${extra.join(' ')}"`);
      out = resolve((values.out as string | undefined) ?? join('out', 'replay'));
      const { ConfigError } = await import('../sim/experiment.ts');
      let prices: import('../core/classes.ts').PriceTable | undefined;
      if (values.prices !== undefined) {
        const { makePriceTable } = await import('../core/classes.ts');
        let raw: { classes?: unknown; memoryPrice?: unknown };
        try {
          raw = JSON.parse(readFileSync(values.prices as string, 'utf8')) as typeof raw;
        } catch (e) {
          throw new ConfigError(`--prices ${String(values.prices)}: ${(e as Error).message}: give a JSON file {"classes": [{"name": "high", "price": 2}, …]}`);
        }
        const made = makePriceTable(Array.isArray(raw.classes) ? (raw.classes as { name: string; price: number }[]) : [], typeof raw.memoryPrice === 'number' ? raw.memoryPrice : 0);
        if (!made.ok) throw new ConfigError(`--prices ${String(values.prices)}: ${made.error}`);
        prices = made.value;
      }
      const rename: Record<string, string> = {};
      for (const pair of ((values.classes as string | undefined) ?? '').split(',').filter((x) => x !== '')) {
        const [from, to] = pair.split('=');
        if (from === undefined || to === undefined || from === '' || to === '') throw new UsageError(`--classes ${String(values.classes)}: give OLD=NEW pairs separated by commas, e.g. --classes low=standard`);
        rename[from] = to;
      }
      const { runReplay } = await import('../sim/experiments/replay.ts');
      files = runReplay({ file, seed, out, rename, ...(prices ? { prices } : {}), ...(values.policy !== undefined ? { policies: values.policy as string[] } : {}), ...(progress ? { progress } : {}) }).files;
      break;
    }
    default:
      throw new UsageError(`unknown simulator command "${which}": use fig4, fig5, experiment, run or replay (see fare sim --help)`);
  }
  progress?.finish();
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`wrote ${files.length} files to ${out} in ${secs} s:\n${files.map((f) => `  ${f}`).join('\n')}\n`);
  return 0;
}

/** Adapts the experiment's progress callbacks to a terminal progress bar (silent when not a TTY). */
function cliProgress(name: string, Bar: typeof Progress): RunProgress & { finish(): void } {
  let bar: Progress | undefined;
  let offset = 0;
  let current = 0;
  return {
    begin(runs, jobs) {
      // A figure may run more than one experiment: one bar each.
      bar?.done();
      offset = 0;
      bar = new Bar({ label: `${name}: ${runs} runs`, total: jobs, unit: 'jobs' });
    },
    start(_label, jobs) {
      current = jobs;
    },
    tick(n) {
      bar?.update(offset + n);
    },
    end() {
      offset += current;
      bar?.update(offset);
    },
    finish() {
      bar?.done();
    },
  };
}
