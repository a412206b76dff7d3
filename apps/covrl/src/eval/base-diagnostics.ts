/**
 * Base-model diagnostics before any RL (issue 12; methods.md §7b "measure the posterior's
 * advantage on the base before any RL"): per split, greedy pass@1, sampled avg@k and pass@k of
 * the PRIOR (question-only FULL-SAMPLE, as evaluation), and, for families with a trace checker
 * (`Family.checkTrace`), how often the traces the model writes are step-correct when sampled
 * from the PRIOR template versus from the POSTERIOR template (the answer shown first) on the same
 * questions, and whether the model's answer follows its own trace.
 */
import * as E from 'fp-ts/lib/Either.js';
import { getFamily } from '@covrl/data';
import type { Example, Family } from '@covrl/data';
import { buildContexts, sampleResponses, sampleTraces } from '@covrl/sampler';
import type { ExampleContexts, Policy, Tags, Tokenizer } from '@covrl/sampler';
import { isCorrect } from './evaluate.js';

/** A share with its counts (`rate` = `count / total`, 0 when `total` is 0). */
export interface Share {
  readonly count: number;
  readonly total: number;
  readonly rate: number;
}

const share = (count: number, total: number): Share => ({
  count,
  total,
  rate: total > 0 ? count / total : 0,
});

/** Trace statistics of sampled traces of one template (rows of checkable families only). */
export interface TraceStats {
  /** Rows whose trace the family checker judged step-correct (see `TraceCheck.stepCorrect`). */
  readonly stepCorrect: Share;
  /** Rows whose trace arrives at the reference answer (`traceAnswer` verifies). */
  readonly reachesAnswer: Share;
  /** Rows whose trace ended on the closing think tag within the budget. */
  readonly closed: Share;
}

/** The diagnostics of one split. */
export interface SplitDiagnostics {
  readonly questions: number;
  /** Greedy pass@1 (temperature 0). */
  readonly greedy: Share;
  /** avg@k: correct samples over all k·questions samples at `temperature`. */
  readonly avgAtK: Share;
  /** pass@k: questions with at least one correct sample among k. */
  readonly passAtK: Share;
  /** Questions none of whose k samples is correct (the pool coverage is measured on). */
  readonly unsolvedAtK: number;
  /** Traces of the prior's FULL-SAMPLE responses (present when the split's families check traces). */
  readonly prior?: TraceStats;
  /**
   * Answer–trace consistency of the prior samples: among rows whose trace arrives at an answer
   * and that extracted an answer, the share whose answer equals the trace's.
   */
  readonly answerFollowsTrace?: Share;
  /** POSTERIOR-sampled traces on the same questions (only for splits in `posteriorSplits`). */
  readonly posterior?: TraceStats;
}

export interface BaseDiagnosticsOptions {
  readonly policy: Policy;
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  readonly splits: Readonly<Record<string, readonly Example[]>>;
  /** Samples per question, k (issue 12: 8). */
  readonly samples: number;
  readonly temperature: number;
  /** FULL-SAMPLE budget (the config's `eval.maxNewTokens`). */
  readonly maxNewTokens: number;
  /** POSTERIOR trace budget (the config's `train.maxTraceTokens`, as CoVRL samples them). */
  readonly maxTraceTokens: number;
  /** Splits whose questions also get k POSTERIOR-sampled traces (default: `hard`). */
  readonly posteriorSplits?: readonly string[];
  readonly seed: number;
  /** Questions per generate call (bounds memory; results do not depend on it). Default 16. */
  readonly batchSize?: number;
}

/** The family of an example when it has a trace checker, else undefined. */
function checkerOf(example: Example): Family['checkTrace'] {
  const family = getFamily(example.family);
  return E.isRight(family) ? family.right.checkTrace : undefined;
}

/** Running counts of {@link TraceStats}. */
class TraceTally {
  stepCorrect = 0;
  reaches = 0;
  closed = 0;
  rows = 0;
  add(example: Example, text: string | undefined): void {
    const check = checkerOf(example);
    if (check === undefined) return;
    this.rows += 1;
    if (text === undefined) return;
    this.closed += 1;
    const v = check(example, text);
    if (v.stepCorrect) this.stepCorrect += 1;
    if (v.traceAnswer !== undefined && isCorrect(v.traceAnswer, example)) this.reaches += 1;
  }
  stats(): TraceStats | undefined {
    if (this.rows === 0) return undefined;
    return {
      stepCorrect: share(this.stepCorrect, this.rows),
      reachesAnswer: share(this.reaches, this.rows),
      closed: share(this.closed, this.rows),
    };
  }
}

/** The trace text of a response or trace: the text before the first `thinkClose`, if any. */
function traceTextOf(text: string, tags: Tags): string | undefined {
  const at = text.indexOf(tags.thinkClose);
  return at < 0 ? undefined : text.slice(0, at);
}

/** Running counts of one split. */
interface SplitTally {
  greedy: number;
  sampled: number;
  passed: number;
  followsRows: number;
  follows: number;
  readonly prior: TraceTally;
  readonly posterior: TraceTally;
}

/**
 * Measure the diagnostics of every split. Row seeds derive from `seed` and the batch offset, so
 * the result is a pure function of the model and the options. Throws when `samples` < 1.
 */
