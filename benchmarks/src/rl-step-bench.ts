/**
 * `npm run bench:rl-step -- [--json] [--steps N] [--preset quick|standard] [--backend wasm|cpu]`:
 * one scripted RL step of every method on the same model and the same rollout batch size (the
 * preset's questions × G rows; RLPR's std filter off so every method trains on one generation
 * round), through the app's one pipeline. Per method: seconds per step and per phase (sampling,
 * old-policy scoring, reward and advantages, updates), tokens sampled, and the ratio of its step
 * to the project's own GRPO step (issue 15's target: CoVRL ≤ 1.3×). The first step of each method
 * is a warm-up and is not counted; the machine's other load shows in the spread, so the best and
 * the median step are both reported. The last line printed is one JSON object.
 */
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { createAdamW } from '@covrl/models';
import {
  buildTask,
  ContextCache,
  decodeConfig,
  embeddedBaseDir,
  initRuntime,
  loadBase,
  methods,
  METHODS,
  stepData,
  tagsOf,
} from 'covrl/step-api';
import type { Method, StepOutput } from 'covrl/step-api';

/** Phases of `StepOutput.timing` the report shows, in pipeline order. */
export const PHASES = ['sample', 'old_score', 'reward', 'update', 'step'] as const;

export interface MethodStepTiming {
  readonly method: Method;
  /** Median seconds per phase over the measured steps (`step` = the whole step). */
  readonly median: Record<(typeof PHASES)[number], number>;
  /** Fastest whole step. */
  readonly bestStep: number;
  readonly sampledTokensPerStep: number;
  readonly updatesPerStep: number;
  /** Median step time / GRPO's median step time (same model, same batch, same run). */
  readonly ratioToGrpo: number | null;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Run `steps + 1` steps of `method` from the embedded base (the first is a warm-up). */
async function timeMethod(method: Method, preset: string, steps: number): Promise<StepOutput[]> {
  const decoded = decodeConfig({ method, preset, flags: { 'rlpr.stdFilter': 'false' } });
  if (decoded._tag === 'Left') throw new Error(decoded.left.join('\n'));
  const config = decoded.right;
  const { model, tokenizer } = await loadBase(embeddedBaseDir(), config.seed);
  try {
    const task = buildTask(config);
    const tags = tagsOf(config);
    const cache = new ContextCache(tokenizer, tags, config.rlpr.baselineContext);
    const contextsOf = (xs: typeof task.train) => xs.map((x) => cache.get(x));
    const runner = methods[method].runner();
    runner.attach?.({ config, model });
    runner.init?.({
      config,
      model,
      tokenizer,
      tags,
      examples: task.train,
      contexts: contextsOf(task.train),
    });
    const optimizer = createAdamW({ lr: config.train.lr });
    const outs: StepOutput[] = [];
    for (let step = 1; step <= steps + 1; step++) {
      const out = await runner.step({
        step,
        config,
        model,
        tokenizer,
        tags,
        ...stepData(task.train, config, step, contextsOf),
        optimizer,
        lr: config.train.lr,
      });
      if (step > 1) outs.push(out);
    }
    optimizer.dispose();
    return outs;
  } finally {
    model.dispose();
  }
}

/** Every method's scripted step timing, with ratios to GRPO. */
export async function runRlStepBench(options: {
  readonly preset: string;
  readonly steps: number;
}): Promise<MethodStepTiming[]> {
  const raw: { method: Method; outs: StepOutput[] }[] = [];
  for (const method of METHODS)
    raw.push({ method, outs: await timeMethod(method, options.preset, options.steps) });
  const timingOf = (outs: StepOutput[], key: string) => outs.map((o) => o.timing?.[key] ?? 0);
  const rows = raw.map(({ method, outs }) => ({
    method,
    median: Object.fromEntries(
      PHASES.map((p) => [p, median(timingOf(outs, `time/${p}_s`))]),
    ) as MethodStepTiming['median'],
    bestStep: Math.min(...timingOf(outs, 'time/step_s')),
    sampledTokensPerStep: median(timingOf(outs, 'compute/sampled_tokens')),
    updatesPerStep: median(timingOf(outs, 'compute/updates')),
  }));
  const grpo = rows.find((r) => r.method === 'grpo')?.median.step;
  return rows.map((r) => ({
    ...r,
    ratioToGrpo: grpo === undefined || grpo === 0 ? null : r.median.step / grpo,
  }));
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const runtime = await initRuntime(flag('backend') ?? 'wasm');
  const steps = Number(flag('steps') ?? '5');
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`--steps must be a positive integer, got ${flag('steps')}`);
  const preset = flag('preset') ?? 'quick';
  const rows = await runRlStepBench({ preset, steps });
  const ms = (s: number) => `${(1000 * s).toFixed(0)} ms`.padStart(8);
  console.log(
    `RL step per method (${preset} preset, median of ${steps} steps after a warm-up, backend ${runtime.backend})`,
  );
  console.log(
    `method    ${PHASES.map((p) => p.padStart(9)).join(' ')}   best step  tokens  updates  ×GRPO`,
  );
  for (const r of rows) {
    console.log(
      `${r.method.padEnd(9)} ${PHASES.map((p) => ms(r.median[p]).padStart(9)).join(' ')}  ${ms(r.bestStep)}  ${String(Math.round(r.sampledTokensPerStep)).padStart(6)}  ${String(r.updatesPerStep).padStart(7)}  ${r.ratioToGrpo?.toFixed(2) ?? '—'}`,
    );
  }
  console.log(JSON.stringify({ preset, steps, backend: runtime.backend, methods: rows }));
}

if (process.argv[1]?.endsWith('rl-step-bench.js') === true) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
