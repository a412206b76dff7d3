/**
 * The structure of `results.json`: every evaluated (method, seed, variant) with its accuracies per
 * split and family, and its training curves. `report.md` and `report.html` are rebuilt from it.
 * {@link resultsDecoder} checks a file read back against this structure, naming the field.
 */
import {
  array,
  count,
  finite,
  integer,
  JsonFieldError,
  oneOf,
  record,
  shape,
  string,
  unknownValue,
} from '../util/json-schema.js';
import type { Decoder } from '../util/json-schema.js';
import { baseIdentityDecoder } from '../run/base-identity.js';

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

/**
 * What a run spent, summed over its logged steps (the `timing` of each step record): tokens
 * sampled, rollout rows, optimizer updates, and wall-clock seconds per phase.
 */
export interface RunCompute {
  readonly steps: number;
  readonly sampledTokens: number;
  readonly rows: number;
  readonly updates: number;
  readonly sampleSeconds: number;
  readonly oldScoreSeconds: number;
  readonly updateSeconds: number;
  readonly stepSeconds: number;
}

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
  /** Compute of the training steps (absent for base evaluations and in older results files). */
  readonly compute?: RunCompute;
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
    readonly state: ResultsState;
    /** Runs planned (base evaluations included) and runs recorded so far. */
    readonly planned: number;
    readonly recorded: number;
    /** For `aborted`: the error that stopped the comparison. */
    readonly error?: string;
  };
}

/**
 * Where a comparison stands: `running` (rewritten after every run), `interrupted` (Ctrl-C or
 * SIGTERM; rerun to continue), `aborted` (an error other than a failed run stopped it; `error`
 * says which), `complete`.
 */
export type ResultsState = 'running' | 'interrupted' | 'aborted' | 'complete';

const tally = shape({ correct: count, total: count });

const splitResult = shape(
  {
    greedy: tally,
    sampled: shape({ correct: count, total: count, k: count }),
    byFamily: record(tally),
  },
  {
    byDomain: record(tally),
    sampledByFamily: record(tally),
    sampledByDomain: record(tally),
    answerLogProb: finite,
    answerLogProbQuestions: count,
  },
);

/** A curve value: a number, or null where JSON could not hold a NaN. */
const curveValue: Decoder<number> = (v, at) => (v === null ? Number.NaN : finiteOrNaN(v, at));
const finiteOrNaN: Decoder<number> = (v, at) => {
  if (typeof v !== 'number')
    throw new JsonFieldError(at, `expected a number, got ${JSON.stringify(v)}`);
  return v;
};

const runResult = shape(
  {
    label: string,
    method: string,
    seed: integer,
    variant: record(unknownValue),
    splits: record(splitResult),
    curves: record(array(curveValue)),
  },
  {
    runDir: string,
    seconds: finite,
    config: unknownValue,
    status: oneOf('done', 'failed', 'interrupted'),
    reason: string,
    base: baseIdentityDecoder,
    compute: record(finite),
  },
);

/** Decoder of `results.json` (see {@link Results}). */
export const resultsDecoder: Decoder<Results> = (v, at) =>
  shape(
    {
      runs: array(runResult),
      splits: array(string),
      command: string,
      createdAt: string,
      covrlVersion: string,
      backend: string,
      config: unknownValue,
    },
    {
      progress: shape(
        {
          state: oneOf('running', 'interrupted', 'aborted', 'complete'),
          planned: count,
          recorded: count,
        },
        { error: string },
      ),
    },
  )(v, at) as unknown as Results;

/** Validate the shape of a parsed results.json, naming the file and the field of the first problem. */
export function checkResults(value: unknown, file: string): Results {
  try {
    return resultsDecoder(value, '');
  } catch (error) {
    if (error instanceof JsonFieldError) {
      throw new Error(`${file}: ${error.message}; rebuild it with \`covrl compare\``);
    }
    throw error;
  }
}