export async function baseDiagnostics(
  options: BaseDiagnosticsOptions,
): Promise<Record<string, SplitDiagnostics>> {
  const k = options.samples;
  if (!Number.isInteger(k) || k < 1) {
    throw new Error(`baseDiagnostics: samples must be a positive integer, got ${k}`);
  }
  const out: Record<string, SplitDiagnostics> = {};
  for (const [name, examples] of Object.entries(options.splits)) {
    out[name] = await splitDiagnostics(options, name, examples);
  }
  return out;
}

/** The diagnostics of one split, batch by batch. */
async function splitDiagnostics(
  options: BaseDiagnosticsOptions,
  name: string,
  examples: readonly Example[],
): Promise<SplitDiagnostics> {
  const k = options.samples;
  const withPosterior = new Set(options.posteriorSplits ?? ['hard']).has(name);
  const batch = options.batchSize ?? 16;
  const t: SplitTally = {
    greedy: 0,
    sampled: 0,
    passed: 0,
    followsRows: 0,
    follows: 0,
    prior: new TraceTally(),
    posterior: new TraceTally(),
  };
  for (let start = 0; start < examples.length; start += batch) {
    await tallyBatch(options, t, examples.slice(start, start + batch), start, withPosterior);
  }
  const n = examples.length;
  const priorStats = t.prior.stats();
  const posteriorStats = t.posterior.stats();
  return {
    questions: n,
    greedy: share(t.greedy, n),
    avgAtK: share(t.sampled, n * k),
    passAtK: share(t.passed, n),
    unsolvedAtK: n - t.passed,
    ...(priorStats !== undefined
      ? { prior: priorStats, answerFollowsTrace: share(t.follows, t.followsRows) }
      : {}),
    ...(posteriorStats !== undefined ? { posterior: posteriorStats } : {}),
  };
}

/** Greedy, k sampled responses and (on posterior splits) k posterior traces of one batch. */
async function tallyBatch(
  options: BaseDiagnosticsOptions,
  t: SplitTally,
  exs: readonly Example[],
  start: number,
  withPosterior: boolean,
): Promise<void> {
  const { policy, tokenizer, tags, samples: k } = options;
  const eos = tokenizer.eosId !== undefined ? { eosId: tokenizer.eosId } : {};
  const contexts: ExampleContexts[] = exs.map((e) =>
    buildContexts({ tokenizer, tags, question: e.question, answer: e.answer }),
  );
  const common = { contexts, maxNewTokens: options.maxNewTokens, tokenizer, tags, ...eos };
  const g = await sampleResponses(policy, {
    ...common,
    groupSize: 1,
    temperature: 0,
    seed: options.seed,
  });
  for (const r of g) if (isCorrect(r.extractedAnswer, exs[r.exampleIndex] as Example)) t.greedy++;
  const s = await sampleResponses(policy, {
    ...common,
    groupSize: k,
    temperature: options.temperature,
    seed: options.seed + start + 1,
  });
  const solved = new Set<number>();
  for (const r of s) {
    const ex = exs[r.exampleIndex] as Example;
    if (isCorrect(r.extractedAnswer, ex)) {
      t.sampled++;
      solved.add(r.exampleIndex);
    }
    const trace = traceTextOf(r.text, tags);
    t.prior.add(ex, trace);
    const check = checkerOf(ex);
    if (check !== undefined && trace !== undefined && r.extractedAnswer !== undefined) {
      const v = check(ex, trace);
      if (v.traceAnswer !== undefined) {
        t.followsRows++;
        // Same normalised answer: the verifier of an example whose answer is the trace's.
        if (isCorrect(r.extractedAnswer, { ...ex, answer: v.traceAnswer })) t.follows++;
      }
    }
  }
  t.passed += solved.size;
  if (!withPosterior) return;
  const traces = await sampleTraces(policy, {
    contexts,
    groupSize: k,
    sampledFromPrior: new Array<boolean>(exs.length * k).fill(false),
    temperature: options.temperature,
    maxTraceTokens: options.maxTraceTokens,
    seed: options.seed + 7919 * (start + 1),
    tokenizer,
    tags,
    ...eos,
  });
  for (const r of traces)
    t.posterior.add(exs[r.exampleIndex] as Example, traceTextOf(r.text, tags));
}

const pct = (s: Share): string => `${(100 * s.rate).toFixed(1)}% (${s.count}/${s.total})`;

/** One readable line per split and measure, for the terminal and the committed record. */
export function formatDiagnostics(d: Readonly<Record<string, SplitDiagnostics>>): string[] {
  const lines: string[] = [];
  for (const [name, s] of Object.entries(d)) {
    lines.push(
      `${name} (${s.questions} questions): greedy ${pct(s.greedy)}, avg@k ${pct(s.avgAtK)}, pass@k ${pct(s.passAtK)}, unsolved in k ${s.unsolvedAtK}`,
    );
    if (s.prior !== undefined) {
      lines.push(
        `  prior traces: step-correct ${pct(s.prior.stepCorrect)}, reach the answer ${pct(s.prior.reachesAnswer)}, closed ${pct(s.prior.closed)}`,
      );
    }
    if (s.answerFollowsTrace !== undefined) {
      lines.push(`  prior answer follows its trace ${pct(s.answerFollowsTrace)}`);
    }
    if (s.posterior !== undefined) {
      lines.push(
        `  posterior traces: step-correct ${pct(s.posterior.stepCorrect)}, reach the answer ${pct(s.posterior.reachesAnswer)}, closed ${pct(s.posterior.closed)}`,
      );
    }
  }
  return lines;
}
