/**
 * `covrl pretrain | train | eval | compare | report`: thin command-line shells over the modules
 * that do the work (`pretrain.ts`, `train/trainer.ts`, `eval/evaluate.ts`, `compare.ts`,
 * `report/build.ts`). Config is decoded once here: defaults < method preset < budget preset <
 * `--config` file < `--set` flags.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { loadDataset } from '@covrl/data';
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
import { baseFingerprint, loadBase } from '../model-io.js';
import { tagsOf } from '../task.js';
import { compare, embeddedBaseDir, COMPARE_METHODS } from '../compare.js';
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

/** Register the run commands on `program` (its `--backend` option chooses the TF.js backend). */
export function registerRunCommands(program: Command, io: RunCommandsIo = CONSOLE_IO): void {
  const backendOf = (): string | undefined => program.opts<{ backend?: string }>().backend;

  addConfigOptions(
    program
      .command('pretrain')
      .description("pretrain the base model on the synthetic suite's corpus (template-shaped text)")
      .requiredOption('-o, --out <dir>', 'base model directory to write'),
  ).action(async (opts: CommonOpts & { out: string }) => {
    const config = decodeOrThrow(sourcesOf(opts));
    const rt = await initRuntime(backendOf());
    io.err(`backend: ${describeRuntime(rt)}`);
    const r = await pretrain({ config, out: opts.out, command: commandLine() });
    io.out(
      JSON.stringify({
        out: r.out,
        bestStep: r.bestStep,
        eval: r.eval,
        seconds: Math.round(r.seconds),
      }),
    );
  });

  addConfigOptions(
    program
      .command('train')
      .description(
        'train one method from a base model; --resume continues a run exactly; a finished run exports its model to <run>/model',
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
        'continue from the newest checkpoint in the run directory; an error when there is none, or when ' +
          'its config differs in a key that changes training (only train.steps, train.evalEvery, ' +
          'train.checkpointEvery, train.logSamples, eval.*, runName and runDir may change). ' +
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
      if (opts.base === undefined) {
        // The embedded base only fits configs with its model, data and pretraining keys.
        const made = JSON.parse(
          readFileSync(join(embeddedBaseDir(), 'covrl-base.json'), 'utf8'),
        ) as { fingerprint?: string };
        if (made.fingerprint !== baseFingerprint(config)) {
          throw new Error(
            `the embedded base model (${embeddedBaseDir()}) was made for other model/data/pretrain settings; ` +
              'pass --base <dir>, or make one with `covrl pretrain --out <dir>` using the same config',
          );
        }
      }
      const outcome = await train({
        config,
        baseDir: opts.base ?? embeddedBaseDir(),
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
      .option('-k, --samples <k>', 'samples per question for avg@k', (v) => Number.parseInt(v, 10))
      .option('-n, --limit <n>', 'evaluate at most n questions', (v) => Number.parseInt(v, 10)),
  ).action(
    async (opts: CommonOpts & { base: string; data: string; samples?: number; limit?: number }) => {
      const config = decodeOrThrow({ ...sourcesOf(opts), method: 'covrl' });
      await initRuntime(backendOf());
      const examples: Example[] = [];
      for await (const ex of loadDataset(opts.data)) {
        examples.push(ex);
        if (opts.limit !== undefined && examples.length >= opts.limit) break;
      }
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

  addConfigOptions(
    program
      .command('compare')
      .description(
        'pretrain (or reuse) a base, train every method over seeds, evaluate, write report.md/report.html/results.json. ' +
          'The results and report are rewritten after every run; a run that stops on a NaN/Inf is recorded as failed ' +
          "(with its reason) and the others go on (exit status 1 at the end); Ctrl-C saves the current run's " +
          'checkpoint and stops (exit status 130). Rerunning the same command keeps the recorded runs, resumes an ' +
          'interrupted one and trains the rest',
      )
      .option('-o, --out <dir>', 'output directory', 'runs/compare')
      .option(
        '--seeds <list>',
        'comma-separated seeds (default: 1,2 for quick, 1,2,3 for standard)',
      )
      .option('-b, --base <dir>', 'use this base model instead of finding or pretraining one')
      .option('--methods <list>', `comma-separated subset of ${COMPARE_METHODS.join(',')}`)
      .option('--sweep-alpha', "also run CoVRL with alpha 0.1 and 0.9 (the paper's ablation)")
      .option('--sweep-kl', "also run CoVRL with klCoef 0.1 (the paper's collapse ablation)"),
  ).action(
    async (
      opts: CommonOpts & {
        out: string;
        seeds?: string;
        base?: string;
        methods?: string;
        sweepAlpha?: boolean;
        sweepKl?: boolean;
      },
    ) => {
      const rt = await initRuntime(backendOf());
      io.err(`backend: ${describeRuntime(rt)}`);
      const seeds = (opts.seeds ?? (opts.preset === 'quick' ? '1,2' : '1,2,3'))
        .split(',')
        .map((s) => {
          const n = Number.parseInt(s, 10);
          if (!Number.isInteger(n))
            throw new Error(`--seeds ${opts.seeds}: '${s}' is not an integer`);
          return n;
        });
      const methods = opts.methods?.split(',').map((m) => {
        if (!(COMPARE_METHODS as readonly string[]).includes(m)) {
          throw new Error(`--methods: unknown method '${m}'; use ${COMPARE_METHODS.join(',')}`);
        }
        return m as Method;
      });
      const results = await compare({
        sources: sourcesOf(opts),
        seeds,
        out: opts.out,
        ...(opts.base !== undefined ? { base: opts.base } : {}),
        ...(methods !== undefined ? { methods } : {}),
        sweepAlpha: opts.sweepAlpha === true,
        sweepKl: opts.sweepKl === true,
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
          `covrl: ${results.failed.length} run(s) stopped on a non-finite value: ` +
            results.failed
              .map((r) => `${r.label} seed ${r.seed} (${r.reason ?? 'failed'})`)
              .join('; '),
        );
        process.exitCode = 1;
      }
    },
  );

  program
    .command('report')
    .description('rebuild report.md and report.html from <dir>/results.json')
    .argument('<dir>', 'a compare output directory')
    .action(async (dir: string) => {
      const results = await rebuildReport(dir);
      io.out(`report: ${join(dir, 'report.html')} (${results.runs.length} runs)`);
    });

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
