/**
 * `covrl pretrain | train | eval | compare | report`: thin command-line shells over the modules
 * that do the work (`pretrain.ts`, `train/trainer.ts`, `eval/evaluate.ts`, `compare.ts`,
 * `report/build.ts`). Config is decoded once here: defaults < method preset < budget preset <
 * `--config` file < `--set` flags.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { loadDataset } from '@covrl/data/node';
import type { Example } from '@covrl/data';
import type { Config } from '../config/schema.js';
import { BUDGET_PRESETS } from '../config/schema.js';
import { METHODS } from '../methods/index.js';
import type { Method } from '../methods/index.js';
import { decodeConfig, explainConfig, formatExplain, parseSetFlags } from '../config/decode.js';
import type { ConfigSources } from '../config/decode.js';
import { describeRuntime, initRuntime } from '../runtime.js';
import { pretrain } from '../pretrain.js';
import { train } from '../train/trainer.js';
import { evaluate } from '../eval/evaluate.js';
import { baseFingerprint, loadBase, readBaseMeta } from '../model-io.js';
import { tagsOf } from '../task.js';
import { compare, embeddedBaseDir, COMPARE_METHODS, EMBEDDED_BASES } from '../compare.js';
import { rebuildReport } from '../report/build.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

interface CommonOpts {
  config?: string;
  preset?: string;
  set?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function addConfigOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'JSON or YAML config file (keys as in `covrl config`)')
    .addOption(
      new Option('-p, --preset <budget>', 'budget preset')
        .choices([...BUDGET_PRESETS])
        .default('standard'),
    )
    .option(
      '-s, --set <key=value>',
      'override one config key, e.g. --set train.steps=20 (repeatable)',
      collect,
    );
}

function sourcesOf(opts: CommonOpts): Omit<ConfigSources, 'method'> {
  const flags = parseSetFlags(opts.set ?? []);
  if (E.isLeft(flags)) throw new Error(flags.left.join('\n'));
  return {
    ...(opts.config !== undefined ? { file: opts.config } : {}),
    ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
    flags: flags.right,
  };
}

function decodeOrThrow(sources: ConfigSources): Config {
  const r = decodeConfig(sources);
  if (E.isLeft(r)) throw new Error(`invalid configuration:\n  ${r.left.join('\n  ')}`);
  return r.right;
}

const commandLine = (): string => `covrl ${process.argv.slice(2).join(' ')}`;

function runName(config: Config): string {
  return config.runName !== '' ? config.runName : `${config.method}-seed${config.seed}`;
}

/** Where the commands print: results to `out` (stdout), progress and notes to `err` (stderr). */
export interface RunCommandsIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const CONSOLE_IO: RunCommandsIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * A strict integer option parser: the whole value must be an integer ≥ `min` (commander reports
 * the error with the option's name; `-n abc`, `-n 0`, `-k -3`, `-n 1.5` are refused).
 */
export function strictInt(name: string, min: number): (value: string) => number {
  return (value) => {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got '${value}'`);
    }
    return n;
  };
}

/**
 * A comma-separated list of distinct items, each parsed by `item` (which throws naming it);
 * a repeated item is refused (`--seeds 1,1` would record one run twice and narrow its interval).
 */
export function distinctList<T>(name: string, raw: string, item: (s: string) => T): T[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((s) => s === '')) {
    throw new Error(`${name} ${raw}: an empty item; separate items with single commas`);
  }
  const out = parts.map(item);
  const twice = out.find((x, i) => out.indexOf(x) !== i);
  if (twice !== undefined) {
    throw new Error(`${name} ${raw}: '${String(twice)}' is listed twice; list each once`);
  }
  return out;
}

/** `--seeds`: distinct non-negative integers (`1.5`, `2x`, `1,1` are refused). */
export function parseSeeds(raw: string): number[] {
  return distinctList('--seeds', raw, (s) => {
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
      throw new Error(`--seeds ${raw}: '${s}' is not a non-negative integer`);
    }
    return Number(s);
  });
}

/** `--methods`: distinct names of {@link COMPARE_METHODS}. */
export function parseMethods(raw: string): Method[] {
  return distinctList('--methods', raw, (m) => {
    if (!(COMPARE_METHODS as readonly string[]).includes(m)) {
      throw new Error(`--methods: unknown method '${m}'; use ${COMPARE_METHODS.join(',')}`);
    }
    return m as Method;
  });
}

/** Register the run commands on `program` (its `--backend` option chooses the TF.js backend). */
export function registerRunCommands(program: Command, io: RunCommandsIo = CONSOLE_IO): void {
  const backendOf = (): string | undefined => program.opts<{ backend?: string }>().backend;
  registerPretrain(program, io, backendOf);
  registerTrain(program, io, backendOf);
  registerEval(program, io, backendOf);
  registerCompare(program, io, backendOf);
  program
    .command('report')
    .description('rebuild report.md and report.html from <dir>/results.json')
    .argument('<dir>', 'a compare output directory')
    .action(async (dir: string) => {
      const results = await rebuildReport(dir);
      io.out(`report: ${join(dir, 'report.html')} (${results.runs.length} runs)`);
    });
  registerConfig(program, io);
}

type BackendOf = () => string | undefined;

function registerPretrain(program: Command, io: RunCommandsIo, backendOf: BackendOf): void {
  addConfigOptions(
    program
      .command('pretrain')
      .description(
        "pretrain the base model on the synthetic suite's corpus (template-shaped text); written to a temporary " +
          'directory and moved into place when complete',
      )
      .requiredOption('-o, --out <dir>', 'base model directory to write')
      .option('--force', 'replace an existing --out (only once the new model is complete)'),
  ).action(async (opts: CommonOpts & { out: string; force?: boolean }) => {
    const config = decodeOrThrow(sourcesOf(opts));
    const rt = await initRuntime(backendOf());
    io.err(`backend: ${describeRuntime(rt)}`);
    const r = await pretrain({
      config,
      out: opts.out,
      command: commandLine(),
      force: opts.force === true,
    });
    io.out(
      JSON.stringify({
        out: r.out,
        bestStep: r.bestStep,
        eval: r.eval,
        seconds: Math.round(r.seconds),
      }),
    );
  });
}

/** Refuse the embedded base for a config whose model, data or pretraining keys differ. */
/** The embedded base made for this config's model, data and pretraining keys (e.g. `--preset study`). */
function embeddedBaseFor(config: Config): string {
  const fingerprint = baseFingerprint(config);
  const dir = EMBEDDED_BASES.map((b) => embeddedBaseDir(b)).find(
    (d) => readBaseMeta(d)?.fingerprint === fingerprint,
  );
  if (dir === undefined) {
    throw new Error(
      `no embedded base model (${EMBEDDED_BASES.join(', ')}) was made for these model/data/pretrain settings; ` +
        'pass --base <dir>, or make one with `covrl pretrain --out <dir>` using the same config',
    );
  }
  return dir;
}

function registerTrain(program: Command, io: RunCommandsIo, backendOf: BackendOf): void {
  addConfigOptions(
    program
      .command('train')
      .description(
        'train one method from a base model; --resume continues a run exactly; a finished run exports its model to <run>/model. ' +
          'Exits 1 when the run stops on a NaN/Inf or collapses (no rollout contributing for train.collapsePatience steps)',
      )
      .addOption(
        new Option(
          '-m, --method <name>',
          "training method (required unless the config file or --set names 'method')",
        ).choices([...METHODS]),
      )
      .option(
        '-b, --base <dir>',
        'model to start from: a model directory, a run directory or a checkpoint (default: the embedded base of the preset)',
      )
      .option('-o, --out <dir>', 'run directory (default: <runDir>/<method>-seed<seed>)')
      .option(
        '--resume',
        'continue from the newest checkpoint in the run directory that verifies; an error when there is none, or when ' +
          'its config differs in a key that changes training (only train.steps, train.evalEvery, ' +
          'train.checkpointEvery, train.logSamples, train.collapsePatience, eval.*, runName and runDir may change). ' +
          'Without it, a run directory that holds checkpoints is refused',
      ),
  ).action(
    async (
      opts: CommonOpts & { method?: Method; base?: string; out?: string; resume?: boolean },
    ) => {
      const config = decodeOrThrow({
        ...sourcesOf(opts),
        ...(opts.method !== undefined ? { method: opts.method, methodOrigin: '--method' } : {}),
        requireMethod: true,
      });
      const rt = await initRuntime(backendOf());
      io.err(`backend: ${describeRuntime(rt)}`);
      const runDir = opts.out ?? join(config.runDir, runName(config));
      // The embedded base only fits configs with its model, data and pretraining keys.
      const outcome = await train({
        config,
        baseDir: opts.base ?? embeddedBaseFor(config),
        runDir,
        resume: opts.resume === true,
        command: commandLine(),
      });
      outcome.model.dispose();
      io.out(
        JSON.stringify({
          runDir,
          steps: outcome.steps,
          interrupted: outcome.interrupted,
          ...(outcome.modelDir !== undefined ? { model: outcome.modelDir } : {}),
          splits: outcome.splits,
        }),
      );
      if (outcome.interrupted) process.exitCode = 130;
    },
  );
}

/**
 * Read at most `limit` examples of a dataset file. Every error names the file (a broken Parquet
 * file's reader does not); a file with no records is an error.
 */
async function readExamples(file: string, limit: number | undefined): Promise<Example[]> {
  const examples: Example[] = [];
  try {
    for await (const ex of loadDataset(file)) {
      examples.push(ex);
      if (limit !== undefined && examples.length >= limit) break;
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(message.includes(file) ? message : `${file}: ${message}`, { cause: error });
  }
  if (examples.length === 0) {
    throw new Error(`${file}: no records; an empty dataset cannot be evaluated`);
  }
  return examples;
}

function registerEval(program: Command, io: RunCommandsIo, backendOf: BackendOf): void {
  addConfigOptions(
    program
      .command('eval')
      .description(
        'greedy pass@1 and sampled avg@k of a model on a JSONL/Parquet dataset, in total, per family and per domain, ' +
          "and the reference answer's log-likelihood after the model's own greedy trace (eval/answer_logprob)",
      )
      .requiredOption(
        '-b, --base <dir>',
        "the model: a model directory (`covrl pretrain --out`, a run's exported <run>/model, or a checkpoint " +
          '<run>/checkpoints/step-NNNNNN), or a `covrl train` run directory (its exported model, else its newest checkpoint)',
      )
      .requiredOption(
        '-d, --data <file>',
        'dataset file (.jsonl or .parquet) of {id, question, answer, domain, family}',
      )
      .option('-k, --samples <k>', 'samples per question for avg@k (≥ 1)', strictInt('-k', 1))
      .option('-n, --limit <n>', 'evaluate at most n questions (≥ 1)', strictInt('-n', 1)),
  ).action(
    async (opts: CommonOpts & { base: string; data: string; samples?: number; limit?: number }) => {
      const config = decodeOrThrow({ ...sourcesOf(opts), method: 'covrl' });
      await initRuntime(backendOf());
      const examples = await readExamples(opts.data, opts.limit);
      const { model, tokenizer, dir } = await loadBase(opts.base, config.seed);
      if (dir !== opts.base) io.err(`model: ${dir}`);
      try {
        const result = await evaluate({
          policy: model,
          tokenizer,
          tags: tagsOf(config),
          examples,
          samples: opts.samples ?? config.eval.samples,
          temperature: config.eval.temperature,
          maxNewTokens: config.eval.maxNewTokens,
          maxContext: model.config.maxContext,
          seed: config.seed,
        });
        io.out(
          JSON.stringify(
            { data: opts.data, model: dir, questions: examples.length, ...result },
            null,
            1,
          ),
        );
      } finally {
        model.dispose();
      }
    },
  );
}

interface CompareOpts extends CommonOpts {
  out: string;
  seeds?: string;
  base?: string;
  methods?: string;
  sweepAlpha?: boolean;
  sweepKl?: boolean;
  jobs?: number;
}

function registerCompare(program: Command, io: RunCommandsIo, backendOf: BackendOf): void {
  addConfigOptions(
    program
      .command('compare')
      .description(
        'pretrain (or reuse) a base, train every method over seeds, evaluate, write report.md/report.html/results.json. ' +
          'The results and report are rewritten after every run; a run that stops on a NaN/Inf or collapses is recorded as failed ' +
          "(with its reason) and the others go on (exit status 1 at the end); Ctrl-C or SIGTERM saves the current run's " +
          'checkpoint and stops (exit status 130). Rerunning the same command keeps the recorded runs, resumes an ' +
          'interrupted one and trains the rest',
      )
      .option('-o, --out <dir>', 'output directory', 'runs/compare')
      .option(
        '--seeds <list>',
        'comma-separated distinct seeds (default: 1,2 for quick, 1,2,3 for standard)',
      )
      .option('-b, --base <dir>', 'use this base model instead of finding or pretraining one')
      .option('--methods <list>', `comma-separated distinct subset of ${COMPARE_METHODS.join(',')}`)
      .option('--sweep-alpha', "also run CoVRL with alpha 0.1 and 0.9 (the paper's ablation)")
      .option('--sweep-kl', "also run CoVRL with klCoef 0.1 (the paper's collapse ablation)")
      .option(
        '--jobs <n>',
        'training runs at once, each in its own worker process (default 1: one after another); each run is the same either way',
        strictInt('--jobs', 1),
      ),
  ).action(async (opts: CompareOpts) => {
    // Arguments first: a typo must not cost a backend start.
    const seeds = parseSeeds(opts.seeds ?? (opts.preset === 'quick' ? '1,2' : '1,2,3'));
    const methods = opts.methods !== undefined ? parseMethods(opts.methods) : undefined;
    const sources = sourcesOf(opts);
    const rt = await initRuntime(backendOf());
    io.err(`backend: ${describeRuntime(rt)}`);
    const results = await compare({
      sources,
      seeds,
      out: opts.out,
      ...(opts.base !== undefined ? { base: opts.base } : {}),
      ...(methods !== undefined ? { methods } : {}),
      sweepAlpha: opts.sweepAlpha === true,
      sweepKl: opts.sweepKl === true,
      ...(opts.jobs !== undefined ? { jobs: opts.jobs, workerBackend: rt.backend } : {}),
      command: commandLine(),
      backend: describeRuntime(rt),
      version: pkg.version,
      log: io.err,
    });
    io.out(`report: ${join(opts.out, 'report.html')} (${results.runs.length} runs)`);
    if (results.interrupted) {
      process.exitCode = 130;
    } else if (results.failed.length > 0) {
      io.err(
        `covrl: ${results.failed.length} run(s) failed (non-finite value or collapse): ` +
          results.failed
            .map((r) => `${r.label} seed ${r.seed} (${r.reason ?? 'failed'})`)
            .join('; '),
      );
      process.exitCode = 1;
    }
  });
}

function registerConfig(program: Command, io: RunCommandsIo): void {
  addConfigOptions(
    program
      .command('config')
      .description(
        'print the resolved configuration (with --explain: the source of each hyperparameter)',
      )
      .addOption(
        new Option(
          '-m, --method <name>',
          "method (default: the config file's or --set's 'method', else covrl)",
        ).choices([...METHODS]),
      )
      .option(
        '--explain',
        'list each key of the resolved method and preset with its value, the layer that set it and its source',
      ),
  ).action((opts: CommonOpts & { method?: Method; explain?: boolean }) => {
    const sources: ConfigSources = {
      ...sourcesOf(opts),
      ...(opts.method !== undefined ? { method: opts.method, methodOrigin: '--method' } : {}),
    };
    if (opts.explain === true) {
      const rows = explainConfig(sources);
      if (E.isLeft(rows)) throw new Error(`invalid configuration:\n  ${rows.left.join('\n  ')}`);
      for (const line of formatExplain(rows.right)) io.out(line);
    } else {
      io.out(JSON.stringify(decodeOrThrow(sources), null, 2));
    }
  });
}
