/**
 * The structure of `results.json`: every evaluated (method, seed, variant) with its accuracies per
 * split and family, and its training curves. `report.md` and `report.html` are rebuilt from it.
 */

export interface Tally {
  readonly correct: number;
  readonly total: number;
}

export interface SplitResult {
  /** Greedy pass@1. */
  readonly greedy: Tally;
  /** Sampled avg@k: mean accuracy over k samples per question (`correct` counts samples). */
  readonly sampled: Tally & { readonly k: number };
  /** Greedy pass@1 per family and per domain. */
  readonly byFamily: Readonly<Record<string, Tally>>;
  readonly byDomain?: Readonly<Record<string, Tally>>;
  /** Sampled avg@k per family and per domain (`correct` counts samples, as in `sampled`). */
  readonly sampledByFamily?: Readonly<Record<string, Tally>>;
  readonly sampledByDomain?: Readonly<Record<string, Tally>>;
  /**
   * `eval/answer_logprob`: mean over questions of Σ_k log p(y_k | x, z, y_<k), the reference
   * answer in PRIOR-SCORE after the model's own greedy trace z (question-only context, spec §4).
   */
  readonly answerLogProb?: number;
  /** Questions that entered `answerLogProb` (those whose scored sequence fits the model). */
  readonly answerLogProbQuestions?: number;
}

/** `done`: trained and evaluated; `failed`: stopped on a non-finite value; `interrupted`: Ctrl-C. */
export type RunStatus = 'done' | 'failed' | 'interrupted';

export interface RunResult {
  /** `base`, `grpo`, `verifree`, `rlpr`, `covrl`, or a sweep label such as `covrl α=0.1`. */
  readonly label: string;
  readonly method: string;
  readonly seed: number;
  /** Overrides that distinguish a sweep variant (`{ 'covrl.alpha': 0.1 }`). */
  readonly variant: Readonly<Record<string, number | string | boolean>>;
  readonly splits: Readonly<Record<string, SplitResult>>;
  /** Per-step training metrics: `curves[key]` is aligned with `curves.step`. */
  readonly curves: Readonly<Record<string, readonly number[]>>;
  readonly runDir?: string;
  readonly seconds?: number;
  /** The run's own resolved config (absent for base evaluations and in older results files). */
  readonly config?: unknown;
  /** Absent in results written before runs had a status: `done`. */
  readonly status?: RunStatus;
  /** Why a run failed or stopped (the trainer's message, naming the term and step). */
  readonly reason?: string;
  /**
   * The base model the run started from (or, for `base`, the one evaluated): its directory and
   * `covrl-base.json` fingerprint (null without one). `compare` keeps a recorded run only when it
   * matches the base in use. Absent in older results files.
   */
  readonly base?: { readonly dir: string; readonly fingerprint: string | null };
}

/** Whether a run finished training and evaluation (only these enter the tables and plots). */
export const isDone = (run: RunResult): boolean => (run.status ?? 'done') === 'done';

export interface Results {
  readonly command: string;
  readonly createdAt: string;
  readonly covrlVersion: string;
  readonly backend: string;
  readonly config: unknown;
  /** Split names in display order, e.g. `in-domain`, `transfer`, `hard`. */
  readonly splits: readonly string[];
  readonly runs: readonly RunResult[];
  /**
   * How far the comparison got: results.json is rewritten after every run, so a partial file is a
   * valid report of the runs done so far. Absent in older files: complete.
   */
  readonly progress?: {
    readonly state: 'running' | 'interrupted' | 'complete';
    /** Runs planned (base evaluations included) and runs recorded so far. */
    readonly planned: number;
    readonly recorded: number;
  };
}

/** Validate the shape of a parsed results.json, naming the path of the first problem. */
export function checkResults(value: unknown, file: string): Results {
  const fail = (where: string, what: string): never => {
    throw new Error(`${file}: ${where}: ${what}; rebuild it with \`covrl compare\``);
  };
  if (typeof value !== 'object' || value === null) fail('top level', 'expected an object');
  const r = value as Record<string, unknown>;
  if (!Array.isArray(r['runs'])) fail('runs', 'expected an array');
  if (!Array.isArray(r['splits'])) fail('splits', 'expected an array of split names');
  (r['runs'] as unknown[]).forEach((run, i) => {
    if (typeof run !== 'object' || run === null) fail(`runs[${i}]`, 'expected an object');
    const o = run as Record<string, unknown>;
    for (const key of ['label', 'method'] as const) {
      if (typeof o[key] !== 'string') fail(`runs[${i}].${key}`, 'expected a string');
    }
    if (typeof o['seed'] !== 'number') fail(`runs[${i}].seed`, 'expected a number');
    if (typeof o['splits'] !== 'object' || o['splits'] === null)
      fail(`runs[${i}].splits`, 'expected an object');
    if (typeof o['curves'] !== 'object' || o['curves'] === null)
      fail(`runs[${i}].curves`, 'expected an object');
    if (
      o['status'] !== undefined &&
      !['done', 'failed', 'interrupted'].includes(o['status'] as string)
    )
      fail(`runs[${i}].status`, "expected 'done', 'failed' or 'interrupted'");
    const base = o['base'] as Record<string, unknown> | null | undefined;
    if (
      base !== undefined &&
      (typeof base !== 'object' ||
        base === null ||
        typeof base['dir'] !== 'string' ||
        (base['fingerprint'] !== null && typeof base['fingerprint'] !== 'string'))
    )
      fail(`runs[${i}].base`, 'expected { dir: string, fingerprint: string | null }');
  });
  return value as Results;
}
